//! Blobs received from a source: streamed and hashed into the staging area (or, when the
//! registry already holds the claimed digest, only hashed), and the source-independent
//! view of what a source holds ([`Content`]).

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::model::Digest;
use crate::store::{BlobStore, Staging};

/// Bytes copied per read while staging.
pub const CHUNK: usize = 1 << 20;
/// Blobs up to this size are hashed in memory before anything is written.
const SMALL: u64 = 256 << 10;
/// Largest JSON document (manifest.json, index.json, a manifest or config) read whole.
pub const MAX_JSON: u64 = crate::registry::repository::MAX_DOCUMENT_BYTES;

/// How many first bytes of each blob are kept: what the shared layer check reads.
pub const HEAD: usize = crate::model::check::LAYER_HEAD;

/// One blob the import has received and hashed.
#[derive(Debug, Clone)]
pub struct Blob {
    pub digest: Digest,
    pub size: u64,
    /// The first [`HEAD`] bytes, to tell a compressed layer from a plain tar.
    pub head: Vec<u8>,
    /// Where the verified bytes can be read now.
    pub path: PathBuf,
    /// True when the bytes sit in our staging area (and must be moved in at commit);
    /// false when the registry already held them.
    pub staged: bool,
}

impl Blob {
    /// Reads a small blob whole (a JSON document).
    pub fn read_small(&self, what: &str) -> Result<Vec<u8>> {
        if self.size > MAX_JSON {
            return Err(Error::TooLarge { what: what.to_string(), limit: MAX_JSON });
        }
        crate::store::fs::read_limited(&self.path, MAX_JSON)
    }
}

/// Where received blobs go: the staging area, and the store that tells what the registry
/// already has (the pool, or the layout's blobs for a plain-layout registry).
pub struct Sink<'a> {
    pub staging: &'a Staging,
    pub existing: BlobStore,
    pub buf: Vec<u8>,
    /// What may stand in for bytes a source did not send ([`Sink::reuse`]); `None`:
    /// nothing may.
    pub possession: Option<&'a Possession<'a>>,
}

/// Proof of possession: a blob the registry holds may stand in for bytes a source did not
/// send (a pull that skips a download, a delta that leaves a blob out) only when readable
/// content holds it, so that naming a digest is never a way round a read lock. The set is
/// computed once, on first use.
pub struct Possession<'a> {
    scan: Box<dyn Fn() -> Result<std::collections::BTreeSet<Digest>> + Send + Sync + 'a>,
    set: std::sync::OnceLock<std::collections::BTreeSet<Digest>>,
}

