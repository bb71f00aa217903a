//! The server-wide memory budget: one number that bounds what clients can
//! make the server hold, in messages still arriving and in outbound queues
//! together.
//!
//! Per-connection limits (`max_message_size`, `max_queued_bytes`) bound one
//! client; multiplied by thousands of workers they allow far more than a
//! machine has (1,000 workers x 1 MiB messages x 2 directions is 2 GiB).
//! The budget is the sum's bound. None of the peers in the benchmark has
//! one. Its rules:
//!
//! | event | rule |
//! |---|---|
//! | a message grows (worker, before each read) | its bytes are charged; once the total is over the budget, a message of [`LARGE`] bytes or more is refused: the connection is closed with 1013 (try again later) and its bytes are let go |
//! | a frame is queued or written (queue) | charged when queued, discharged when written or dropped; a queue that ends gives back what it still held |
//! | the housekeeper's tick, total over the budget | the largest queues are cut (close 1013) until what remains fits |
//!
//! Small messages are never refused: a chat line is not what exhausts
//! memory, and refusing it would punish the well-behaved clients.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Messages of this size or more are the ones refused when the budget is
/// spent.
pub(crate) const LARGE: usize = 64 * 1024;

/// The default when the machine's memory cannot be read.
const FALLBACK: usize = 1 << 30;

/// The least default budget: enough for a few hundred clients at the
/// default limits.
const FLOOR: usize = 64 << 20;

/// Bytes held for clients, against a limit.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: usize,
    held: AtomicUsize,
}

impl Budget {
    pub(crate) fn new(limit: usize) -> Budget {
        Budget {
            limit,
            held: AtomicUsize::new(0),
        }
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    pub(crate) fn charge(&self, bytes: usize) {
        self.held.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn discharge(&self, bytes: usize) {
        // Saturating: a discharge never takes the count below zero, whatever
        // the order in which threads report.
        let _ = self
            .held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                Some(held.saturating_sub(bytes))
            });
    }

    /// Moves a holder's charge from `before` to `now` bytes.
    pub(crate) fn adjust(&self, before: usize, now: usize) {
        if now > before {
            self.charge(now - before);
        } else {
            self.discharge(before - now);
        }
    }

    pub(crate) fn is_over(&self) -> bool {
        self.held() > self.limit
    }

    /// Whether a message of `bytes` so far must be refused now.
    pub(crate) fn refuses(&self, bytes: usize) -> bool {
        bytes >= LARGE && self.is_over()
    }

    /// How many bytes must be let go to fit again.
    pub(crate) fn excess(&self) -> usize {
        self.held().saturating_sub(self.limit)
    }
}

/// The default budget: a quarter of the machine's memory (as Linux's
/// `/proc/meminfo` reports it), at least 64 MiB; 1 GiB where it cannot be
/// read.
pub(crate) fn default_limit() -> usize {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| mem_total(&text))
        .map_or(FALLBACK, |total| (total / 4).max(FLOOR))
}

/// `MemTotal` in bytes, from the text of `/proc/meminfo`.
fn mem_total(meminfo: &str) -> Option<usize> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut words = line.split_whitespace().skip(1);
    let kib: usize = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => kib.checked_mul(1024),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_and_discharges_add_up_and_never_go_below_zero() {
        let budget = Budget::new(100);
        budget.charge(60);
        budget.adjust(0, 30);
        assert_eq!(budget.held(), 90);
        assert!(!budget.is_over());
        budget.adjust(30, 50);
        assert_eq!((budget.held(), budget.excess()), (110, 10));
        assert!(budget.is_over());
        budget.discharge(500);
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn only_large_messages_are_refused_and_only_over_the_budget() {
        let budget = Budget::new(LARGE);
        assert!(!budget.refuses(LARGE), "within the budget");
        budget.charge(LARGE + 1);
        assert!(budget.refuses(LARGE));
        assert!(!budget.refuses(LARGE - 1), "a small message always passes");
    }

    #[test]
    fn the_default_is_a_quarter_of_memtotal() {
        let meminfo = "MemTotal:       25165824 kB\nMemFree:         1000 kB\n";
        assert_eq!(mem_total(meminfo), Some(25_165_824 * 1024));
        assert_eq!(mem_total("MemTotal: 12 MB\n"), None);
        assert_eq!(mem_total("nothing here"), None);
        assert!(default_limit() >= FLOOR);
    }
}
