//! A short round of the chaos driver (`examples/chaos.rs`) under `cargo
//! test`: well-behaved and hostile clients against one server for a few
//! seconds, then the checks that it lost no message, did not panic, hang or
//! leak, and shuts down.
//!
//! The example runs the driver longer, in release, with 1-second server
//! timeouts. Here the build is a debug one on a machine busy with other
//! tests, where a thread can wait its turn for over a second: the server's
//! timeouts are a little longer, so that they end only hostile clients.

#[path = "../examples/chaos.rs"]
#[allow(dead_code)]
mod chaos;

use std::time::Duration;

#[test]
fn server_under_chaos_loses_no_message_and_neither_panics_nor_hangs_nor_leaks() {
    let options = chaos::Options {
        duration: Duration::from_secs(3),
        clients: 8,
        hostile: 8,
        seed: 0x00c0_ffee_5eed,
        server: chaos::ServerLimits {
            write_timeout: Duration::from_secs(3),
            handshake_timeout: Duration::from_secs(3),
            close_timeout: Duration::from_secs(2),
            ping_interval: Duration::from_secs(1),
            ping_timeout: Duration::from_secs(3),
            ..chaos::ServerLimits::default()
        },
        news_interval: Duration::from_millis(10),
        max_news_size: 1024,
        max_echo_size: 16 * 1024,
        patience: Duration::from_secs(15),
        quiet: true,
        ..chaos::Options::default()
    };
    let report = chaos::run(options);
    println!("{report}");
    assert!(report.passed(), "{report}");
}