impl<'a> Possession<'a> {
    /// Possession decided by `scan` (the digests readable content holds).
    pub fn new(scan: impl Fn() -> Result<std::collections::BTreeSet<Digest>> + Send + Sync + 'a) -> Possession<'a> {
        Possession { scan: Box::new(scan), set: std::sync::OnceLock::new() }
    }

    /// The registry's readable content as of now.
    pub fn of(registry: &'a crate::registry::Registry, now: crate::model::Timestamp) -> Possession<'a> {
        Possession::new(move || registry.readable_blobs(now))
    }

    /// Whether readable content holds `digest`.
    pub fn holds(&self, digest: &Digest) -> Result<bool> {
        if let Some(s) = self.set.get() {
            return Ok(s.contains(digest));
        }
        let s = (self.scan)()?;
        Ok(self.set.get_or_init(|| s).contains(digest))
    }
}

impl<'a> Sink<'a> {
    pub fn new(staging: &'a Staging, existing: BlobStore) -> Sink<'a> {
        Sink { staging, existing, buf: vec![0u8; CHUNK], possession: None }
    }

    /// Streams `size` bytes from `r`, hashing them, into the staging area. When `claimed`
    /// (the digest the source names the content by) is already in the registry with this
    /// size, the bytes are only hashed, not written. A short read is a truncated source; a
    /// hash that differs from `claimed` is a digest mismatch naming `what` and both digests.
    pub fn receive(&mut self, r: &mut dyn Read, size: u64, claimed: Option<&Digest>, what: &str) -> Result<Blob> {
        let known = match claimed {
            Some(d) => self.existing.size(d)? == Some(size),
            None => false,
        };
        let mut head = Vec::new();
        let mut got: u64 = 0;
        let (digest, path, staged) = if known {
            // Hold the registry's copy with a hard link in our staging area first, so
            // that a concurrent gc (which never takes live staging) cannot free it before
            // the commit. Where links are impossible, the commit re-checks and says so.
            let pin = claimed.and_then(|c| self.pin_existing(c, size));
            let mut h = Sha256::new();
            loop {
                let n = read_some(r, &mut self.buf, size - got, what)?;
                if n == 0 {
                    break;
                }
                note_head(&mut head, &self.buf[..n]);
                h.update(&self.buf[..n]);
                got += n as u64;
            }
            let d = Digest::from_bytes(h.finalize().into());
            match pin {
                Some(pin) => (d, pin, true),
                None => {
                    let p = self.existing.path(&d);
                    (d, p, false)
                }
            }
        } else if size <= SMALL {
            // Small blobs (configs, manifests, the empty members of a many-member tar) are
            // hashed in memory first and written only when staging lacks them: no writer
            // thread and no fsync per member (the commit syncs what it keeps), and
            // identical members are stored once.
            let n = size as usize;
            while got < size {
                let k = read_some(r, &mut self.buf[got as usize..n], size - got, what)?;
                if k == 0 {
                    break;
                }
                got += k as u64;
            }
            if got != size {
                return Err(truncated(what, got, size));
            }
            let bytes = &self.buf[..n];
            note_head(&mut head, bytes);
            let store = self.staging.blobs();
            let d = store.put_bytes_unsynced(self.staging.temp_dir(), bytes)?;
            let p = store.path(&d);
            (d, p, true)
        } else {
            check_free_space(self.staging.dir(), size, what)?;
            let store = self.staging.blobs();
            let mut w = store.pipelined_writer(self.staging.temp_dir(), CHUNK, 4)?;
            loop {
                let mut b = w.buffer();
                let n = read_some(r, &mut b, size - got, what)?;
                if n == 0 {
                    break;
                }
                note_head(&mut head, &b[..n]);
                w.submit(b, n)?;
                got += n as u64;
            }
            if got != size {
                return Err(truncated(what, got, size));
            }
            let d = w.finish(None)?;
            let p = store.path(&d);
            (d, p, true)
        };
        if got != size {
            return Err(truncated(what, got, size));
        }
        if let Some(c) = claimed
            && c != &digest
        {
            return Err(Error::DigestMismatch {
                what: what.to_string(),
                path: None,
                expected: c.to_string(),
                actual: digest.to_string(),
            });
        }
        Ok(Blob { digest, size, head, path, staged })
    }

    /// [`Sink::receive`] for a stream that goes on after this blob (a tar's members):
    /// a large blob the registry lacks is written to staging on this thread and hashed
    /// on another core, trailing the writer through the page cache
    /// ([`BlobStore::trailing_writer`]), so this thread goes on to the next member while
    /// the hash catches up. Still one pass over the stream; memory stays one chunk per
    /// thread. The digest (and the check against `claimed`) comes from
    /// [`Received::wait`]. Known and small blobs are received as by [`Sink::receive`].
    pub fn receive_deferred(
        &mut self,
        r: &mut dyn Read,
        size: u64,
        claimed: Option<&Digest>,
        what: &str,
    ) -> Result<Received> {
        let known = match claimed {
            Some(d) => self.existing.size(d)? == Some(size),
            None => false,
        };
        if known || size <= SMALL {
            return self.receive(r, size, claimed, what).map(Received::Ready);
        }
        check_free_space(self.staging.dir(), size, what)?;
        let store = self.staging.blobs();
        let mut w = store.trailing_writer(self.staging.temp_dir(), CHUNK)?;
        let mut head = Vec::new();
        let mut got: u64 = 0;
        loop {
            let n = read_some(r, &mut self.buf, size - got, what)?;
            if n == 0 {
                break;
            }
            note_head(&mut head, &self.buf[..n]);
            w.write_all(&self.buf[..n])?;
            got += n as u64;
        }
        if got != size {
            return Err(truncated(what, got, size));
        }
        Ok(Received::Hashing { pending: w.finish(), store, size, head, claimed: claimed.cloned(), what: what.into() })
    }

    /// Hard-links the registry's copy of `digest` into the staging area; `None` when
    /// the copy is gone or links are impossible here.
    fn pin_existing(&self, digest: &Digest, size: u64) -> Option<PathBuf> {
        self.existing.pin_into(&self.staging.blobs(), digest, size)
    }

    /// A blob the registry already holds with `size` bytes, pinned in the staging area
    /// (against a concurrent gc) without reading it from the source; `None` when the
    /// registry lacks it, or when no readable content holds it ([`Possession`]). Lets a
    /// pull skip the download of content it has.
    pub fn reuse(&self, digest: &Digest, size: u64) -> Result<Option<Blob>> {
        if self.existing.size(digest)? != Some(size) {
            return Ok(None);
        }
        match self.possession {
            Some(p) if p.holds(digest)? => {}
            _ => return Ok(None),
        }
        let (path, staged) = match self.pin_existing(digest, size) {
            Some(pin) => (pin, true),
            None => (self.existing.path(digest), false),
        };
        // As many head bytes as a received blob keeps: the layer check reads them all.
        let mut head = vec![0u8; HEAD.min(usize::try_from(size).unwrap_or(HEAD))];
        let mut f = crate::store::fs::open_file(&path)?;
        f.read_exact(&mut head).map_err(Error::io("read blob", path.clone()))?;
        Ok(Some(Blob { digest: digest.clone(), size, head, path, staged }))
    }

    /// Stores bytes wharf made (a synthesised manifest or index).
    pub fn put(&mut self, bytes: &[u8]) -> Result<Blob> {
        let mut r = bytes;
        self.receive(&mut r, bytes.len() as u64, Some(&Digest::of(bytes)), "a manifest wharf made")
    }
}

/// A blob from [`Sink::receive_deferred`]: received, or written and still being hashed.
pub enum Received {
    Ready(Blob),
    Hashing {
        pending: crate::store::blobs::PendingBlob,
        store: BlobStore,
        size: u64,
        head: Vec<u8>,
        claimed: Option<Digest>,
        what: String,
    },
}

impl Received {
    /// Waits for the hash, checks it against the claimed digest, and gives the blob (its
    /// file placed in staging under the digest wharf computed).
    pub fn wait(self) -> Result<Blob> {
        match self {
            Received::Ready(b) => Ok(b),
            Received::Hashing { pending, store, size, head, claimed, what } => {
                let digest = pending.wait()?;
                if let Some(c) = claimed
                    && c != digest
                {
                    return Err(Error::DigestMismatch {
                        what,
                        path: None,
                        expected: c.to_string(),
                        actual: digest.to_string(),
                    });
                }
                let path = store.path(&digest);
                Ok(Blob { digest, size, head, path, staged: true })
            }
        }
    }
}

fn truncated(what: &str, got: u64, size: u64) -> Error {
    Error::bad_input(what, format!("truncated: the source ended after {got} of its {size} bytes"))
}

fn note_head(head: &mut Vec<u8>, chunk: &[u8]) {
    if head.len() < HEAD {
        let take = (HEAD - head.len()).min(chunk.len());
        head.extend_from_slice(&chunk[..take]);
    }
}

fn read_some(r: &mut dyn Read, buf: &mut [u8], left: u64, what: &str) -> Result<usize> {
    if left == 0 {
        return Ok(0);
    }
    let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
    loop {
        match r.read(&mut buf[..want]) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::bad_input(what, format!("could not read the source: {e}"))),
        }
    }
}

/// Refuses a blob that declares more bytes than the staging filesystem has free.
pub fn check_free_space(dir: &Path, size: u64, what: &str) -> Result<()> {
    if size < (64 << 20) {
        return Ok(());
    }
    if let Some(free) = free_bytes(dir)
        && size > free
    {
        return Err(Error::refused(format!(
            "{what} declares {size} bytes, more than the {free} bytes free under {}; refused before writing anything",
            dir.display()
        )));
    }
    Ok(())
}

fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe_zeroed_statvfs();
    // SAFETY: `c` is a valid NUL-terminated path and `s` a valid, writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut s) };
    (rc == 0).then(|| {
        #[allow(clippy::unnecessary_cast)]
        let v = (s.f_bavail as u64).saturating_mul(s.f_frsize as u64);
        v
    })
}

