//! Root-anchored, no-follow file access: the only way wharf touches anything inside a
//! registry root.
//!
//! The rule (docs/FORMAT.md, "Links and special files"): wharf never follows a symbolic
//! link inside a registry root, and opens nothing but regular files and directories.
//! The root path itself may be a link: it is opened once, following the user's path, and
//! registered as an *anchor* ([`anchor`]). Every later path that lies under an anchor is
//! resolved relative to the anchor's directory handle with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, or, where the kernel lacks openat2,
//! one component at a time with `openat(O_NOFOLLOW | O_DIRECTORY)`. A link met on the way
//! is [`Error::SpecialFile`] naming the link, never a step through it. Changes (create,
//! rename, link, unlink) are `*at` calls relative to the no-follow-opened parent, so the
//! last component is never followed either.
//!
//! Files are opened with `O_NONBLOCK | O_NOFOLLOW` and their type is checked on the open
//! handle (`fstat`): a FIFO, socket or device is refused, never read (a FIFO would block
//! the process forever). `O_NONBLOCK` is cleared again on the regular files returned.
//!
//! Paths outside every anchor (an import source, an export destination the user named)
//! are opened as the user gave them, links and all, but get the same type check.
//!
//! This module must not know what the files mean.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use serde::Serialize;

use crate::error::{Error, Result};

/// What a directory entry is. Only `File` and `Dir` are ever opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed).
    Symlink,
    /// A named pipe.
    Fifo,
    /// A Unix socket.
    Socket,
    /// A block or character device.
    Device,
    /// Something else the platform reports.
    Unknown,
}

impl FileKind {
    fn of(t: FileType) -> FileKind {
        match t {
            FileType::RegularFile => FileKind::File,
            FileType::Directory => FileKind::Dir,
            FileType::Symlink => FileKind::Symlink,
            FileType::Fifo => FileKind::Fifo,
            FileType::Socket => FileKind::Socket,
            FileType::CharacterDevice | FileType::BlockDevice => FileKind::Device,
            FileType::Unknown => FileKind::Unknown,
        }
    }

    fn of_mode(mode: rfs::RawMode) -> FileKind {
        FileKind::of(FileType::from_raw_mode(mode))
    }

    /// "a symbolic link", "a FIFO (named pipe)", …
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::File => "a regular file",
            FileKind::Dir => "a directory",
            FileKind::Symlink => "a symbolic link",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::Socket => "a socket",
            FileKind::Device => "a device node",
            FileKind::Unknown => "a file of unknown type",
        }
    }

    /// How to fix a registry that holds one of these where wharf expects a file or a
    /// directory.
    pub fn advice(self) -> &'static str {
        match self {
            FileKind::Symlink => {
                "wharf never follows symbolic links inside a registry (a link could make it read, write or delete \
                 outside the root); replace the link with the directory or file itself (move the content in), or \
                 remove it"
            }
            FileKind::File | FileKind::Dir => "move it aside",
            _ => {
                "wharf opens only regular files and directories (a FIFO would block it, a device could do anything); \
                 remove it"
            }
        }
    }

    /// True for anything but a regular file or a directory (wharf opens only those two).
    pub fn is_special(self) -> bool {
        !matches!(self, FileKind::File | FileKind::Dir)
    }
}

/// Registered roots: (the path as the user gave it, its directory handle).
static ANCHORS: RwLock<Vec<(PathBuf, Arc<OwnedFd>)>> = RwLock::new(Vec::new());
/// Cleared once openat2 answers ENOSYS (old kernel, seccomp filter).
static OPENAT2: AtomicBool = AtomicBool::new(true);

/// Makes `root` an anchor: opens it (following the user's own path, which may be a link)
/// and resolves every later path under it without following links. Registering the
/// same path again replaces the handle (the directory may have been recreated).
pub fn anchor(root: &Path) -> Result<()> {
    let fd = rfs::open(root, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::Io { action: "open the registry root", path: root.to_path_buf(), source: e.into() })?;
    let mut anchors = ANCHORS.write().unwrap_or_else(|p| p.into_inner());
    anchors.retain(|(p, _)| p != root);
    anchors.push((root.to_path_buf(), Arc::new(fd)));
    Ok(())
}

