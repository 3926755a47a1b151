//! Staging areas (`.wharf/staging/<id>/`): where a process writes blobs that nothing
//! references yet. Each area holds an `owner` file flock-held exclusively by its process
//! for as long as the [`Staging`] value lives, so a concurrent cleaner can tell a live
//! import (lock held) from the leftovers of a dead one (lock free) and never takes the
//! former. Dropping a `Staging` removes its directory.

use std::collections::HashSet;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use super::blobs::BlobStore;
use super::fs::{FileKind, create_dir_all_durable};
use crate::error::{Error, Result};
use crate::model::{Digest, Document};

pub const OWNER_FILE: &str = "owner";

/// A staging area owned by this process.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    _owner: File,
}

impl Staging {
    /// Creates a fresh area under `staging_root` and takes ownership of it.
    ///
    /// Between the directory's `mkdir` and the owner `flock` the area looks dead to a
    /// cleaner (no owner, or an owner nobody holds). The caller must therefore hold the
    /// registry's shared lock around this call, so that gc, which scans and removes dead
    /// areas under the exclusive lock, never runs inside that window (issue 8, E22: it
    /// removed live areas under `gc --grace 0s`, as the coarse mtime of a fresh
    /// directory is often not after gc's `now`).
    pub fn create(staging_root: &Path) -> Result<Staging> {
        create_dir_all_durable(staging_root)?;
        let dir = super::safe::create_unique_dir(staging_root, &format!("{}-", std::process::id()))?;
        test_pause(&dir);
        let owner_path = dir.join(OWNER_FILE);
        let owner = match super::fs::create_new(&owner_path) {
            Ok(f) => f,
            Err(e) => {
                let _ = super::fs::remove_tree(&dir);
                return Err(e);
            }
        };
        // Blocking: the only other holder can be a cleaner probing this new file with a
        // shared try-lock for an instant (verify, a dry run), which must not fail us.
        owner.lock().map_err(Error::io("lock", owner_path.clone()))?;
        Ok(Staging { dir, _owner: owner })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Directory for temp files (never inside a `blobs/sha256/`).
    pub fn temp_dir(&self) -> &Path {
        &self.dir
    }

    /// A blob store inside the area for blobs received but not yet committed.
    pub fn blobs(&self) -> BlobStore {
        BlobStore::new(self.dir.join("blobs"))
    }
}

/// Test hook for the window [`Staging::create`] documents: when
/// `WHARF_TEST_PAUSE_STAGING` names a file path, the area's directory exists, its owner
/// is not locked yet, and creation pauses: it creates that file (atomically: written
/// beside it and renamed), then waits (at most 60 s) until the test removes it. Unset (always, outside tests) it costs one getenv.
fn test_pause(dir: &Path) {
    let Some(flag) = std::env::var_os("WHARF_TEST_PAUSE_STAGING") else { return };
    let flag = PathBuf::from(flag);
    // Written beside the flag and renamed onto it, so that a test that reads the flag as
    // soon as it exists never sees it empty or half written.
    let mut tmp = flag.clone().into_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    if std::fs::write(&tmp, dir.as_os_str().as_encoded_bytes()).is_err() || std::fs::rename(&tmp, &flag).is_err() {
        return;
    }
    let start = std::time::Instant::now();
    while flag.exists() && start.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = super::fs::remove_tree(&self.dir);
    }
}

/// What a cleaner finds in the staging root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagingEntry {
    pub dir: PathBuf,
    /// True when a live process holds the owner lock.
    pub live: bool,
}

/// Lists the staging areas under `staging_root` and whether each is owned by a live
/// process. An area without an owner file is not live (it was never finished being set
/// up, or its owner died mid-way). A staging root that is a link is an error (a
/// cleaner must never delete through it); an entry that is a link is listed (never
/// live) but never entered.
pub fn scan(staging_root: &Path) -> Result<Vec<StagingEntry>> {
    let Some(root) = super::fs::read_dir_if_exists(staging_root)? else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for e in root.entries()? {
        let live = e.kind == FileKind::Dir
            && match root.open_dir(&e.name).ok().flatten().and_then(|d| d.open_file(OWNER_FILE.as_ref()).ok().flatten())
            {
                Some(f) => matches!(f.try_lock_shared(), Err(TryLockError::WouldBlock)),
                None => false,
            };
        out.push(StagingEntry { dir: e.path, live });
    }
    out.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(out)
}

/// Pins every blob in a live staging area and every digest its documents (files of at
/// most `max_document` bytes that parse as a manifest or index) name. The
/// area is walked without following links; a special file in it stops gc (fail closed).
pub fn pin_area(dir: &Path, max_document: u64, pins: &mut HashSet<Digest>) -> Result<()> {
    let Some(area) = crate::store::fs::read_dir_if_exists(dir)? else { return Ok(()) };
    area.walk(&mut |parent, e| {
        if e.kind.is_special() {
            return Err(Error::SpecialFile { path: e.path.clone(), kind: e.kind });
        }
        if e.kind != FileKind::File {
            return Ok(());
        }
        if let Some(d) = e.name_str().and_then(Digest::from_hex) {
            pins.insert(d);
        }
        let small = parent.stat(&e.name)?.is_some_and(|m| m.size <= max_document);
        if small
            && let Ok(Some(f)) = parent.open_file(&e.name)
            && let Ok(bytes) = read_all(f)
            && bytes.first() == Some(&b'{')
            && let Ok(doc) = Document::parse(&bytes, "")
        {
            pins.extend(doc.children().into_iter().map(|c| c.digest));
        }
        Ok(())
    })
}

fn read_all(mut f: std::fs::File) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn live_while_owned_gone_after_drop() {
        let root = tempfile::tempdir().unwrap();
        let s = Staging::create(root.path()).unwrap();
        let found = scan(root.path()).unwrap();
        assert_eq!(found.len(), 1);
        assert!(found[0].live);
        let dir = s.dir().to_path_buf();
        drop(s);
        assert!(!dir.exists());
        assert!(scan(root.path()).unwrap().is_empty());
        // A leftover without a live owner is reported as not live.
        fs::create_dir_all(root.path().join("123-dead")).unwrap();
        fs::write(root.path().join("123-dead").join(OWNER_FILE), b"").unwrap();
        assert!(!scan(root.path()).unwrap()[0].live);
    }
}
