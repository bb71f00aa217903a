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
    /// The limit for connections from `ip`.
    pub(crate) fn per_ip_limit(&self, ip: IpAddr) -> Option<usize> {
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
}
