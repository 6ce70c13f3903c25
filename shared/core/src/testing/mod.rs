//! In-memory adapters of every port, for fast tests of the use cases without AWS or HTTP:
//! [`MemoryState`] (cursors, leases, OAuth states), [`MemorySink`] (objects), [`MemorySource`]
//! (scripted events), [`MemorySecret`] and [`StaticIssuer`] (an identity's secret and its token
//! endpoint), [`ManualClock`]. They share one [`Faults`], which counts every port call and
//! fails or "crashes" the ones a test names; [`World`] wires a [`crate::Collector`] over them.
//!
//! Behind the `testing` feature: crates above the core may test their own use cases on them.

mod clock;
mod faults;
mod secret;
mod sink;
mod source;
mod state;
mod world;

pub use clock::ManualClock;
pub use faults::{Effect, Fault, Faults, Injected, Trigger};
pub use secret::{MemorySecret, StaticIssuer, grant};
pub use sink::{MemorySink, MemoryUpload, StoredObject};
pub use source::{MemorySource, Order, PagingMode, ScriptedEvent};
pub use state::MemoryState;
pub use world::{MemoryCollector, ORG_ID, World, decode_lines, test_settings};

use std::sync::{Mutex, MutexGuard, PoisonError};

/// A test that panicked while holding a lock has failed already; the others go on.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
