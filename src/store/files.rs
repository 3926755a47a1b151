//! Files the user names, outside any registry root: reading an input file (`wharf add
//! FILE`) or an import source directory, the temp files and directories an export
//! builds beside its `-o` path and their no-clobber placement, and writing files
//! into an output directory (`wharf export --format files -o DIR`) without ever
//! following a symbolic link inside it. The directory is opened once; every file is
//! created relative to that descriptor with `O_NOFOLLOW | O_EXCL` under a temp name,
//! written, fsynced and renamed to its final name with `RENAME_NOREPLACE`, then the
//! directory is fsynced. Names are single path components checked by the caller; this
//! module refuses anything else again (defence in depth). Knows nothing of manifests.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags};

use super::fs::TEMP_PREFIX;
use crate::error::{Error, Result};

/// Opens a regular file the user named, for reading. A directory or a device is refused.
///
/// A FIFO, socket or device is refused without being opened (a stat first), so nothing
/// blocks and no writer feeding it is disturbed; the open itself is non-blocking and the
/// type is checked again on the handle, so a path swapped in between is refused too.
pub fn open_input_file(path: &Path) -> Result<File> {
    let not_file = || Error::Usage(format!("{} is not a regular file", path.display()));
    if !std::fs::metadata(path).map_err(Error::io("stat", path))?.is_file() {
        return Err(not_file());
    }
    let f = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(Error::io("open", path))?
    };
    if !f.metadata().map_err(Error::io("stat", path))?.is_file() {
        return Err(not_file());
    }
    Ok(f)
}

/// Whether an input path the user named (or a path inside an input directory) is
/// there, and whether it is a directory: `None` when it does not exist. Links are
/// followed: the source is the user's own.
pub fn input_is_dir(path: &Path) -> Result<Option<bool>> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some(m.is_dir())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io { action: "open", path: path.to_path_buf(), source: e }),
    }
}

/// The names of the regular files in the user's input directory `dir` of at most `max`
/// bytes (links followed), unsorted; an unreadable directory lists nothing.
pub fn small_input_files(dir: &Path, max: u64) -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if e.metadata().map(|m| m.is_file() && m.len() <= max).unwrap_or(false) {
                names.push(n);
            }
        }
    }
    names
}

/// True when the user's output path `path` is an empty directory (an `-o` a layout
/// export may fill).
pub fn output_is_empty_dir(path: &Path) -> bool {
    path.is_dir() && std::fs::read_dir(path).map(|mut r| r.next().is_none()).unwrap_or(false)
}

/// A temp file (`TEMP_PREFIX…`) beside the user's output path, in `parent`, created
/// 0666 so the umask decides the mode as for any new file; `persist_noclobber` puts it
/// in place without replacing anything.
pub fn output_temp_file(parent: &Path) -> Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(parent)
        .map_err(Error::io("create a temp file in", parent.to_path_buf()))
}

/// A temp directory (`TEMP_PREFIX…`) in `parent`, for a directory output built beside
/// the user's output path.
pub fn output_temp_dir(parent: &Path) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempdir_in(parent)
        .map_err(Error::io("create a temp directory in", parent.to_path_buf()))
}

/// Puts a finished temp directory at the user's output path `out`: an empty directory
/// there is replaced, anything else is not (the rename fails and the temp directory
/// is removed). The caller fsyncs the parent.
pub fn place_output_dir(tmp: tempfile::TempDir, out: &Path) -> Result<()> {
    if out.is_dir() {
        std::fs::remove_dir(out).map_err(Error::io("replace the empty directory", out))?;
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, out).map_err(|e| {
        let _ = std::fs::remove_dir_all(&kept);
        Error::Io { action: "rename the exported layout to", path: out.to_path_buf(), source: e }
    })
}

/// An output directory, opened once.
pub struct OutDir {
    fd: OwnedFd,
    path: PathBuf,
}

/// True when `name` is one plain path component: not empty, not `.` or `..`, without
/// `/`, `\` or NUL.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

