//! File descriptors: the limit a process has, and the spare one the
//! acceptor keeps so that running out of them is answered, not a hang.
//!
//! Each connection takes one descriptor. When none is left, `accept` fails
//! with `EMFILE` (or `ENFILE` for the whole system) and the connection stays
//! in the kernel's backlog, where the client sees nothing at all: no 503, no
//! reset, until its own timeout. The way nginx and libev deal with it is to
//! hold one descriptor in reserve: on `EMFILE`, close the spare, accept the
//! waiting connection with the freed slot, answer it (`503`, as for a full
//! pool) and close it, then take the spare again.

use std::fs::File;
use std::io;

/// `EMFILE` and `ENFILE` on Linux and the BSDs.
const EMFILE: i32 = 24;
const ENFILE: i32 = 23;

/// Whether an `accept` error means the process or the system is out of
/// descriptors.
pub(crate) fn is_out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(EMFILE | ENFILE))
}

/// One descriptor held in reserve (an open `/dev/null`, or nothing on a
/// system without it).
#[derive(Debug)]
pub(crate) struct Spare(Option<File>);

impl Spare {
    pub(crate) fn take() -> Spare {
        Spare(File::open("/dev/null").ok())
    }

    /// Gives the descriptor back to the process for one `accept`; `false` if
    /// there was none to give.
    pub(crate) fn release(&mut self) -> bool {
        self.0.take().is_some()
    }

    /// Takes a descriptor in reserve again, if one is free.
    pub(crate) fn restore(&mut self) {
        if self.0.is_none() {
            self.0 = File::open("/dev/null").ok();
        }
    }
}

/// The most descriptors this process may open (the soft `RLIMIT_NOFILE`),
/// read from `/proc/self/limits`; `None` where that file does not exist or
/// says "unlimited".
///
/// A server needs one per connection plus a few of its own, so a pool of
/// more workers than this can never be filled:
///
/// ```
/// let workers = stdws::server::open_file_limit()
///     .map_or(10_000, |limit| limit.saturating_sub(32).min(10_000));
/// assert!(workers > 0);
/// ```
pub fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_file_limit(&limits)
}

fn parse_open_file_limit(limits: &str) -> Option<usize> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    // "Max open files            1024                 1048576              files"
    let soft = line["Max open files".len()..].split_whitespace().next()?;
    soft.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_read_from_proc_self_limits() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max cpu time              unlimited            unlimited            seconds   \n\
                    Max open files            1024                 1048576              files     \n";
        assert_eq!(parse_open_file_limit(text), Some(1024));
        let unlimited = text.replace("1024 ", "unlimited ");
        assert_eq!(parse_open_file_limit(&unlimited), None);
        assert_eq!(parse_open_file_limit("nothing here"), None);
    }

    #[test]
    fn this_process_has_a_limit_or_says_it_has_none() {
        if std::path::Path::new("/proc/self/limits").exists() {
            assert!(open_file_limit().is_some_and(|n| n > 0));
        }
    }

    #[test]
    fn a_spare_can_be_released_and_restored() {
        let mut spare = Spare::take();
        assert!(spare.release());
        assert!(!spare.release());
        spare.restore();
        assert!(spare.release());
    }
}