/// Where a path lives: under an anchor (resolved beneath it, links refused) or free.
enum Place {
    Anchored { root: Arc<OwnedFd>, root_path: PathBuf, rel: Vec<OsString> },
    Free(PathBuf),
}

fn locate(path: &Path) -> Result<Place> {
    let anchors = ANCHORS.read().unwrap_or_else(|p| p.into_inner());
    let best = anchors.iter().filter(|(p, _)| path.starts_with(p)).max_by_key(|(p, _)| p.components().count());
    let Some((root_path, fd)) = best else { return Ok(Place::Free(path.to_path_buf())) };
    let mut rel = Vec::new();
    for c in path.strip_prefix(root_path).expect("prefix").components() {
        match c {
            Component::Normal(n) => rel.push(n.to_os_string()),
            Component::CurDir => {}
            _ => {
                return Err(Error::refused(format!(
                    "{}: a path with `..` inside a registry is never resolved",
                    path.display()
                )));
            }
        }
    }
    Ok(Place::Anchored { root: fd.clone(), root_path: root_path.clone(), rel })
}

fn join(root: &Path, rel: &[OsString]) -> PathBuf {
    let mut p = root.to_path_buf();
    p.extend(rel);
    p
}

/// Opens `rel` beneath `root`, following no link on the way or at the end.
fn open_beneath(root: BorrowedFd<'_>, rel: &[OsString], flags: OFlags, mode: Mode) -> rustix::io::Result<OwnedFd> {
    let flags = flags | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    if rel.is_empty() {
        return rfs::openat(root, ".", flags & !OFlags::NOFOLLOW, mode);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if OPENAT2.load(Ordering::Relaxed) {
        let joined = rel.iter().map(|c| c.as_os_str()).collect::<PathBuf>();
        let resolve = rfs::ResolveFlags::BENEATH | rfs::ResolveFlags::NO_SYMLINKS;
        match rfs::openat2(root, &joined, flags, mode, resolve) {
            Err(Errno::NOSYS) | Err(Errno::PERM) => OPENAT2.store(false, Ordering::Relaxed),
            Err(Errno::AGAIN) => {}
            other => return other,
        }
    }
    walk_beneath(root, rel, flags, mode)
}

/// The fallback of [`open_beneath`]: one component at a time, each opened with
/// `O_NOFOLLOW` (directories with `O_DIRECTORY`) relative to the one before.
fn walk_beneath(root: BorrowedFd<'_>, rel: &[OsString], flags: OFlags, mode: Mode) -> rustix::io::Result<OwnedFd> {
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut cur: Option<OwnedFd> = None;
    for (i, c) in rel.iter().enumerate() {
        let dir = cur.as_ref().map_or(root, |f| f.as_fd());
        let last = i + 1 == rel.len();
        let next = rfs::openat(dir, c.as_os_str(), if last { flags | OFlags::NOFOLLOW } else { dir_flags }, mode)?;
        cur = Some(next);
    }
    Ok(cur.expect("non-empty"))
}

/// Turns a failed resolution into the error that names its cause: the first component
/// that is a link (or a special file where a directory was needed), else the I/O error.
fn explain(root: BorrowedFd<'_>, root_path: &Path, rel: &[OsString], action: &'static str, e: Errno) -> Error {
    if matches!(e, Errno::LOOP | Errno::NOTDIR | Errno::NXIO | Errno::XDEV | Errno::OPNOTSUPP) {
        let mut cur: Option<OwnedFd> = None;
        for (i, c) in rel.iter().enumerate() {
            let dir = cur.as_ref().map_or(root, |f| f.as_fd());
            let Ok(st) = rfs::statat(dir, c.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) else { break };
            let kind = FileKind::of_mode(st.st_mode);
            let last = i + 1 == rel.len();
            if kind.is_special() {
                return Error::SpecialFile { path: join(root_path, &rel[..=i]), kind };
            }
            if last || kind != FileKind::Dir {
                break;
            }
            match rfs::openat(
                dir,
                c.as_os_str(),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(f) => cur = Some(f),
                Err(_) => break,
            }
        }
    }
    Error::Io { action, path: join(root_path, rel), source: e.into() }
}

/// Opens `path` with `flags` (anchored: beneath the root, no links), mapping errors to
/// ones that name the link or special file that stopped it. `Ok(None)` when absent.
fn open_raw(path: &Path, flags: OFlags, mode: Mode, action: &'static str) -> Result<Option<OwnedFd>> {
    match locate(path)? {
        Place::Anchored { root, root_path, rel } => match open_beneath(root.as_fd(), &rel, flags, mode) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(explain(root.as_fd(), &root_path, &rel, action, e)),
        },
        Place::Free(p) => match rfs::open(&p, flags | OFlags::CLOEXEC, mode) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::NOENT) => Ok(None),
            Err(Errno::NXIO) => Err(Error::SpecialFile { path: p, kind: FileKind::Fifo }),
            Err(e) => Err(Error::Io { action, path: p, source: e.into() }),
        },
    }
}

