//! Durable file writes: temp file in the same directory → fsync → rename → fsync dir.
//! Nothing here knows what the bytes mean.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Prefix of every temp file wharf creates; gc removes stale ones.
pub const TEMP_PREFIX: &str = ".wharf-tmp-";

/// Creates a temp file (named `TEMP_PREFIX…`) in `dir` whose mode follows the umask:
/// created with 0666, which the kernel narrows by the umask (0644 under the usual 022,
/// 0600 under 077), as any program's new file. tempfile's own default is a private
/// 0600, which locked other users' skopeo or zot out of the registry. Every file wharf
/// renames into place (blobs, index.json, sidecars, registry.json, exports) starts
/// here. Directories are created with 0777 less the umask by `create_dir` already.
pub fn temp_file_in(dir: &Path) -> Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .permissions(fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(Error::io("create a temp file in", dir))
}

/// Writes `bytes` to `path` atomically: readers see the old file or the new one, never a
/// mix, and after return the new one survives a crash.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent(path);
    let mut tmp = temp_file_in(dir)?;
    tmp.write_all(bytes).map_err(Error::io("write", tmp.path().to_path_buf()))?;
    tmp.as_file().sync_all().map_err(Error::io("fsync", tmp.path().to_path_buf()))?;
    tmp.persist(path).map_err(|e| Error::Io {
        action: "rename a temp file onto",
        path: path.to_path_buf(),
        source: e.error,
    })?;
    fsync_dir(dir)
}

/// Makes a directory entry change (create, rename, unlink) durable.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(Error::io("fsync directory", dir))
}

/// Creates a directory and its parents, fsyncing each directory that gained an entry.
pub fn create_dir_all_durable(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(p) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_all_durable(p)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => fsync_dir(parent(dir)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::Io { action: "create directory", path: dir.to_path_buf(), source: e }),
    }
}

/// Reads a whole file, refusing one larger than `limit` (manifests and JSON files are
/// small; a huge one is hostile or corrupt).
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let f = File::open(path).map_err(Error::io("open", path))?;
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

/// Lists a directory; `None` when it does not exist (an absent blob, staging or trash
/// directory is an empty one).
pub fn read_dir_if_exists(dir: &Path) -> Result<Option<fs::ReadDir>> {
    match fs::read_dir(dir) {
        Ok(rd) => Ok(Some(rd)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io { action: "list", path: dir.to_path_buf(), source: e }),
    }
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
