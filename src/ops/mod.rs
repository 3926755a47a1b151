//! One module per user-visible operation. Each takes an open registry, `now` (never the
//! clock: the CLI reads it, or takes `--as-of`) and typed options, and returns a
//! serialisable report; it prints nothing. Destructive operations build a plan first and
//! apply it second, so `--dry-run` is the plan alone.

pub mod add;
pub mod artifact;
pub mod attach;
pub mod bundle;
pub mod config;
pub mod delete;
pub mod export;
pub mod export_files;
pub mod gc;
pub mod import;
pub mod init;
pub mod inspect;
pub mod inventory;
pub mod listing;
pub mod locking;
pub mod progress;
pub mod pull;
pub mod purge;
pub mod push;
pub mod sign;
pub mod signatures;
pub mod sweep;
pub mod sync;
pub mod tagging;
pub mod trash;
pub mod verify;

#[cfg(test)]
mod scale_tests;

use std::path::Path;

use crate::error::Result;
use crate::model::Timestamp;
use crate::registry::{LockWait, Registry};
use crate::store::LockGuard;

/// What every operation needs besides its own options.
pub struct Ctx<'a> {
    pub registry: &'a Registry,
    pub now: Timestamp,
    pub lock_wait: LockWait<'a>,
    /// Show progress bars on stderr (the CLI decides: a terminal, and not --quiet).
    pub progress: bool,
}

impl<'a> Ctx<'a> {
    pub fn new(registry: &'a Registry, now: Timestamp, on_wait: &'a dyn Fn(&Path)) -> Ctx<'a> {
        Ctx { registry, now, lock_wait: LockWait { wait: true, on_wait }, progress: false }
    }

    /// The shared registry lock, for operations that only read.
    pub fn read_lock(&self) -> Result<Option<LockGuard>> {
        self.registry.lock_shared(&self.lock_wait)
    }

    /// A fresh staging area owned by this process, created under the shared registry
    /// lock so that gc (exclusive) never sees it between its mkdir and its owner lock,
    /// when it would look dead (issue 8, E22). Every operation that stages blobs (import,
    /// pull, add, attach) makes its area here. Call without holding the registry lock.
    pub fn create_staging(&self) -> Result<crate::store::Staging> {
        let _shared = self.read_lock()?;
        crate::store::Staging::create(&self.registry.staging_root())
    }

    /// The exclusive registry lock, for operations that change anything.
    pub fn write_lock(&self) -> Result<LockGuard> {
        self.registry.lock_exclusive(&self.lock_wait)
    }
}