/// Checks the type of an open handle; refuses everything but `want`.
fn check_type(fd: &OwnedFd, path: &Path, want: FileKind) -> Result<rfs::Stat> {
    let st = rfs::fstat(fd).map_err(|e| Error::Io { action: "stat", path: path.to_path_buf(), source: e.into() })?;
    let kind = FileKind::of_mode(st.st_mode);
    if kind == want {
        return Ok(st);
    }
    if kind.is_special() {
        return Err(Error::SpecialFile { path: path.to_path_buf(), kind });
    }
    Err(Error::Io {
        action: if want == FileKind::Dir { "open as a directory" } else { "open as a file" },
        path: path.to_path_buf(),
        source: io::Error::other(format!("it is {}", kind.describe())),
    })
}

fn into_file(fd: OwnedFd, path: &Path) -> Result<File> {
    let flags =
        rfs::fcntl_getfl(&fd).map_err(|e| Error::Io { action: "open", path: path.to_path_buf(), source: e.into() })?;
    rfs::fcntl_setfl(&fd, flags & !OFlags::NONBLOCK).map_err(|e| Error::Io {
        action: "open",
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    Ok(File::from(fd))
}

/// Opens a regular file for reading; `None` when absent. Links (under an anchor) and
/// special files are refused without blocking.
pub fn open_file_if_exists(path: &Path) -> Result<Option<File>> {
    let Some(fd) = open_raw(path, OFlags::RDONLY | OFlags::NONBLOCK, Mode::empty(), "open")? else { return Ok(None) };
    check_type(&fd, path, FileKind::File)?;
    into_file(fd, path).map(Some)
}

/// Opens a regular file for reading (see [`open_file_if_exists`]).
pub fn open_file(path: &Path) -> Result<File> {
    open_file_if_exists(path)?.ok_or_else(|| Error::Io {
        action: "open",
        path: path.to_path_buf(),
        source: io::Error::from(io::ErrorKind::NotFound),
    })
}

/// Opens (creating when absent, never truncating) a regular file for reading and
/// writing: the registry lock file.
pub fn open_rw_create(path: &Path) -> Result<File> {
    let fd = open_raw(path, OFlags::RDWR | OFlags::CREATE | OFlags::NONBLOCK, Mode::from_raw_mode(0o666), "open")?
        .ok_or_else(|| Error::Io {
            action: "open",
            path: path.to_path_buf(),
            source: io::ErrorKind::NotFound.into(),
        })?;
    check_type(&fd, path, FileKind::File)?;
    into_file(fd, path)
}

/// Creates a new regular file (refused if anything is there, a link included).
pub fn create_new(path: &Path) -> Result<File> {
    let fd = open_raw(path, OFlags::RDWR | OFlags::CREATE | OFlags::EXCL, Mode::from_raw_mode(0o666), "create")?
        .ok_or_else(|| Error::Io {
            action: "create",
            path: path.to_path_buf(),
            source: io::ErrorKind::NotFound.into(),
        })?;
    Ok(File::from(fd))
}

/// Size, time and identity of a directory entry, never following it.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    pub kind: FileKind,
    pub size: u64,
    pub modified: SystemTime,
    pub dev: u64,
    pub ino: u64,
    /// The number of hard links to the inode (st_nlink).
    pub nlink: u64,
}

impl Stat {
    fn from(st: &rfs::Stat) -> Stat {
        Stat {
            kind: FileKind::of_mode(st.st_mode),
            size: st.st_size.max(0) as u64,
            modified: UNIX_EPOCH
                + Duration::new(st.st_mtime.max(0) as u64, st.st_mtime_nsec.clamp(0, 999_999_999) as u32),
            dev: st.st_dev,
            ino: st.st_ino,
            #[allow(clippy::unnecessary_cast)] // u32 on some targets
            nlink: st.st_nlink as u64,
        }
    }
}

/// One entry of a listed directory.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: OsString,
    pub path: PathBuf,
    pub kind: FileKind,
}

