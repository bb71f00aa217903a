//! The fixed worker pool: at most `workers` threads, each serving one
//! connection at a time from its handshake to its close.
//!
//! ```text
//!   acceptor --submit(conn)--> [ idle worker? hand it over            ]
//!                              [ fewer than `workers` threads? start one ]
//!                              [ otherwise: Full, the caller answers 503 ]
//! ```
//!
//! Threads are started on demand, the first time every existing one is busy,
//! and then kept until the pool stops: the pool never grows past its size (a
//! flood of connections costs at most `workers` threads, unlike an elastic
//! pool), and a server that never sees many clients never pays for many
//! threads. A connection never waits in a queue behind busy workers: either
//! a worker takes it at once, or it is refused at once.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};

use super::sync::lock;

/// What a worker does with each job (for the server: serve a connection).
type Run<J> = Arc<dyn Fn(J) + Send + Sync>;

/// Why a job was not taken; the job comes back so the caller can answer it.
pub(crate) enum Refused<Job> {
    /// Every worker is busy and the pool is at its size.
    Full(Job),
    /// The pool is stopping.
    Stopped(Job),
    /// The operating system would not start another thread; the job (and
    /// the connection it owned) has been dropped.
    SpawnFailed(io::Error),
}

struct State<Job> {
    jobs: VecDeque<Job>,
    idle: usize,
    threads: usize,
    stopping: bool,
}

struct Shared<Job> {
    state: Mutex<State<Job>>,
    work: Condvar,
    run: Run<Job>,
}

/// A fixed-size pool of worker threads running jobs of type `Job`.
pub(crate) struct WorkerPool<Job> {
    shared: Arc<Shared<Job>>,
    size: usize,
    stack_size: usize,
    name: String,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl<Job: Send + 'static> WorkerPool<Job> {
    /// A pool of at most `size` threads, each running `run` on the jobs it takes.
    pub(crate) fn new(
        size: usize,
        stack_size: usize,
        name: &str,
        run: impl Fn(Job) + Send + Sync + 'static,
    ) -> WorkerPool<Job> {
        WorkerPool {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    jobs: VecDeque::new(),
                    idle: 0,
                    threads: 0,
                    stopping: false,
                }),
                work: Condvar::new(),
                run: Arc::new(run),
            }),
            size: size.max(1),
            stack_size,
            name: name.to_owned(),
            handles: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<Job>> {
        lock(&self.shared.state)
    }

    /// Hands `job` to an idle worker, or to a new one if the pool has room.
    pub(crate) fn submit(&self, job: Job) -> Result<(), Refused<Job>> {
        let mut state = self.lock();
        if state.stopping {
            return Err(Refused::Stopped(job));
        }
        if state.idle > state.jobs.len() {
            state.jobs.push_back(job);
            drop(state);
            self.shared.work.notify_one();
            return Ok(());
        }
        if state.threads >= self.size {
            return Err(Refused::Full(job));
        }
        state.threads += 1;
        let number = state.threads;
        drop(state);
        let shared = Arc::clone(&self.shared);
        let spawned = thread::Builder::new()
            .name(format!("{}-{number}", self.name))
            .stack_size(self.stack_size)
            .spawn(move || worker_loop(shared, job));
        match spawned {
            Ok(handle) => {
                let mut handles = lock(&self.handles);
                handles.retain(|h| !h.is_finished());
                handles.push(handle);
                Ok(())
            }
            Err(e) => {
                self.lock().threads -= 1;
                Err(Refused::SpawnFailed(e))
            }
        }
    }

    /// The number of worker threads started.
    pub(crate) fn threads(&self) -> usize {
        self.lock().threads
    }

    /// The number of workers waiting for a connection.
    #[cfg(test)]
    fn idle(&self) -> usize {
        let state = self.lock();
        state.idle.saturating_sub(state.jobs.len())
    }

    /// Lets idle workers exit once the queue is empty, and waits for every
    /// worker to finish its current connection and exit.
    pub(crate) fn stop_and_join(&self) -> io::Result<()> {
        self.lock().stopping = true;
        self.shared.work.notify_all();
        let handles = std::mem::take(&mut *lock(&self.handles));
        for handle in handles {
            if handle.join().is_err() {
                return Err(io::Error::other("a worker thread panicked"));
            }
        }
        Ok(())
    }
}

fn worker_loop<Job>(shared: Arc<Shared<Job>>, first: Job) {
    run_job(&shared.run, first);
    loop {
        let job = {
            let mut state = lock(&shared.state);
            loop {
                if let Some(job) = state.jobs.pop_front() {
                    break job;
                }
                if state.stopping {
                    state.threads -= 1;
                    return;
                }
                state.idle += 1;
                state = shared.work.wait(state).unwrap_or_else(|e| e.into_inner());
                state.idle -= 1;
            }
        };
        run_job(&shared.run, job);
    }
}

/// Runs a job; a panic that escaped it (user code is already guarded) must
/// not shrink the pool.
fn run_job<Job>(run: &Run<Job>, job: Job) {
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(job))) {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        eprintln!("stdws: a connection's worker caught a panic: {what}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn the_pool_never_grows_past_its_size_and_refuses_when_full() {
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Mutex::new(release_rx);
        let (started_tx, started_rx) = mpsc::channel();
        let started_tx = Mutex::new(started_tx);
        let pool = WorkerPool::new(2, 64 * 1024, "test", move |n: u32| {
            lock(&started_tx).send(n).unwrap();
            let _ = lock(&release_rx).recv();
        });
        for n in 0..2 {
            assert!(pool.submit(n).is_ok());
        }
        for _ in 0..2 {
            started_rx
                .recv_timeout(std::time::Duration::from_secs(5))
                .unwrap();
        }
        assert!(matches!(pool.submit(7), Err(Refused::Full(7))));
        assert_eq!(pool.threads(), 2);
        release_tx.send(()).unwrap();
        release_tx.send(()).unwrap();
        pool.stop_and_join().unwrap();
        assert_eq!(pool.threads(), 0);
    }

    #[test]
    fn a_panicking_job_leaves_its_worker_alive() {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let pool = WorkerPool::new(1, 64 * 1024, "test", move |n: u32| {
            if n == 0 {
                panic!("boom");
            }
            lock(&tx).send(n).unwrap();
        });
        assert!(pool.submit(0).is_ok());
        // Wait for the worker to be idle again, then give it more work.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while pool.idle() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "worker never came back"
            );
            thread::yield_now();
        }
        assert!(pool.submit(42).is_ok());
        assert_eq!(
            rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap(),
            42
        );
        assert_eq!(pool.threads(), 1);
        pool.stop_and_join().unwrap();
    }
}
