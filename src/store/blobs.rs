//! A content-addressed blob directory (`…/blobs/sha256/<hex>`), the layout of an OCI
//! image layout and of the registry's dedupe pool.
//!
//! Contracts: a blob file's name is always the digest wharf computed of its bytes; a blob
//! is never modified in place; temp files never sit inside `blobs/sha256/` (umoci's gc
//! aborts on a name there that is not a digest). Deleting a blob that is absent succeeds.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::fs::{Dir, FileKind, TempFile, create_dir_all_durable, fsync_dir};
use crate::error::{Error, Result};
use crate::model::Digest;

/// One directory of blobs.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

/// A file found in `blobs/sha256/`.
#[derive(Debug, Clone)]
pub struct BlobEntry {
    pub digest: Digest,
    pub size: u64,
    pub modified: Option<std::time::SystemTime>,
    /// The inode's identity and link count (from the same `lstat`).
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
}

/// The result of listing a blob directory: blobs, and anything that is not one.
#[derive(Debug, Default)]
pub struct BlobListing {
    pub blobs: Vec<BlobEntry>,
    /// Files or directories under `blobs/` whose name is not a sha256 digest (or that
    /// are not regular files).
    pub strays: Vec<PathBuf>,
    /// Links and special files among them (never opened, never a blob).
    pub special: Vec<(PathBuf, FileKind)>,
}

impl BlobStore {
    /// A store rooted at `root` (the `blobs` directory itself).
    pub fn new(root: impl Into<PathBuf>) -> BlobStore {
        BlobStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn alg_dir(&self) -> PathBuf {
        self.root.join("sha256")
    }

    /// Where `digest` lives. The path is built from the digest's hex only, never from input.
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.root.join("sha256").join(digest.hex())
    }

    /// True when the blob is a regular file here (a link or a FIFO named like a blob is
    /// not a blob, and a link on the way makes nothing present).
    pub fn contains(&self, digest: &Digest) -> bool {
        matches!(super::fs::kind(&self.path(digest)), Ok(Some(FileKind::File)))
    }

    /// The size of a stored blob, `None` when absent. Anything but a regular file there
    /// (a link, a FIFO) is an error naming it.
    pub fn size(&self, digest: &Digest) -> Result<Option<u64>> {
        let p = self.path(digest);
        match super::fs::stat(&p)? {
            Some(s) if s.kind == FileKind::File => Ok(Some(s.size)),
            Some(s) if s.kind.is_special() => Err(Error::SpecialFile { path: p, kind: s.kind }),
            Some(_) => Err(Error::Io { action: "stat blob", path: p, source: io::Error::other("not a regular file") }),
            None => Ok(None),
        }
    }

    /// Opens a blob for reading (a regular file only, reached without links).
    pub fn open(&self, digest: &Digest) -> Result<File> {
        super::fs::open_file(&self.path(digest))
    }