impl Entry {
    pub fn name_str(&self) -> Option<&str> {
        self.name.to_str()
    }
}

/// An open directory (opened without following links). Calls name entries relative to
/// it, so the kernel resolves one name, never a link.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// Opens `path` as a directory; `None` when absent. A link or a non-directory there
    /// is an error naming it.
    pub fn open(path: &Path) -> Result<Option<Dir>> {
        let Some(fd) = open_raw(path, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty(), "open directory")? else {
            return Ok(None);
        };
        check_type(&fd, path, FileKind::Dir)?;
        Ok(Some(Dir { fd, path: path.to_path_buf() }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry but `.` and `..`, sorted by name. Entry types come from the
    /// directory itself (or `lstat`), so a link is reported as a link, never descended.
    pub fn entries(&self) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        self.for_each_entry(&mut |name, kind, _| {
            out.push(Entry { name: name.to_os_string(), path: self.path.join(name), kind });
            Ok(())
        })?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Calls `f` with the name, kind and inode number of every entry but `.` and `..`,
    /// in directory order, allocating nothing per entry: the listing of a directory of a
    /// million blobs (gc) need not hold a million names and paths. Kinds as in
    /// [`Dir::entries`].
    pub fn for_each_entry(&self, f: &mut dyn FnMut(&OsStr, FileKind, u64) -> Result<()>) -> Result<()> {
        let io_err = |e: Errno| Error::Io { action: "list", path: self.path.clone(), source: e.into() };
        for e in rfs::Dir::read_from(&self.fd).map_err(io_err)? {
            let e = e.map_err(io_err)?;
            let name = OsStr::from_bytes(e.file_name().to_bytes());
            if name == "." || name == ".." {
                continue;
            }
            let mut kind = FileKind::of(e.file_type());
            if kind == FileKind::Unknown
                && let Ok(st) = rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)
            {
                kind = FileKind::of_mode(st.st_mode);
            }
            f(name, kind, e.ino())?;
        }
        Ok(())
    }

    /// `lstat` of an entry; `None` when absent.
    pub fn stat(&self, name: &OsStr) -> Result<Option<Stat>> {
        match rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(Stat::from(&st))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(Error::Io { action: "stat", path: self.path.join(name), source: e.into() }),
        }
    }

    /// Opens a regular-file entry for reading (no link, no special file).
    pub fn open_file(&self, name: &OsStr) -> Result<Option<File>> {
        let path = self.path.join(name);
        let fd = match rfs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::LOOP) => return Err(Error::SpecialFile { path, kind: FileKind::Symlink }),
            Err(e) => return Err(Error::Io { action: "open", path, source: e.into() }),
        };
        check_type(&fd, &path, FileKind::File)?;
        into_file(fd, &path).map(Some)
    }

    /// Opens a directory entry (no link).
    pub fn open_dir(&self, name: &OsStr) -> Result<Option<Dir>> {
        let path = self.path.join(name);
        let fd = match rfs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::LOOP) => return Err(Error::SpecialFile { path, kind: FileKind::Symlink }),
            Err(Errno::NOTDIR) => {
                let kind = self.stat(name)?.map_or(FileKind::Unknown, |s| s.kind);
                if kind.is_special() {
                    return Err(Error::SpecialFile { path, kind });
                }
                return Err(Error::Io { action: "open directory", path, source: Errno::NOTDIR.into() });
            }
            Err(e) => return Err(Error::Io { action: "open directory", path, source: e.into() }),
        };
        Ok(Some(Dir { fd, path }))
    }

    /// Unlinks an entry that is not a directory (a link is removed, not followed);
    /// absent is success.
    pub fn remove_file(&self, name: &OsStr) -> Result<()> {
        match rfs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(Error::Io { action: "remove", path: self.path.join(name), source: e.into() }),
        }
    }

    /// Removes an entry and, when it is a directory, everything below it. Never
    /// descends through a link: links are unlinked as entries. Absent is success.
    pub fn remove_tree(&self, name: &OsStr) -> Result<()> {
        match self.stat(name)? {
            None => Ok(()),
            Some(s) if s.kind == FileKind::Dir => {
                if let Some(sub) = self.open_dir(name)? {
                    for e in sub.entries()? {
                        sub.remove_tree(&e.name)?;
                    }
                }
                match rfs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR) {
                    Ok(()) | Err(Errno::NOENT) => Ok(()),
                    Err(e) => {
                        Err(Error::Io { action: "remove directory", path: self.path.join(name), source: e.into() })
                    }
                }
            }
            Some(_) => self.remove_file(name),
        }
    }

    /// Calls `f` with every entry below this directory (depth first, each with the
    /// directory it is in), descending only into real directories, never through a link.
    pub fn walk(&self, f: &mut dyn FnMut(&Dir, &Entry) -> Result<()>) -> Result<()> {
        for e in self.entries()? {
            f(self, &e)?;
            if e.kind == FileKind::Dir
                && let Some(sub) = self.open_dir(&e.name)?
            {
                sub.walk(f)?;
            }
        }
        Ok(())
    }

    /// Flushes every file of the filesystem this directory is on (`syncfs`): one flush
    /// for many staged files written without an fsync each.
    pub fn sync_filesystem(&self) -> Result<()> {
        rfs::syncfs(&self.fd).map_err(|e| Error::Io { action: "syncfs", path: self.path.clone(), source: e.into() })
    }

    /// Makes entry changes in this directory durable.
    pub fn sync(&self) -> Result<()> {
        rfs::fsync(&self.fd).map_err(|e| Error::Io {
            action: "fsync directory",
            path: self.path.clone(),
            source: e.into(),
        })
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The parent directory of `path` (opened without following links) and the last name.
fn parent_of(path: &Path) -> Result<(Dir, OsString)> {
    let name = path.file_name().ok_or_else(|| Error::refused(format!("{}: no file name", path.display())))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = Dir::open(parent)?.ok_or_else(|| Error::Io {
        action: "open directory",
        path: parent.to_path_buf(),
        source: io::ErrorKind::NotFound.into(),
    })?;
    Ok((dir, name.to_os_string()))
}

/// `lstat` of `path` (its parents resolved without links); `None` when absent.
pub fn stat(path: &Path) -> Result<Option<Stat>> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Some(name) = path.file_name() else {
        return Dir::open(path)?.map(|d| d.stat(OsStr::new("."))).transpose().map(Option::flatten);
    };
    match Dir::open(parent)? {
        Some(d) => d.stat(name),
        None => Ok(None),
    }
}