fn unsafe_zeroed_statvfs() -> libc::statvfs {
    // SAFETY: statvfs is a plain C struct of integers; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

/// What a source holds, by path relative to its root (a tar member name or a file under
/// a directory), independent of whether it was a tar or a directory.
pub trait Content {
    /// A one-word description of the source for messages (`archive`, `directory`).
    fn label(&self) -> String;
    /// The blob at `path` (symbolic links inside the source resolved), or `None`.
    fn member(&mut self, sink: &mut Sink<'_>, path: &str) -> Result<Option<Blob>>;
    /// The blob `digest` under `blobs/sha256/` with the size a descriptor declares.
    fn blob(&mut self, sink: &mut Sink<'_>, digest: &Digest, size: u64) -> Result<Option<Blob>>;
    /// Every regular member directly under `blobs/sha256/` that is at most `max` bytes.
    fn small_blobs(&mut self, sink: &mut Sink<'_>, max: u64) -> Result<Vec<Blob>>;
}

/// A tar source, fully received: member name → digest (each distinct blob held once,
/// so a member costs its name and a digest), and links.
#[derive(Default)]
pub struct TarContent {
    pub label: String,
    files: BTreeMap<String, Digest>,
    blobs: HashMap<Digest, Blob>,
    links: BTreeMap<String, String>,
}

impl TarContent {
    pub fn new(label: &str) -> TarContent {
        TarContent { label: label.to_string(), ..TarContent::default() }
    }

    /// Records a regular member (a later member of the same name replaces it).
    pub fn insert_file(&mut self, name: String, blob: Blob) {
        self.links.remove(&name);
        self.files.insert(name, blob.digest.clone());
        self.blobs.entry(blob.digest.clone()).or_insert(blob);
    }

    /// Records a link member, resolved to a member name.
    pub fn insert_link(&mut self, name: String, target: String) {
        self.files.remove(&name);
        self.links.insert(name, target);
    }

    fn resolve(&self, path: &str) -> Result<Option<&Blob>> {
        let mut p = path.to_string();
        for _ in 0..16 {
            if let Some(d) = self.files.get(&p) {
                return Ok(self.blobs.get(d));
            }
            match self.links.get(&p) {
                Some(t) => p = t.clone(),
                None => return Ok(None),
            }
        }
        Err(Error::bad_input(&self.label, format!("member {path}: too many levels of links (a loop?)")))
    }
}

impl Content for TarContent {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn member(&mut self, _sink: &mut Sink<'_>, path: &str) -> Result<Option<Blob>> {
        let p = super::paths::normalise(path)
            .map_err(|why| Error::bad_input(&self.label, format!("the archive names the member `{path}`: {why}")))?;
        Ok(self.resolve(&p)?.cloned())
    }

    fn blob(&mut self, _sink: &mut Sink<'_>, digest: &Digest, size: u64) -> Result<Option<Blob>> {
        let name = format!("blobs/sha256/{}", digest.hex());
        let Some(b) = self.resolve(&name)?.cloned() else { return Ok(None) };
        if b.digest != *digest {
            return Err(Error::DigestMismatch {
                what: format!("{}: member {name}", self.label),
                path: None,
                expected: digest.to_string(),
                actual: b.digest.to_string(),
            });
        }
        if b.size != size {
            return Err(Error::SizeMismatch {
                what: format!("{}: member {name} ({digest})", self.label),
                expected: size,
                actual: b.size,
            });
        }
        Ok(Some(b))
    }

    fn small_blobs(&mut self, _sink: &mut Sink<'_>, max: u64) -> Result<Vec<Blob>> {
        Ok(self
            .files
            .iter()
            .filter(|(n, _)| n.starts_with("blobs/sha256/") && n.matches('/').count() == 2)
            .filter_map(|(_, d)| self.blobs.get(d))
            .filter(|b| b.size <= max)
            .cloned()
            .collect())
    }
}

/// A directory source (an OCI layout or a skopeo `dir:`): files are received on demand.
pub struct DirContent {
    pub root: PathBuf,
    /// A skopeo `dir:` directory: blobs are `<hex>` (child manifests `<hex>.manifest.json`)
    /// at the top, not under `blobs/sha256/`.
    pub skopeo: bool,
    pub cache: BTreeMap<String, Blob>,
}

impl DirContent {
    pub fn new(root: &Path, skopeo: bool) -> DirContent {
        DirContent { root: root.to_path_buf(), skopeo, cache: BTreeMap::new() }
    }

    fn receive(&mut self, sink: &mut Sink<'_>, rel: &str, claimed: Option<&Digest>) -> Result<Option<Blob>> {
        if let Some(b) = self.cache.get(rel) {
            return Ok(Some(b.clone()));
        }
        let mut path = self.root.clone();
        for c in rel.split('/') {
            path.push(c);
        }
        // The user's source: links are followed, but only a regular file is opened (a
        // FIFO would block the import forever), checked on the open handle.
        if crate::store::files::input_is_dir(&path)? != Some(false) {
            return Ok(None);
        }
        let Some(f) = crate::store::fs::open_file_if_exists(&path)? else { return Ok(None) };
        let meta = f.metadata().map_err(Error::io("stat", path.clone()))?;
        let mut r = io::BufReader::with_capacity(CHUNK, f);
        let b = sink.receive(&mut r, meta.len(), claimed, &path.display().to_string())?;
        self.cache.insert(rel.to_string(), b.clone());
        Ok(Some(b))
    }
}

impl Content for DirContent {
    fn label(&self) -> String {
        self.root.display().to_string()
    }

    fn member(&mut self, sink: &mut Sink<'_>, path: &str) -> Result<Option<Blob>> {
        let p = super::paths::normalise(path)
            .map_err(|why| Error::bad_input(self.label(), format!("a file named `{path}`: {why}")))?;
        self.receive(sink, &p, None)
    }

    fn blob(&mut self, sink: &mut Sink<'_>, digest: &Digest, size: u64) -> Result<Option<Blob>> {
        let candidates = if self.skopeo {
            vec![digest.hex(), format!("{}.manifest.json", digest.hex())]
        } else {
            vec![format!("blobs/sha256/{}", digest.hex())]
        };
        let mut hit = self.cache.iter().find(|(_, b)| &b.digest == digest).map(|(k, b)| (k.clone(), b.clone()));
        for rel in candidates {
            if hit.is_some() {
                break;
            }
            if let Some(b) = self.receive(sink, &rel, Some(digest))? {
                hit = Some((rel, b));
                break;
            }
        }
        let Some((rel, b)) = hit else { return Ok(None) };
        if b.size != size {
            return Err(Error::SizeMismatch {
                what: format!("{}/{rel} ({digest})", self.label()),
                expected: size,
                actual: b.size,
            });
        }
        Ok(Some(b))
    }

    fn small_blobs(&mut self, sink: &mut Sink<'_>, max: u64) -> Result<Vec<Blob>> {
        let dir = self.root.join("blobs").join("sha256");
        let mut names = crate::store::files::small_input_files(&dir, max);
        names.retain(|n| Digest::from_hex(n).is_some());
        names.sort();
        let mut out = Vec::new();
        for n in names {
            let d = Digest::from_hex(&n).expect("checked");
            if let Some(b) = self.receive(sink, &format!("blobs/sha256/{n}"), Some(&d))? {
                out.push(b);
            }
        }
        Ok(out)
    }
}
