//! What every thread of one server shares: its settings, router, client
//! registry, worker pool, housekeeper list and lifecycle flags. Plain data:
//! the code that uses it lives in the modules that own each concern, so the
//! hub imports none of them back.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::backlog::Backlog;
use super::pool::WorkerPool;
use super::queue::SlowClientPolicy;
use super::registry::Registry;
use super::router::Router;
use super::shared::ConnShared;
use super::sync::lock;
use crate::protocol::Limits;
use crate::protocol::extension::Compression;
use crate::protocol::http::HeadLimits;
use crate::trace::Tracer;

/// A server's settings, with the defaults documented on
/// [`ServerBuilder`](super::ServerBuilder).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) workers: usize,
    pub(crate) worker_stack_size: usize,
    pub(crate) handshake_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) ping_interval: Option<Duration>,
    pub(crate) ping_timeout: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_queued_bytes: usize,
    pub(crate) slow_client_policy: SlowClientPolicy,
    pub(crate) max_connections_per_ip: Option<usize>,
    pub(crate) limits: Limits,
    pub(crate) head_limits: HeadLimits,
    pub(crate) tracer: Tracer,
    pub(crate) compression: Compression,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            workers: 1024,
            worker_stack_size: 256 * 1024,
            handshake_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(5),
            close_timeout: Duration::from_secs(5),
            ping_interval: Some(Duration::from_secs(20)),
            ping_timeout: Duration::from_secs(20),
            idle_timeout: None,
            max_queued_bytes: 1024 * 1024,
            slow_client_policy: SlowClientPolicy::Disconnect,
            max_connections_per_ip: None,
            limits: Limits::default(),
            head_limits: HeadLimits::default(),
            tracer: Tracer::from_env(),
            compression: Compression::disabled(),
        }
    }
}

/// An accepted TCP connection on its way to a worker.
pub(crate) struct Accepted {
    pub(crate) hub: Arc<Hub>,
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    pub(crate) accepted_at: Instant,
}

/// The threads a running server owns, joined when it stops.
#[derive(Default)]
pub(crate) struct Threads {
    pub(crate) acceptor: Option<JoinHandle<()>>,
    pub(crate) housekeeper: Option<JoinHandle<()>>,
}

/// The lifecycle of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Running,
    ShuttingDown,
    Stopped,
}

/// Running totals, for [`ServerHandle::stats`](super::ServerHandle::stats).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) refused_busy: AtomicU64,
    pub(crate) refused_denied: AtomicU64,
    pub(crate) refused_per_ip: AtomicU64,
    pub(crate) opened: AtomicU64,
    pub(crate) closed: AtomicU64,
    /// Connections that ended without a closing handshake after a shutdown
    /// began: a shutdown with any is not clean.
    pub(crate) unclean_in_shutdown: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Everything one server's threads share.
pub(crate) struct Hub {
    pub(crate) settings: Settings,
    pub(crate) router: Router,
    pub(crate) registry: Registry,
    pub(crate) pool: WorkerPool<Accepted>,
    pub(crate) backlog: Backlog,
    pub(crate) local_addr: SocketAddr,
    pub(crate) epoch: Instant,
    pub(crate) accepting: AtomicBool,
    pub(crate) housekeeper_stop: AtomicBool,
    pub(crate) phase: Mutex<Phase>,
    pub(crate) phase_changed: Condvar,
    pub(crate) threads: Mutex<Threads>,
    pub(crate) counters: Counters,
    /// Connections that have left the registry and are waiting for their
    /// peer's FIN (see `worker::finish_tcp`): a shutdown cuts them short.
    pub(crate) finishing: Mutex<HashMap<u64, Arc<ConnShared>>>,
}

impl Hub {
    /// A hub whose `pool` serves its connections.
    pub(crate) fn new(
        settings: Settings,
        router: Router,
        local_addr: SocketAddr,
        pool: WorkerPool<Accepted>,
    ) -> Hub {
        Hub {
            settings,
            router,
            registry: Registry::default(),
            pool,
            backlog: Backlog::default(),
            local_addr,
            epoch: Instant::now(),
            accepting: AtomicBool::new(true),
            housekeeper_stop: AtomicBool::new(false),
            phase: Mutex::new(Phase::Running),
            phase_changed: Condvar::new(),
            threads: Mutex::new(Threads::default()),
            counters: Counters::default(),
            finishing: Mutex::new(HashMap::new()),
        }
    }

    /// Milliseconds since the server started, never 0 (0 means "never").
    pub(crate) fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    pub(crate) fn phase(&self) -> Phase {
        *lock(&self.phase)
    }

    pub(crate) fn set_phase(&self, phase: Phase) {
        *lock(&self.phase) = phase;
        self.phase_changed.notify_all();
    }
}