/// The kind of what is at `path`, not following it; `None` when absent.
pub fn kind(path: &Path) -> Result<Option<FileKind>> {
    Ok(stat(path)?.map(|s| s.kind))
}

/// True when `path` is a regular file (a link to one is an error, not a file).
pub fn is_file(path: &Path) -> Result<bool> {
    match kind(path)? {
        Some(FileKind::File) => Ok(true),
        Some(k) if k.is_special() => Err(Error::SpecialFile { path: path.to_path_buf(), kind: k }),
        _ => Ok(false),
    }
}

/// Refuses `path` when it exists and is not a directory (a link, a FIFO, a file), or
/// when a link is on the way to it: the check a destructive command makes on each
/// directory it deletes in, before planning (fail closed).
pub fn require_dir_or_absent(path: &Path) -> Result<()> {
    match kind(path)? {
        None | Some(FileKind::Dir) => Ok(()),
        Some(kind) if kind.is_special() => Err(Error::SpecialFile { path: path.to_path_buf(), kind }),
        Some(kind) => Err(Error::Io {
            action: "use as a directory",
            path: path.to_path_buf(),
            source: io::Error::other(format!("it is {}", kind.describe())),
        }),
    }
}

/// Refuses the tree at `path` when a link or special file is anywhere in it (walked
/// without following links); absent is fine.
pub fn require_no_special(path: &Path) -> Result<()> {
    let Some(d) = Dir::open(path)? else { return Ok(()) };
    d.walk(&mut |_, e| {
        if e.kind.is_special() {
            return Err(Error::SpecialFile { path: e.path.clone(), kind: e.kind });
        }
        Ok(())
    })
}

