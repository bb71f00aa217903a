//! Locking that survives a panic: every structure the server shares stays
//! consistent between statements that can panic, so a poisoned lock (a
//! thread panicked while holding it) is taken over, not propagated. The
//! alternative would let one panicking handler take every other client of
//! the server down with it.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, recovering it if a panicking thread poisoned it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
