//! The registry lock (`.wharf/lock`): shared for readers, exclusive for writers, held
//! with `flock` for the life of the guard. Contended acquisition tries first, tells the
//! caller it is waiting (so the CLI can print "waiting for lock …"), then blocks, unless
//! the caller asked not to wait.

use std::fs::{File, TryLockError};
use std::path::Path;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Shared,
    Exclusive,
}

/// A held lock; released on drop.
#[derive(Debug)]
pub struct LockGuard {
    _file: File,
}

/// Acquires the lock at `path` (creating the file). `on_wait` is called once if another
/// process holds it and `wait` is true; with `wait` false a held lock is an error.
pub fn acquire(path: &Path, mode: LockMode, wait: bool, on_wait: &dyn Fn(&Path)) -> Result<LockGuard> {
    // No link followed, no FIFO opened (it would block): see store::safe.
    let file = super::safe::open_rw_create(path)?;
    let attempt = match mode {
        LockMode::Shared => file.try_lock_shared(),
        LockMode::Exclusive => file.try_lock(),
    };
    match attempt {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) if wait => {
            on_wait(path);
            match mode {
                LockMode::Shared => file.lock_shared(),
                LockMode::Exclusive => file.lock(),
            }
            .map_err(Error::io("lock", path))?;
        }
        Err(TryLockError::WouldBlock) => return Err(Error::LockBusy { path: path.to_path_buf() }),
        Err(TryLockError::Error(e)) => return Err(Error::Io { action: "lock", path: path.to_path_buf(), source: e }),
    }
    Ok(LockGuard { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn shared_coexist_exclusive_excludes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        let waited = Cell::new(false);
        let note = |_: &Path| waited.set(true);
        let a = acquire(&p, LockMode::Shared, false, &note).unwrap();
        let _b = acquire(&p, LockMode::Shared, false, &note).unwrap();
        assert!(matches!(acquire(&p, LockMode::Exclusive, false, &note), Err(Error::LockBusy { .. })));
        drop(a);
        drop(_b);
        let _c = acquire(&p, LockMode::Exclusive, false, &note).unwrap();
        assert!(matches!(acquire(&p, LockMode::Shared, false, &note), Err(Error::LockBusy { .. })));
        assert!(!waited.get());
    }
}