impl OutDir {
    /// Opens `path` (creating it, and its parents, when absent).
    pub fn open(path: &Path) -> Result<OutDir> {
        if !path.exists() {
            super::fs::create_dir_all_durable(path)?;
        }
        let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).map_err(
            |e| Error::Io { action: "open the output directory", path: path.to_path_buf(), source: e.into() },
        )?;
        Ok(OutDir { fd, path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when something (a file, a directory, a symbolic link, dangling or not) is
    /// named `name` in the directory.
    pub fn exists(&self, name: &str) -> Result<bool> {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(_) => Ok(true),
            Err(rustix::io::Errno::NOENT) => Ok(false),
            Err(e) => Err(Error::Io { action: "stat", path: self.path.join(name), source: e.into() }),
        }
    }

    /// Writes `name` from `r` (temp → fsync → rename without replacing). Refuses when
    /// `name` exists. `check` sees every chunk (the caller hashes with it) and decides at
    /// the end whether the content may be placed.
    pub fn write_new(
        &self,
        name: &str,
        r: &mut dyn Read,
        check: &mut dyn FnMut(Option<&[u8]>) -> Result<()>,
    ) -> Result<u64> {
        if !is_plain_name(name) {
            return Err(Error::refused(format!("`{name}` is not a plain file name")));
        }
        let target = self.path.join(name);
        let mut tmp_name = None;
        for i in 0..100u32 {
            let n = format!("{TEMP_PREFIX}{}-{i}", std::process::id());
            match rustix::fs::openat(
                &self.fd,
                n.as_str(),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o666),
            ) {
                Ok(fd) => {
                    tmp_name = Some((n, File::from(fd)));
                    break;
                }
                Err(rustix::io::Errno::EXIST) => continue,
                Err(e) => {
                    return Err(Error::Io {
                        action: "create a temp file in",
                        path: self.path.clone(),
                        source: e.into(),
                    });
                }
            }
        }
        let (tmp, mut f) = tmp_name.ok_or_else(|| Error::Io {
            action: "create a temp file in",
            path: self.path.clone(),
            source: io::Error::other("no free temp name"),
        })?;
        let cleanup = |e: Error| {
            let _ = rustix::fs::unlinkat(&self.fd, tmp.as_str(), AtFlags::empty());
            e
        };
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(cleanup(Error::Io { action: "read content for", path: target, source: e })),
            };
            check(Some(&buf[..n])).map_err(cleanup)?;
            f.write_all(&buf[..n])
                .map_err(|e| cleanup(Error::Io { action: "write", path: target.clone(), source: e }))?;
            total += n as u64;
        }
        check(None).map_err(cleanup)?;
        f.sync_all().map_err(|e| cleanup(Error::Io { action: "fsync", path: target.clone(), source: e }))?;
        drop(f);
        rustix::fs::renameat_with(&self.fd, tmp.as_str(), &self.fd, name, RenameFlags::NOREPLACE).map_err(|e| {
            cleanup(Error::Io {
                action: "rename a temp file to (refusing to replace)",
                path: target.clone(),
                source: e.into(),
            })
        })?;
        rustix::fs::fsync(self.fd.as_fd()).map_err(|e| Error::Io {
            action: "fsync directory",
            path: self.path.clone(),
            source: e.into(),
        })?;
        Ok(total)
    }

    /// Removes `name`, a file this process placed with [`OutDir::write_new`] (undoing a
    /// partial export); best effort, never through a link.
    pub fn remove_placed(&self, name: &str) {
        if is_plain_name(name) {
            let _ = rustix::fs::unlinkat(&self.fd, name, AtFlags::empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names() {
        for ok in ["a", "a.txt", "..a", "a..", "app-1.2.3.tgz"] {
            assert!(is_plain_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "/etc", "a\\b", "a\0b"] {
            assert!(!is_plain_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn write_new_never_follows_or_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"keep").unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::os::unix::fs::symlink(&outside, out.join("link")).unwrap();
        let d = OutDir::open(&out).unwrap();
        let mut ok = |_: Option<&[u8]>| Ok(());
        assert!(d.write_new("link", &mut &b"evil"[..], &mut ok).is_err());
        assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
        assert_eq!(d.write_new("new", &mut &b"data"[..], &mut ok).unwrap(), 4);
        assert_eq!(std::fs::read(out.join("new")).unwrap(), b"data");
        assert!(d.write_new("new", &mut &b"other"[..], &mut ok).is_err());
        assert_eq!(std::fs::read(out.join("new")).unwrap(), b"data");
        let names: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "no temp file left: {names:?}");
        let mut refuse = |c: Option<&[u8]>| if c.is_none() { Err(Error::refused("no")) } else { Ok(()) };
        assert!(d.write_new("bad", &mut &b"x"[..], &mut refuse).is_err());
        assert!(!d.exists("bad").unwrap());
    }
}
