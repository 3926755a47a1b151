//! Durable file writes: temp file in the same directory → fsync → rename → fsync dir,
//! and the small read and list helpers the layers above use. Everything goes through
//! [`super::safe`], so under a registry root no link is followed and nothing but a
//! regular file or directory is opened. Nothing here knows what the bytes mean.

use std::io::Write;
use std::path::Path;

pub use super::safe::{
    Dir, FileKind, TempFile, create_new, hard_link, is_file, kind, open_file, open_file_if_exists, remove_dir,
    remove_file, remove_tree, rename, rename_durable, require_dir_or_absent, require_no_special, stat,
};
use crate::error::{Error, Result};

/// Prefix of every temp file wharf creates; gc removes stale ones.
pub const TEMP_PREFIX: &str = ".wharf-tmp-";

/// Writes `bytes` to `path` atomically: readers see the old file or the new one, never a
/// mix, and after return the new one survives a crash. The temp file is created, and
/// renamed, relative to the parent opened without following links.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = TempFile::new_in(parent(path))?;
    tmp.write_all(bytes).map_err(Error::io("write", tmp.path().to_path_buf()))?;
    tmp.as_file().sync_all().map_err(Error::io("fsync", tmp.path().to_path_buf()))?;
    tmp.persist(path)
}

/// [`atomic_write`] of the JSON form of `value` (pretty-printed, ending in a newline),
/// streamed into the temp file: a 100k-tag index.json or sidecar is tens of megabytes
/// that need not sit in memory as well.
pub fn atomic_write_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let mut tmp = TempFile::new_in(parent(path))?;
    let tmp_path = tmp.path().to_path_buf();
    let written = (|| {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, &mut tmp);
        serde_json::to_writer_pretty(&mut w, value).map_err(std::io::Error::other)?;
        w.write_all(b"\n")?;
        w.flush()
    })();
    written.map_err(Error::io("write", tmp_path))?;
    tmp.as_file().sync_all().map_err(Error::io("fsync", tmp.path().to_path_buf()))?;
    tmp.persist(path)
}

/// Makes a directory entry change (create, rename, unlink) durable.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    match Dir::open(dir)? {
        Some(d) => d.sync(),
        None => Err(Error::Io {
            action: "fsync directory",
            path: dir.to_path_buf(),
            source: std::io::ErrorKind::NotFound.into(),
        }),
    }
}

/// Flushes every file of the filesystem `dir` is on (`syncfs(2)`): a batch of staged
/// files written without an fsync each becomes durable with one call, before they are
/// renamed into place.
pub fn sync_filesystem(dir: &Path) -> Result<()> {
    match Dir::open(dir)? {
        Some(d) => d.sync_filesystem(),
        None => {
            Err(Error::Io { action: "syncfs", path: dir.to_path_buf(), source: std::io::ErrorKind::NotFound.into() })
        }
    }
}

/// Creates a directory and its parents, fsyncing each directory that gained an entry.
/// A link on the way is refused, never followed.
pub fn create_dir_all_durable(dir: &Path) -> Result<()> {
    super::safe::create_dir_all(dir)
}

/// Reads a whole regular file, refusing one larger than `limit` (manifests and JSON
/// files are small; a huge one is hostile or corrupt).
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let f = open_file(path)?;
    read_open(f, path, limit)
}

/// [`read_limited`], `None` when the file is absent.
pub fn read_limited_if_exists(path: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
    match open_file_if_exists(path)? {
        Some(f) => read_open(f, path, limit).map(Some),
        None => Ok(None),
    }
}

fn read_open(f: std::fs::File, path: &Path, limit: u64) -> Result<Vec<u8>> {
    let len = f.metadata().map_err(Error::io("stat", path))?.len();
    if len > limit {
        return Err(Error::TooLarge { what: path.display().to_string(), limit });
    }
    let mut out = Vec::with_capacity(len as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(f, limit + 1), &mut out).map_err(Error::io("read", path))?;
    if out.len() as u64 > limit {
        return Err(Error::TooLarge { what: path.display().to_string(), limit });
    }
    Ok(out)
}

/// Opens a directory for listing; `None` when it does not exist (an absent blob,
/// staging or trash directory is an empty one). A link there is an error naming it.
pub fn read_dir_if_exists(dir: &Path) -> Result<Option<Dir>> {
    Dir::open(dir)
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.json");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("f.json")]);
    }

    #[test]
    fn read_limited_refuses_large() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        fs::write(&p, vec![b'x'; 100]).unwrap();
        assert_eq!(read_limited(&p, 100).unwrap().len(), 100);
        assert!(matches!(read_limited(&p, 99), Err(Error::TooLarge { .. })));
    }
}
