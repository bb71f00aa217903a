//! What every thread of one server shares: its settings, router, client
//! registry, worker pool, housekeeper list and lifecycle flags. Plain data:
//! the code that uses it lives in the modules that own each concern, so the
//! hub imports none of them back.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::backlog::Backlog;
use super::forwarded::TrustedProxies;
use super::pool::WorkerPool;
use super::queue::SlowClientPolicy;
use super::registry::{Registry, RoomCaps};
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
    pub(crate) max_connections_per_ip: PerIp,
    pub(crate) room_caps: RoomCaps,
    pub(crate) limits: Limits,
    pub(crate) head_limits: HeadLimits,
    pub(crate) tracer: Tracer,
    /// The Redis backplane's settings (`None`: local only).
    pub(crate) backplane: Option<crate::backplane::Config>,
    /// This node's number in client ids (0: local only, ids unchanged).
    pub(crate) node_id: u16,
    pub(crate) compression: Compression,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` headers are believed.
    pub(crate) trusted_proxies: TrustedProxies,
    /// The server-wide bound on bytes held for clients (see `budget`).
    pub(crate) memory_budget: usize,
    /// Run when the server begins to stop (see `ServerBuilder::on_stop`).
    pub(crate) stop_hooks: StopHooks,
}

/// What runs when the server begins to stop.
#[derive(Clone, Default)]
pub(crate) struct StopHooks(pub(crate) Vec<Arc<dyn Fn() + Send + Sync>>);

impl std::fmt::Debug for StopHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} stop hooks", self.0.len())
    }
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
            max_connections_per_ip: PerIp::Default,
            room_caps: RoomCaps::default(),
            limits: Limits::default(),
            head_limits: HeadLimits::default(),
            tracer: Tracer::from_env(),
            backplane: None,
            node_id: 0,
            compression: Compression::disabled(),
            trusted_proxies: TrustedProxies::default(),
            memory_budget: super::budget::default_limit(),
            stop_hooks: StopHooks::default(),
        }
    }
}

/// How many connections one address may hold at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PerIp {
    /// A quarter of the workers, so that one address cannot take the whole
    /// pool; loopback addresses are exempt, since a reverse proxy on the
    /// same machine brings every client from one of them.
    Default,
    /// What the user set (`None`: no limit), for every address.
    Set(Option<usize>),
}

impl Settings {
    /// The limit for connections from `ip`. A trusted proxy brings many
    /// clients over its own address: the limit applies to each of them,
    /// by the address it forwards, not to the proxy.
    pub(crate) fn per_ip_limit(&self, ip: IpAddr) -> Option<usize> {
        if self.trusted_proxies.contains(ip) {
            return None;
        }
        match self.max_connections_per_ip {
            PerIp::Default if ip.is_loopback() => None,
            PerIp::Default => Some((self.workers / 4).max(1)),
            PerIp::Set(limit) => limit,
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
    pub(crate) refused_handshake: AtomicU64,
    pub(crate) refused_origin: AtomicU64,
    pub(crate) refused_by_hook: AtomicU64,
    pub(crate) over_budget: AtomicU64,
    pub(crate) http_requests: AtomicU64,
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

/// At most this many log lines a second: a flood of refusals must not
/// become a flood of writes to standard error.
const LOG_LINES_PER_SECOND: u64 = 10;

/// How many lines were written in the current second, and which second.
#[derive(Default)]
pub(crate) struct LogBudget {
    second: AtomicU64,
    lines: AtomicU64,
    suppressed: AtomicU64,
}

impl LogBudget {
    /// Whether a line may be written in second `now_s`, and how many were
    /// suppressed before it (to say so once the budget allows again).
    fn take(&self, now_s: u64) -> Option<u64> {
        if self.second.swap(now_s, Ordering::Relaxed) != now_s {
            self.lines.store(0, Ordering::Relaxed);
        }
        if self.lines.fetch_add(1, Ordering::Relaxed) < LOG_LINES_PER_SECOND {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod log_tests {
    use super::*;

    #[test]
    fn the_budget_allows_ten_lines_a_second_and_counts_the_rest() {
        let budget = LogBudget::default();
        for _ in 0..LOG_LINES_PER_SECOND {
            assert_eq!(budget.take(5), Some(0));
        }
        assert_eq!(budget.take(5), None);
        assert_eq!(budget.take(5), None);
        assert_eq!(
            budget.take(6),
            Some(2),
            "the next second says what was lost"
        );
        assert_eq!(budget.take(6), Some(0));
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
    /// The close a drain sends every client, set as the phase leaves
    /// `Running`: a client registered after the drain listed its clients
    /// takes it from here (see `worker::handshake`).
    pub(crate) farewell: Mutex<Option<(crate::protocol::close::CloseCode, &'static str)>>,
    pub(crate) phase_changed: Condvar,
    pub(crate) threads: Mutex<Threads>,
    pub(crate) counters: Counters,
    pub(crate) log_budget: LogBudget,
    /// Bytes held for clients, server-wide, against `memory_budget`.
    pub(crate) memory: Arc<super::budget::Budget>,
    /// Connections that have left the registry and are waiting for their
    /// peer's FIN (see `worker::finish_tcp`): a shutdown cuts them short.
    pub(crate) finishing: Mutex<HashMap<u64, Arc<ConnShared>>>,
    /// Every socket a worker is serving, from the TCP accept on (by the
    /// address of its `Arc`): a stop cuts those still open at its end,
    /// such as a handshake that is still arriving, which would otherwise
    /// hold its worker, and the stop, until the handshake timeout. `None`
    /// once the stop has cut them: a worker that takes a connection after
    /// that (accepted just before the stop) cuts it itself.
    pub(crate) serving: Mutex<Option<HashMap<usize, Arc<TcpStream>>>>,
    /// Requests inside an HTTP service now (see `keepalive`).
    pub(crate) in_service: std::sync::atomic::AtomicUsize,
    /// The Redis backplane, once started (never, for a local-only server).
    pub(crate) backplane: OnceLock<crate::backplane::Redis>,
}

impl Hub {
    /// A hub whose `pool` serves its connections.
    pub(crate) fn new(
        settings: Settings,
        router: Router,
        local_addr: SocketAddr,
        pool: WorkerPool<Accepted>,
    ) -> Hub {
        let memory = Arc::new(super::budget::Budget::new(settings.memory_budget));
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
            farewell: Mutex::new(None),
            phase_changed: Condvar::new(),
            threads: Mutex::new(Threads::default()),
            counters: Counters::default(),
            log_budget: LogBudget::default(),
            memory,
            finishing: Mutex::new(HashMap::new()),
            serving: Mutex::new(Some(HashMap::new())),
            in_service: std::sync::atomic::AtomicUsize::new(0),
            backplane: OnceLock::new(),
        }
    }

    /// The id of the connection numbered `local` in this process: unique
    /// across the nodes of a backplane, since each has its node id in it.
    pub(crate) fn client_id(&self, local: u64) -> u64 {
        // The backplane's id, which moves if another node holds it.
        let node = self
            .backplane
            .get()
            .map_or(self.settings.node_id, |redis| redis.node_id());
        crate::backplane::client_id(node, local)
    }

    /// Milliseconds since the server started, never 0 (0 means "never").
    pub(crate) fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// Writes one line to standard error, `stdws: ` first, within the log
    /// budget.
    pub(crate) fn log(&self, line: std::fmt::Arguments<'_>) {
        if let Some(suppressed) = self.log_budget.take(self.epoch.elapsed().as_secs()) {
            if suppressed > 0 {
                eprintln!(
                    "stdws: ({suppressed} log lines suppressed: more than {LOG_LINES_PER_SECOND} a second)"
                );
            }
            eprintln!("stdws: {line}");
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        *lock(&self.phase)
    }

    pub(crate) fn set_phase(&self, phase: Phase) {
        *lock(&self.phase) = phase;
        self.phase_changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_default_one_address_may_hold_a_quarter_of_the_pool_except_loopback() {
        let settings = Settings {
            workers: 1000,
            ..Settings::default()
        };
        let remote: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(settings.per_ip_limit(remote), Some(250));
        assert_eq!(settings.per_ip_limit("::1".parse().unwrap()), None);
        assert_eq!(settings.per_ip_limit("127.0.0.1".parse().unwrap()), None);
        let tiny = Settings {
            workers: 2,
            ..Settings::default()
        };
        assert_eq!(tiny.per_ip_limit(remote), Some(1));
    }

    #[test]
    fn a_limit_set_by_the_user_applies_to_every_address() {
        let set = Settings {
            max_connections_per_ip: PerIp::Set(Some(3)),
            ..Settings::default()
        };
        assert_eq!(set.per_ip_limit("127.0.0.1".parse().unwrap()), Some(3));
        let off = Settings {
            max_connections_per_ip: PerIp::Set(None),
            ..Settings::default()
        };
        assert_eq!(off.per_ip_limit("203.0.113.7".parse().unwrap()), None);
    }

    #[test]
    fn trusted_proxies_are_exempt_and_the_clients_they_forward_are_not() {
        let settings = Settings {
            max_connections_per_ip: PerIp::Set(Some(3)),
            trusted_proxies: TrustedProxies::parse(["10.0.0.0/8"]).unwrap(),
            ..Settings::default()
        };
        assert_eq!(settings.per_ip_limit("10.1.2.3".parse().unwrap()), None);
        assert_eq!(
            settings.per_ip_limit("203.0.113.7".parse().unwrap()),
            Some(3)
        );
    }
}