/// Creates one directory; an existing directory is success, anything else there (a
/// link) an error. Returns true when it was created (the parent needs an fsync).
fn mkdir(path: &Path) -> Result<bool> {
    let (parent, name) = parent_of(path)?;
    match rfs::mkdirat(parent.fd(), name.as_os_str(), Mode::from_raw_mode(0o777)) {
        Ok(()) => {
            parent.sync()?;
            Ok(true)
        }
        Err(Errno::EXIST) => match parent.stat(&name)?.map(|s| s.kind) {
            Some(FileKind::Dir) => Ok(false),
            Some(k) => Err(Error::SpecialFile { path: path.to_path_buf(), kind: k }),
            None => {
                Err(Error::Io { action: "create directory", path: path.to_path_buf(), source: Errno::EXIST.into() })
            }
        },
        Err(e) => Err(Error::Io { action: "create directory", path: path.to_path_buf(), source: e.into() }),
    }
}

/// Creates a directory and its parents, fsyncing each directory that gained an entry.
/// A link on the way is refused.
pub fn create_dir_all(path: &Path) -> Result<()> {
    if Dir::open(path)?.is_some() {
        return Ok(());
    }
    if let Some(p) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_all(p)?;
    }
    mkdir(path).map(|_| ())
}

/// Creates a new directory with a unique name `prefix` + random under `parent`.
pub fn create_unique_dir(parent: &Path, prefix: &str) -> Result<PathBuf> {
    let dir = Dir::open(parent)?.ok_or_else(|| Error::Io {
        action: "create a directory in",
        path: parent.to_path_buf(),
        source: io::ErrorKind::NotFound.into(),
    })?;
    for _ in 0..100 {
        let name = format!("{prefix}{}", random_suffix());
        match rfs::mkdirat(dir.fd(), name.as_str(), Mode::from_raw_mode(0o777)) {
            Ok(()) => {
                dir.sync()?;
                return Ok(parent.join(name));
            }
            Err(Errno::EXIST) => continue,
            Err(e) => {
                return Err(Error::Io {
                    action: "create a directory in",
                    path: parent.to_path_buf(),
                    source: e.into(),
                });
            }
        }
    }
    Err(Error::Io { action: "create a directory in", path: parent.to_path_buf(), source: Errno::EXIST.into() })
}

fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::AtomicU64;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    format!("{:016x}", h.finish())
}

