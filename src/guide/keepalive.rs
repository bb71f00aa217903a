//! Keepalive: finding peers that are gone, and keeping proxies from cutting
//! connections that are only quiet (RFC 6455, section 5.5.2).
//!
//! # Why pings
//!
//! A peer that closes its end sends a FIN; one whose process crashes gets a
//! RST sent by its kernel. A peer whose cable is pulled, whose laptop
//! sleeps or whose NAT entry expires sends nothing at all: without a
//! timer, its worker would wait in `read` forever and its thread would never
//! come back to the pool. So the server pings: a client that has sent
//! nothing for [`ping_interval`](crate::server::ServerBuilder::ping_interval)
//! gets a ping, and one that then sends nothing (no pong, no other byte)
//! for [`ping_timeout`](crate::server::ServerBuilder::ping_timeout) is ended
//! with close code 1011. Browsers answer pings by themselves; so does every
//! conforming client, stdws's included (while it reads).
//!
//! | setting | default | effect |
//! |---|---|---|
//! | `ping_interval` | 20 s | a silent client is pinged after this long; `None` turns keepalive off |
//! | `ping_timeout` | 20 s | no byte within this long after the ping: the connection ends (1011) |
//! | `idle_timeout` | off | a client that sends no *message* for this long is closed with 1001 |
//! | `close_timeout` | 5 s | a peer that does not answer a close frame, or send its FIN after it |
//!
//! A dead peer is therefore found at most `ping_interval + ping_timeout`
//! (40 s by default) after the last byte it sent, and its worker returns to
//! the pool. Any byte counts as a sign of life, so a client in the middle of
//! sending one long frame is not ended, and a client that talks is never
//! pinged at all.
//!
//! The timers are kept by one housekeeper thread per server, not by the
//! workers (a worker blocked in `read` cannot watch a clock); it checks them
//! often enough for the shortest timeout set, and ends a connection by
//! shutting its socket down, which wakes its worker.
//! `tests/limits_and_timeouts.rs` checks each timer over real sockets with
//! short settings.
//!
//! # Slow readers and the ping timeout
//!
//! A ping queues behind whatever was sent before it. A client that reads
//! large amounts slowly may see the ping late and answer late: choose a
//! `ping_timeout` longer than such a client takes to read what the server
//! may have queued for it ([`max_queued_bytes`](crate::server::ServerBuilder::max_queued_bytes)
//! plus the kernel's buffers, up to several MiB on Linux).
//!
//! # Behind a proxy
//!
//! Reverse proxies cut connections that carry nothing for a while (nginx
//! after `proxy_read_timeout`, 60 s by default). The server's pings are
//! traffic, so a proxy whose timeout is longer than `ping_interval` never
//! sees an idle connection: the README's nginx configuration uses 60 s
//! against the default 20 s, and `.ci/nginx.sh` runs it.
//!
//! # The client side
//!
//! A stdws client does not ping by itself: it answers the server's pings
//! while it reads. To notice a server that has gone silent, give it a read
//! timeout ([`ClientBuilder::read_timeout`](crate::ClientBuilder::read_timeout)):
//! a read then fails with an error for which
//! [`Error::is_timeout`](crate::Error::is_timeout) is true, and the
//! connection stays usable, so the client can [`ping`](crate::WebSocket::ping)
//! and read again before giving up.