    /// Reads a small blob (a manifest, index or config), refusing one over `limit` bytes.
    pub fn read(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>> {
        super::fs::read_limited(&self.path(digest), limit)
    }

    /// Reads a small blob and checks that its bytes hash to `digest`.
    pub fn read_verified(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>> {
        let bytes = self.read(digest, limit)?;
        let actual = Digest::of(&bytes);
        if &actual != digest {
            return Err(Error::DigestMismatch {
                what: format!("blob {}", self.path(digest).display()),
                path: Some(self.path(digest)),
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(bytes)
    }

    /// Lists every blob; a missing directory is an empty store.
    pub fn list(&self) -> Result<BlobListing> {
        let mut out = BlobListing::default();
        let Some(root) = super::fs::read_dir_if_exists(&self.root)? else { return Ok(out) };
        for alg in root.entries()? {
            if alg.kind.is_special() {
                out.special.push((alg.path.clone(), alg.kind));
            }
            if alg.name != "sha256" || alg.kind != FileKind::Dir {
                out.strays.push(alg.path);
                continue;
            }
            let Some(dir) = root.open_dir(&alg.name)? else { continue };
            for e in dir.entries()? {
                if e.kind.is_special() {
                    out.special.push((e.path.clone(), e.kind));
                }
                let Some(meta) = dir.stat(&e.name)? else { continue };
                match e.name_str().and_then(Digest::from_hex) {
                    Some(digest) if meta.kind == FileKind::File => out.blobs.push(BlobEntry {
                        digest,
                        size: meta.size,
                        modified: Some(meta.modified),
                        dev: meta.dev,
                        ino: meta.ino,
                        nlink: meta.nlink,
                    }),
                    _ => out.strays.push(e.path),
                }
            }
        }
        out.blobs.sort_by(|a, b| a.digest.cmp(&b.digest));
        out.strays.sort();
        Ok(out)
    }

    /// Removes a blob; absent is success. Only the unit test below calls it: gc removes
    /// blobs through one `BlobDir` handle.
    #[cfg(test)]
    pub fn remove(&self, digest: &Digest) -> Result<()> {
        super::fs::remove_file(&self.path(digest))
    }

    /// Starts a blob whose temp file lives in `temp_dir` (same filesystem, never inside
    /// `blobs/sha256/`).
    pub fn writer(&self, temp_dir: &Path) -> Result<BlobWriter> {
        let file = TempFile::new_in(temp_dir)?;
        Ok(BlobWriter { file, hasher: Sha256::new(), written: 0, limit: None, store: self.clone() })
    }

    /// Stores `bytes` (a manifest, config or index wharf made) and returns its digest.
    pub fn put_bytes(&self, temp_dir: &Path, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        if self.size(&digest)? == Some(bytes.len() as u64) {
            return Ok(digest);
        }
        let mut w = self.writer(temp_dir)?;
        w.write_all(bytes).map_err(Error::io("write", temp_dir))?;
        w.finish(Some((&digest, bytes.len() as u64)))
    }

    /// Like [`BlobStore::put_bytes`], without any fsync: for a staging area, whose blobs
    /// are thrown away unless committed and are made durable one by one
    /// ([`BlobStore::sync`]) when they are. Receiving many small members then costs no
    /// disk flush each.
    pub fn put_bytes_unsynced(&self, temp_dir: &Path, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        if self.size(&digest)? == Some(bytes.len() as u64) {
            return Ok(digest);
        }
        let mut w = self.writer(temp_dir)?;
        w.write_all(bytes).map_err(Error::io("write", temp_dir))?;
        super::safe::create_dir_all(&self.alg_dir())?;
        w.file.persist_unsynced(&self.path(&digest))?;
        Ok(digest)
    }

    /// Flushes a stored blob's bytes to disk (before it is renamed somewhere durable).
    pub fn sync(&self, digest: &Digest) -> Result<()> {
        let p = self.path(digest);
        super::safe::open_file(&p)?.sync_all().map_err(Error::io("fsync", p))
    }

    /// Makes `digest` from `source` present here: a hard link (one inode for both), or a
    /// verified copy where links are impossible (another filesystem). Present already is
    /// success.
    pub fn link_from(&self, source: &BlobStore, digest: &Digest, temp_dir: &Path) -> Result<()> {
        let dest = self.path(digest);
        // Present is success; a link or FIFO named like the blob is refused (size()).
        if self.size(digest)?.is_some() {
            return Ok(());
        }
        create_dir_all_durable(&self.alg_dir())?;
        let src = source.path(digest);
        match super::fs::hard_link(&src, &dest)? {
            Ok(()) => return fsync_dir(&self.alg_dir()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::Io { action: "link blob from", path: src, source: e });
            }
            Err(_) => {}
        }
        let mut input = source.open(digest)?;
        let mut w = self.writer(temp_dir)?;
        // Read and write fail apart: a full disk names the destination, not the source.
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match io::Read::read(&mut input, &mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::Io { action: "read blob", path: src, source: e }),
            };
            w.write_all(&buf[..n]).map_err(Error::io("write a copy of a blob in", temp_dir))?;
        }
        let size = source.size(digest)?.unwrap_or(0);
        w.finish(Some((digest, size))).map(|_| ())
    }
}

impl BlobStore {
    /// The blobs of this store by name alone (no stat), with their inode numbers, sorted;
    /// names that are not digests are ignored (gc never touches what it does not
    /// recognise). Fail closed: a link or special file named like a blob is an error (it
    /// would make the blob look absent, and what it references unreachable).
    pub fn list_names(&self) -> Result<Vec<(Digest, u64)>> {
        let dir = self.alg_dir();
        let Some(listing) = super::fs::read_dir_if_exists(&dir)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        // Streamed: no name or path is kept per entry, only the 40-byte (digest, inode).
        listing.for_each_entry(&mut |name, kind, ino| {
            if kind.is_special() {
                return Err(Error::SpecialFile { path: dir.join(name), kind });
            }
            if kind == FileKind::File
                && let Some(d) = name.to_str().and_then(Digest::from_hex)
            {
                out.push((d, ino));
            }
            Ok(())
        })?;
        out.sort_unstable();
        Ok(out)
    }

    /// Removes many blobs, given with their inode numbers (from
    /// [`BlobStore::list_names`]): in inode order, in parallel chunks, through one open
    /// directory, then synced once. Absent blobs are success.
    pub fn remove_many(&self, blobs: &[(&Digest, u64)]) -> Result<()> {
        use rayon::prelude::*;
        let mut order: Vec<&(&Digest, u64)> = blobs.iter().collect();
        order.sort_by_key(|b| b.1);
        let Some(dir) = self.open_dir()? else { return Ok(()) };
        order.par_chunks(1024).try_for_each(|chunk| chunk.iter().try_for_each(|b| dir.remove(b.0)))?;
        dir.sync()
    }

    /// Adopts a staged blob file (a staging area's `blobs/sha256/<hex>`, already checked
    /// against `digest` and flushed) into this store by renaming it: no copy, and the
    /// name stays the digest wharf computed. The caller fsyncs [`BlobStore::alg_dir`]
    /// once after a batch.
    pub fn adopt(&self, staged: &BlobStore, digest: &Digest) -> Result<()> {
        super::fs::rename(&staged.path(digest), &self.path(digest))
    }

    /// Pins this store's copy of `digest` into `into` (a staging area's store) by a hard
    /// link, so that a concurrent gc cannot take it; returns the pin's path, or `None`
    /// when the copy is gone, links are impossible here, or the pin is not a regular
    /// file of `size` bytes. No link in either store is followed.
    pub fn pin_into(&self, into: &BlobStore, digest: &Digest, size: u64) -> Option<PathBuf> {
        create_dir_all_durable(&into.alg_dir()).ok()?;
        let pin = into.path(digest);
        match super::fs::hard_link(&self.path(digest), &pin).ok()? {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(_) => return None,
        }
        let st = super::fs::stat(&pin).ok()??;
        (st.kind == FileKind::File && st.size == size).then_some(pin)
    }
}

/// An open `blobs/sha256/` directory, for bulk work on many blobs (gc): each call names
/// the blob relative to the directory, so the kernel resolves one name, not a whole path.
pub struct BlobDir {
    dir: Dir,
}

/// Size and modification time of a blob file.
#[derive(Debug, Clone, Copy)]
pub struct BlobStat {
    pub size: u64,
    pub modified: std::time::SystemTime,
    /// The inode's identity and link count, for the space a removal releases.
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
}

impl BlobStore {
    /// Opens `blobs/sha256/` for [`BlobDir`] calls; `None` when it does not exist.
    pub fn open_dir(&self) -> Result<Option<BlobDir>> {
        Ok(Dir::open(&self.alg_dir())?.map(|dir| BlobDir { dir }))
    }
}

impl BlobDir {
    /// Size and mtime of a blob (not following links); `None` when absent.
    pub fn stat(&self, digest: &Digest) -> Result<Option<BlobStat>> {
        Ok(self.dir.stat(std::ffi::OsStr::new(&digest.hex()))?.map(|s| BlobStat {
            size: s.size,
            modified: s.modified,
            dev: s.dev,
            ino: s.ino,
            nlink: s.nlink,
        }))
    }

    /// Removes a blob; absent is success.
    pub fn remove(&self, digest: &Digest) -> Result<()> {
        self.dir.remove_file(std::ffi::OsStr::new(&digest.hex()))
    }

    /// Makes the removals durable.
    pub fn sync(&self) -> Result<()> {
        self.dir.sync()
    }
}

/// Renames a checked, fsynced temp file into `blobs/sha256/<hex of actual>` and makes the
/// rename durable. Content already stored there is left alone (the temp file goes).
fn place(store: &BlobStore, actual: &Digest, file: TempFile) -> Result<()> {
    if store.size(actual)?.is_some() {
        return Ok(());
    }
    create_dir_all_durable(&store.alg_dir())?;
    file.persist(&store.path(actual))
}

/// Checks written content (its digest and byte count) against what its descriptor
/// declares, when it declares anything.
fn check_content(actual: &Digest, written: u64, expected: Option<(&Digest, u64)>) -> Result<()> {
    let Some((digest, size)) = expected else { return Ok(()) };
    if written != size {
        return Err(Error::SizeMismatch { what: format!("blob {digest}"), expected: size, actual: written });
    }
    if actual != digest {
        return Err(Error::DigestMismatch {
            what: format!("blob of {size} bytes"),
            path: None,
            expected: digest.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

/// Writes one blob: hashes while writing, and [`BlobWriter::finish`] places the file only
/// when the digest and size match. Dropped unfinished, it leaves nothing behind.
pub struct BlobWriter {
    file: TempFile,
    hasher: Sha256,
    written: u64,
    limit: Option<u64>,
    store: BlobStore,
}

impl BlobWriter {
    /// Refuse to write more than `limit` bytes (a descriptor's declared size). Only the
    /// unit test of the limit sets one today: every writer checks digest and size when it
    /// finishes, which is what the operations rely on.
    #[cfg(test)]
    pub fn with_limit(mut self, limit: u64) -> BlobWriter {
        self.limit = Some(limit);
        self
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// Checks the content against `expected` (digest and size), fsyncs it and renames it
    /// into `blobs/sha256/<hex>`. A nil error means the content is stored at the returned
    /// digest.
    pub fn finish(self, expected: Option<(&Digest, u64)>) -> Result<Digest> {
        let actual = Digest::from_bytes(self.hasher.finalize().into());
        check_content(&actual, self.written, expected)?;
        if !self.store.contains(&actual) {
            let tmp_path = self.file.path().to_path_buf();
            self.file.as_file().sync_all().map_err(Error::io("fsync", tmp_path))?;
        }
        place(&self.store, &actual, self.file)?;
        Ok(actual)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(limit) = self.limit
            && self.written + buf.len() as u64 > limit
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("blob is larger than its declared size of {limit} bytes"),
            ));
        }
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Like [`BlobWriter`], but the bytes are hashed on the caller's thread while a helper
/// thread writes (and finally fsyncs) them, so hashing and disk I/O overlap. At most
/// `depth` chunks are in flight, so memory stays bounded. Same contract: the file is
/// placed only by [`PipelinedWriter::finish`] when digest and size match; dropped
/// unfinished, it leaves nothing behind.
pub struct PipelinedWriter {
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    back: std::sync::mpsc::Receiver<Vec<u8>>,
    worker: Option<std::thread::JoinHandle<io::Result<TempFile>>>,
    hasher: Sha256,
    written: u64,
    chunk: usize,
    store: BlobStore,
    temp_dir: PathBuf,
}

impl BlobStore {
    /// Starts a [`PipelinedWriter`] whose temp file lives in `temp_dir`.
    pub fn pipelined_writer(&self, temp_dir: &Path, chunk: usize, depth: usize) -> Result<PipelinedWriter> {
        let mut file = TempFile::new_in(temp_dir)?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(depth);
        let (back_tx, back) = std::sync::mpsc::channel::<Vec<u8>>();
        for _ in 0..depth + 1 {
            let _ = back_tx.send(vec![0u8; chunk]);
        }
        let worker = std::thread::spawn(move || {
            let mut flushed: u64 = 0;
            let mut written: u64 = 0;
            for buf in rx {
                file.write_all(&buf)?;
                written += buf.len() as u64;
                let _ = back_tx.send(buf);
                if written - flushed >= WRITEBACK_STEP {
                    start_writeback(file.as_file(), flushed, written - flushed);
                    flushed = written;
                }
            }
            file.as_file().sync_all()?;
            Ok(file)
        });
        Ok(PipelinedWriter {
            tx: Some(tx),
            back,
            worker: Some(worker),
            hasher: Sha256::new(),
            written: 0,
            chunk,
            store: self.clone(),
            temp_dir: temp_dir.to_path_buf(),
        })
    }
}

/// Writes one blob on the caller's thread while a task on the rayon pool (another core)
/// hashes it behind the writer, reading what was written back from the page cache: the
/// caller goes on to its next blob while the hash catches up (import of a tar: the
/// stream is read once, and both cores work). [`TrailingWriter::finish`] hands back a
/// [`PendingBlob`]; the hashing task then fsyncs the file and places it under the digest
/// it computed. Memory: one chunk buffer per running task. Dropped unfinished, the writer
/// tells the task to stop and leaves nothing behind.
pub struct TrailingWriter {
    file: Option<TempFile>,
    shared: std::sync::Arc<Trail>,
    written: u64,
    flushed: u64,
    rx: Option<std::sync::mpsc::Receiver<Result<Digest>>>,
}

/// What the writer tells the hashing task.
struct Trail {
    state: std::sync::Mutex<TrailState>,
    moved: std::sync::Condvar,
}

struct TrailState {
    written: u64,
    /// The file, handed over once the writer is done; `aborted` when it gave up.
    done: Option<TempFile>,
    aborted: bool,
}

/// A blob written by a [`TrailingWriter`] whose hash is still running.
pub struct PendingBlob {
    rx: std::sync::mpsc::Receiver<Result<Digest>>,
}

impl PendingBlob {
    /// Waits for the hash; the blob is then stored (fsynced) at the returned digest.
    pub fn wait(self) -> Result<Digest> {
        self.rx.recv().unwrap_or_else(|_| Err(Error::refused("a blob's hashing task stopped without an answer")))
    }
}

impl BlobStore {
    /// Starts a [`TrailingWriter`] whose temp file lives in `temp_dir`; the hashing task
    /// reads `chunk` bytes at a time.
    pub fn trailing_writer(&self, temp_dir: &Path, chunk: usize) -> Result<TrailingWriter> {
        let file = TempFile::new_in(temp_dir)?;
        let path = file.path().to_path_buf();
        let reader = file.as_file().try_clone().map_err(Error::io("open", path.clone()))?;
        let shared = std::sync::Arc::new(Trail {
            state: std::sync::Mutex::new(TrailState { written: 0, done: None, aborted: false }),
            moved: std::sync::Condvar::new(),
        });
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let task = shared.clone();
        let store = self.clone();
        rayon::spawn(move || {
            let _ = tx.send(hash_behind(&task, &reader, &path, chunk, &store));
        });
        Ok(TrailingWriter { file: Some(file), shared, written: 0, flushed: 0, rx: Some(rx) })
    }
}

/// The hashing task of a [`TrailingWriter`].
fn hash_behind(trail: &Trail, reader: &File, path: &Path, chunk: usize, store: &BlobStore) -> Result<Digest> {
    use std::os::unix::fs::FileExt;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; chunk];
    let mut hashed: u64 = 0;
    loop {
        let (upto, file) = {
            let mut st = trail.state.lock().map_err(|_| Error::refused("a blob writer panicked"))?;
            while st.written == hashed && st.done.is_none() && !st.aborted {
                st = trail.moved.wait(st).map_err(|_| Error::refused("a blob writer panicked"))?;
            }
            if st.aborted {
                return Err(Error::refused("the blob's writer stopped"));
            }
            (st.written, if st.written == hashed { st.done.take() } else { None })
        };
        if let Some(file) = file {
            let actual = Digest::from_bytes(hasher.finalize().into());
            file.as_file().sync_all().map_err(Error::io("fsync", path))?;
            place(store, &actual, file)?;
            return Ok(actual);
        }
        while hashed < upto {
            let want = buf.len().min(usize::try_from(upto - hashed).unwrap_or(usize::MAX));
            let n = reader.read_at(&mut buf[..want], hashed).map_err(Error::io("read back", path))?;
            if n == 0 {
                return Err(Error::Io {
                    action: "read back",
                    path: path.to_path_buf(),
                    source: io::ErrorKind::UnexpectedEof.into(),
                });
            }
            hasher.update(&buf[..n]);
            hashed += n as u64;
        }
    }
}

impl TrailingWriter {
    /// Appends `buf`; the hashing task may read it from now on.
    pub fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        let file = self.file.as_mut().expect("a TrailingWriter writes until finished");
        file.write_all(buf).map_err(Error::io("write", file.path().to_path_buf()))?;
        self.written += buf.len() as u64;
        if self.written - self.flushed >= WRITEBACK_STEP {
            start_writeback(file.as_file(), self.flushed, self.written - self.flushed);
            self.flushed = self.written;
        }
        if let Ok(mut st) = self.shared.state.lock() {
            st.written = self.written;
        }
        self.shared.moved.notify_one();
        Ok(())
    }

    /// Hands the file to the hashing task; the digest comes from [`PendingBlob::wait`].
    pub fn finish(mut self) -> PendingBlob {
        if let Ok(mut st) = self.shared.state.lock() {
            st.done = self.file.take();
        }
        self.shared.moved.notify_one();
        PendingBlob { rx: self.rx.take().expect("finished once") }
    }
}

impl Drop for TrailingWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            if let Ok(mut st) = self.shared.state.lock() {
                st.aborted = true;
            }
            self.shared.moved.notify_one();
            // Wait for the task to stop reading before the temp file goes.
            if let Some(rx) = self.rx.take() {
                let _ = rx.recv();
            }
        }
    }
}

/// How often the writer thread asks the kernel to start writing back what it wrote, so
/// the final fsync finds little left to do and disk writes overlap with reading.
const WRITEBACK_STEP: u64 = 8 << 20;

/// Starts (does not wait for) writeback of a range of `f`; a hint, errors ignored (the
/// fsync in `finish` is what guarantees durability).
#[cfg(target_os = "linux")]
fn start_writeback(f: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: `f` is an open file descriptor for the duration of the call; the call only
    // schedules I/O on it and touches no memory of ours.
    unsafe {
        libc::sync_file_range(
            f.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_f: &File, _offset: u64, _len: u64) {}

impl PipelinedWriter {
    /// A buffer of the chunk size to fill (recycled from the writer thread).
    pub fn buffer(&mut self) -> Vec<u8> {
        let mut b = self.back.recv().unwrap_or_default();
        b.resize(self.chunk, 0);
        b
    }

    /// Hashes `buf[..n]` and hands it to the writer thread.
    pub fn submit(&mut self, mut buf: Vec<u8>, n: usize) -> Result<()> {
        buf.truncate(n);
        self.hasher.update(&buf);
        self.written += n as u64;
        let sent = self.tx.as_ref().map(|tx| tx.send(buf).is_ok()).unwrap_or(false);
        if !sent {
            // The writer thread stopped: its error says why.
            return Err(self.join().err().unwrap_or_else(|| Error::Io {
                action: "write to",
                path: self.temp_dir.clone(),
                source: io::Error::other("the writer thread stopped"),
            }));
        }
        Ok(())
    }

    fn join(&mut self) -> Result<TempFile> {
        drop(self.tx.take());
        let worker = self.worker.take().ok_or_else(|| Error::Io {
            action: "write to",
            path: self.temp_dir.clone(),
            source: io::Error::other("writer already finished"),
        })?;
        match worker.join() {
            Ok(r) => r.map_err(|e| Error::Io { action: "write a blob in", path: self.temp_dir.clone(), source: e }),
            Err(_) => Err(Error::Io {
                action: "write a blob in",
                path: self.temp_dir.clone(),
                source: io::Error::other("the writer thread panicked"),
            }),
        }
    }

    /// Waits for the writes and the fsync, checks against `expected`, and renames the
    /// file into `blobs/sha256/<hex>`. A nil error means the content is stored there.
    pub fn finish(mut self, expected: Option<(&Digest, u64)>) -> Result<Digest> {
        let file = self.join()?;
        let actual = Digest::from_bytes(std::mem::take(&mut self.hasher).finalize().into());
        check_content(&actual, self.written, expected)?;
        place(&self.store, &actual, file)?;
        Ok(actual)
    }
}

impl Drop for PipelinedWriter {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fs::TEMP_PREFIX;
    use std::fs;

    #[test]
    fn writer_checks_digest_and_size() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path().join("blobs"));
        let tmp = dir.path();
        let good = Digest::of(b"hello");

        let mut w = store.writer(tmp).unwrap();
        w.write_all(b"hello").unwrap();
        assert!(matches!(w.finish(Some((&good, 4))), Err(Error::SizeMismatch { .. })));

        let mut w = store.writer(tmp).unwrap();
        w.write_all(b"hellp").unwrap();
        assert!(matches!(w.finish(Some((&good, 5))), Err(Error::DigestMismatch { .. })));
        assert!(!store.contains(&good));

        let mut w = store.writer(tmp).unwrap();
        w.write_all(b"hello").unwrap();
        assert_eq!(w.finish(Some((&good, 5))).unwrap(), good);
        assert_eq!(fs::read(store.path(&good)).unwrap(), b"hello");

        let listing = store.list().unwrap();
        assert_eq!(listing.blobs.len(), 1);
        assert!(listing.strays.is_empty());
        let leftovers: Vec<_> = fs::read_dir(tmp)
            .unwrap()
            .filter_map(|e| {
                let n = e.unwrap().file_name().to_string_lossy().to_string();
                n.starts_with(TEMP_PREFIX).then_some(n)
            })
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn trailing_writer_hashes_behind_and_places_by_digest() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path().join("blobs"));
        let temps = |d: &Path| {
            fs::read_dir(d)
                .unwrap()
                .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(TEMP_PREFIX))
                .count()
        };
        // Several blobs in flight at once, each written in uneven chunks; the hash reads
        // them back in chunks of another size.
        let blobs: Vec<Vec<u8>> =
            (0..4u32).map(|k| (0..(30_000 + k * 777)).flat_map(|i| (i ^ k).to_le_bytes()).collect()).collect();
        let pending: Vec<PendingBlob> = blobs
            .iter()
            .map(|data| {
                let mut w = store.trailing_writer(dir.path(), 4096).unwrap();
                for part in data.chunks(1000 + data.len() % 7) {
                    w.write_all(part).unwrap();
                }
                w.finish()
            })
            .collect();
        for (p, data) in pending.into_iter().zip(&blobs) {
            let d = p.wait().unwrap();
            assert_eq!(d, Digest::of(data));
            assert_eq!(&fs::read(store.path(&d)).unwrap(), data);
        }
        // An empty blob, and a writer dropped unfinished: nothing is left behind.
        let empty = store.trailing_writer(dir.path(), 4096).unwrap().finish().wait().unwrap();
        assert_eq!(empty, Digest::of(b""));
        let mut w = store.trailing_writer(dir.path(), 4096).unwrap();
        w.write_all(b"half a blob").unwrap();
        drop(w);
        assert_eq!(temps(dir.path()), 0);
        assert!(!store.contains(&Digest::of(b"half a blob")));
    }

    #[test]
    fn pipelined_writer_matches_and_checks() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path().join("blobs"));
        let data: Vec<u8> = (0..5000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut w = store.pipelined_writer(dir.path(), 1000, 2).unwrap();
        for part in data.chunks(1000) {
            let mut b = w.buffer();
            b[..part.len()].copy_from_slice(part);
            w.submit(b, part.len()).unwrap();
        }
        let d = Digest::of(&data);
        assert_eq!(w.finish(Some((&d, data.len() as u64))).unwrap(), d);
        assert_eq!(fs::read(store.path(&d)).unwrap(), data);
        let mut w = store.pipelined_writer(dir.path(), 10, 2).unwrap();
        let b = w.buffer();
        w.submit(b, 3).unwrap();
        assert!(matches!(w.finish(Some((&d, 3))), Err(Error::DigestMismatch { .. })));
        let stray: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(TEMP_PREFIX))
            .collect();
        assert!(stray.is_empty());
    }

    #[test]
    fn blob_dir_stats_and_removes_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path().join("blobs"));
        assert!(store.open_dir().unwrap().is_none(), "no directory yet");
        let d = store.put_bytes(dir.path(), b"twelve bytes").unwrap();
        let bd = store.open_dir().unwrap().unwrap();
        assert_eq!(bd.stat(&d).unwrap().unwrap().size, 12);
        bd.remove(&d).unwrap();
        bd.remove(&d).unwrap();
        assert!(bd.stat(&d).unwrap().is_none());
        assert!(!store.contains(&d));
    }

    #[test]
    fn writer_limit_stops_oversized_input() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path().join("blobs"));
        let mut w = store.writer(dir.path()).unwrap().with_limit(3);
        assert!(w.write_all(b"abcd").is_err());
    }

    #[test]
    fn link_shares_the_inode_and_strays_are_listed() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let pool = BlobStore::new(dir.path().join("pool"));
        let repo = BlobStore::new(dir.path().join("repo/blobs"));
        let d = pool.put_bytes(dir.path(), b"layer").unwrap();
        repo.link_from(&pool, &d, dir.path()).unwrap();
        repo.link_from(&pool, &d, dir.path()).unwrap();
        let a = fs::metadata(pool.path(&d)).unwrap();
        let b = fs::metadata(repo.path(&d)).unwrap();
        assert_eq!(a.ino(), b.ino());
        fs::write(repo.alg_dir().join("not-a-digest"), b"x").unwrap();
        let l = repo.list().unwrap();
        assert_eq!(l.blobs.len(), 1);
        assert_eq!(l.strays.len(), 1);
        repo.remove(&d).unwrap();
        repo.remove(&d).unwrap();
        assert!(!repo.contains(&d));
    }
}