/// Removes a file (or a link, as an entry); absent is success.
pub fn remove_file(path: &Path) -> Result<()> {
    match parent_of(path) {
        Ok((parent, name)) => parent.remove_file(&name),
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes an empty directory; absent is success, not empty an error.
pub fn remove_dir(path: &Path) -> Result<()> {
    let (parent, name) = parent_of(path)?;
    match rfs::unlinkat(parent.fd(), name.as_os_str(), AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(Error::Io { action: "remove directory", path: path.to_path_buf(), source: e.into() }),
    }
}

/// Removes `path` and everything below it without following any link (see
/// [`Dir::remove_tree`]); absent is success. A link on the way *to* `path` is refused.
pub fn remove_tree(path: &Path) -> Result<()> {
    match parent_of(path) {
        Ok((parent, name)) => parent.remove_tree(&name),
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Renames `from` to `to` (`renameat` between no-follow-opened parents; a link is
/// moved as an entry, never followed). The caller makes it durable (fsync the
/// directories) when it is done with a batch; [`rename_durable`] does it at once.
pub fn rename(from: &Path, to: &Path) -> Result<()> {
    rename_at(from, to).map(|_| ())
}

/// [`rename`], then fsync of both parents.
pub fn rename_durable(from: &Path, to: &Path) -> Result<()> {
    let (fp, tp) = rename_at(from, to)?;
    tp.sync()?;
    if fp.path != tp.path {
        fp.sync()?;
    }
    Ok(())
}

fn rename_at(from: &Path, to: &Path) -> Result<(Dir, Dir)> {
    let (fp, fname) = parent_of(from)?;
    let (tp, tname) = parent_of(to)?;
    rfs::renameat(fp.fd(), fname.as_os_str(), tp.fd(), tname.as_os_str()).map_err(|e| Error::Io {
        action: "rename to",
        path: to.to_path_buf(),
        source: e.into(),
    })?;
    Ok((fp, tp))
}

/// Hard-links `from` as `to` (`linkat` without `AT_SYMLINK_FOLLOW`: a link is never
/// dereferenced). The raw I/O error is returned for callers that fall back to a copy.
pub fn hard_link(from: &Path, to: &Path) -> Result<std::result::Result<(), io::Error>> {
    let (fp, fname) = parent_of(from)?;
    let (tp, tname) = parent_of(to)?;
    if let Some(s) = fp.stat(&fname)?
        && s.kind != FileKind::File
    {
        return Err(Error::SpecialFile { path: from.to_path_buf(), kind: s.kind });
    }
    Ok(rfs::linkat(fp.fd(), fname.as_os_str(), tp.fd(), tname.as_os_str(), AtFlags::empty()).map_err(io::Error::from))
}

/// A temp file (name starting with `TEMP_PREFIX`) in a directory opened without
/// following links; [`TempFile::persist`] renames it into place, dropping it removes it.
#[derive(Debug)]
pub struct TempFile {
    file: File,
    path: PathBuf,
    kept: bool,
}

impl TempFile {
    /// Creates a fresh temp file (named `TEMP_PREFIX…`) in `dir` whose mode follows the
    /// umask: created with 0666, which the kernel narrows by the umask (0644 under the
    /// usual 022, 0600 under 077), as any program's new file, so other users' skopeo or
    /// zot can read the registry. Every file wharf renames into place (blobs, index.json,
    /// sidecars, registry.json, exports) starts here; directories get 0777 less the umask.
    pub fn new_in(dir: &Path) -> Result<TempFile> {
        let d = Dir::open(dir)?.ok_or_else(|| Error::Io {
            action: "create a temp file in",
            path: dir.to_path_buf(),
            source: io::ErrorKind::NotFound.into(),
        })?;
        for _ in 0..100 {
            let name = format!("{}{}", super::fs::TEMP_PREFIX, random_suffix());
            match rfs::openat(
                d.fd(),
                name.as_str(),
                OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o666),
            ) {
                Ok(fd) => return Ok(TempFile { file: File::from(fd), path: dir.join(name), kept: false }),
                Err(Errno::EXIST) => continue,
                Err(e) => {
                    return Err(Error::Io {
                        action: "create a temp file in",
                        path: dir.to_path_buf(),
                        source: e.into(),
                    });
                }
            }
        }
        Err(Error::Io { action: "create a temp file in", path: dir.to_path_buf(), source: Errno::EXIST.into() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn as_file(&self) -> &File {
        &self.file
    }

    /// Renames the file onto `dest` (see [`rename`]). Something other than a regular
    /// file at `dest` (a link, a FIFO, a directory) is refused, not replaced.
    pub fn persist(self, dest: &Path) -> Result<()> {
        self.persist_with(dest, true)
    }

    /// Like [`TempFile::persist`] but with no directory fsync: for a staging area, whose
    /// files are made durable one by one only when they are committed.
    pub fn persist_unsynced(self, dest: &Path) -> Result<()> {
        self.persist_with(dest, false)
    }

    fn persist_with(mut self, dest: &Path, durable: bool) -> Result<()> {
        match stat(dest)?.map(|s| s.kind) {
            None | Some(FileKind::File) => {}
            Some(kind) if kind.is_special() => return Err(Error::SpecialFile { path: dest.to_path_buf(), kind }),
            Some(kind) => {
                return Err(Error::Io {
                    action: "replace",
                    path: dest.to_path_buf(),
                    source: io::Error::other(format!("it is {}, not a file", kind.describe())),
                });
            }
        }
        if durable {
            rename_durable(&self.path, dest)?;
        } else {
            rename(&self.path, dest)?;
        }
        self.kept = true;
        Ok(())
    }
}

impl io::Write for TempFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.kept {
            let _ = remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::fs::symlink;

    fn setup() -> (tempfile::TempDir, PathBuf, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/f"), b"inside").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("f"), b"outside").unwrap();
        std::fs::create_dir(outside.path().join("sub")).unwrap();
        anchor(&root).unwrap();
        (dir, root, outside)
    }

    fn is_link_error<T: std::fmt::Debug>(r: Result<T>, at: &Path) -> bool {
        matches!(r, Err(Error::SpecialFile { ref path, kind: FileKind::Symlink }) if path == at)
    }

    #[test]
    fn links_inside_an_anchor_are_never_followed() {
        let (_d, root, outside) = setup();
        symlink(outside.path(), root.join("link")).unwrap();
        symlink(outside.path().join("f"), root.join("a/flink")).unwrap();
        let mut s = String::new();
        open_file(&root.join("a/b/f")).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "inside");
        assert!(is_link_error(open_file(&root.join("link/f")), &root.join("link")));
        assert!(is_link_error(open_file(&root.join("a/flink")), &root.join("a/flink")));
        assert!(is_link_error(Dir::open(&root.join("link/sub")), &root.join("link")));
        assert!(is_link_error(create_dir_all(&root.join("link/new")), &root.join("link")));
        assert!(is_link_error(remove_tree(&root.join("link/sub")), &root.join("link")));
        assert!(TempFile::new_in(&root.join("link")).is_err());
        // The link itself is an entry: listed as a link, removed as an entry.
        let d = Dir::open(&root).unwrap().unwrap();
        let kinds: Vec<_> = d.entries().unwrap().into_iter().map(|e| (e.name, e.kind)).collect();
        assert!(kinds.contains(&("link".into(), FileKind::Symlink)));
        remove_tree(&root.join("link")).unwrap();
        assert!(outside.path().join("f").is_file() && outside.path().join("sub").is_dir());
    }

    #[test]
    fn fifos_are_refused_without_blocking() {
        let (_d, root, _o) = setup();
        let fifo = root.join("a/pipe");
        rustix::fs::mknodat(rustix::fs::CWD, &fifo, FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
        assert!(matches!(open_file(&fifo), Err(Error::SpecialFile { kind: FileKind::Fifo, .. })));
        assert!(matches!(open_rw_create(&fifo), Err(Error::SpecialFile { kind: FileKind::Fifo, .. })));
        assert!(Dir::open(&fifo).is_err());
        // Outside any anchor, too.
        let free = tempfile::tempdir().unwrap();
        let f2 = free.path().join("pipe");
        rustix::fs::mknodat(rustix::fs::CWD, &f2, FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
        assert!(matches!(open_file(&f2), Err(Error::SpecialFile { kind: FileKind::Fifo, .. })));
    }

    #[test]
    fn temp_files_persist_or_vanish_and_trees_go() {
        let (_d, root, _o) = setup();
        let mut t = TempFile::new_in(&root.join("a")).unwrap();
        t.write_all(b"x").unwrap();
        t.persist(&root.join("a/g")).unwrap();
        assert_eq!(std::fs::read(root.join("a/g")).unwrap(), b"x");
        let t = TempFile::new_in(&root.join("a")).unwrap();
        let p = t.path().to_path_buf();
        drop(t);
        assert!(!p.exists());
        create_dir_all(&root.join("x/y/z")).unwrap();
        remove_tree(&root.join("x")).unwrap();
        assert!(!root.join("x").exists());
        remove_tree(&root.join("x")).unwrap();
    }

    #[test]
    fn the_fallback_resolver_refuses_links_too() {
        let (_d, root, outside) = setup();
        symlink(outside.path(), root.join("a/link")).unwrap();
        let fd = rfs::open(&root, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let rel = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(walk_beneath(fd.as_fd(), &rel(&["a", "b", "f"]), OFlags::RDONLY, Mode::empty()).is_ok());
        let through = rel(&["a", "link", "f"]);
        let err = walk_beneath(fd.as_fd(), &through, OFlags::RDONLY, Mode::empty()).unwrap_err();
        let e = explain(fd.as_fd(), &root, &through, "open", err);
        assert!(matches!(e, Error::SpecialFile { ref path, kind: FileKind::Symlink } if path == &root.join("a/link")));
        let at = rel(&["a", "link"]);
        let err = walk_beneath(fd.as_fd(), &at, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap_err();
        assert!(matches!(explain(fd.as_fd(), &root, &at, "open", err), Error::SpecialFile { .. }));
    }
}
