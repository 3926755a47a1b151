//! What a SOURCE is, decided by its content (magic bytes), never by its name: a
//! directory (an OCI layout or a skopeo `dir:`), or a byte stream that is a tar, possibly
//! wrapped in gzip, zstd, xz or bzip2. Also the guard against decompression bombs.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::error::{Error, Result};
pub use crate::model::media::Wrapper;
use crate::ops::progress::Bar;

/// A wrapper that expands more than this many times its compressed size…
pub const BOMB_RATIO: u64 = 200;
/// …once it has produced at least this many bytes, is refused as a decompression bomb.
pub const BOMB_FLOOR: u64 = 64 << 20;

/// True when a 512-byte block is a tar header: the `ustar` magic at 257, or (old v7
/// archives) a valid header checksum.
pub fn is_tar_header(block: &[u8]) -> bool {
    if block.len() < 512 {
        return false;
    }
    if &block[257..262] == b"ustar" {
        return true;
    }
    let stored = std::str::from_utf8(&block[148..156])
        .ok()
        .map(|s| s.trim_matches(|c: char| c == '\0' || c == ' '))
        .and_then(|s| u32::from_str_radix(s, 8).ok());
    let computed: u32 =
        block[..512].iter().enumerate().map(|(i, b)| if (148..156).contains(&i) { 32 } else { u32::from(*b) }).sum();
    stored == Some(computed) && block[0] != 0
}

/// What a SOURCE argument turned out to be.
pub enum Opened {
    /// An OCI image layout directory (`oci-layout` + `index.json`).
    LayoutDir(PathBuf),
    /// A skopeo `dir:` directory (`manifest.json` + `version`).
    SkopeoDir(PathBuf),
    /// A tar stream (already unwrapped).
    Tar { reader: Box<dyn Read>, wrapper: Wrapper, input_size: Option<u64> },
}

/// Opens SOURCE (`-` is stdin) and classifies it by content.
pub fn open(source: &str, progress: &Bar) -> Result<Opened> {
    let (raw, input_size): (Box<dyn Read>, Option<u64>) = if source == "-" {
        (Box::new(io::stdin().lock()), None)
    } else {
        let path = Path::new(source);
        let meta = std::fs::metadata(path).map_err(Error::io("open the import source", path))?;
        if meta.is_dir() {
            return classify_dir(path);
        }
        let f = File::open(path).map_err(Error::io("open the import source", path))?;
        (Box::new(f), Some(meta.len()))
    };
    open_stream(source, raw, input_size, progress)
}

/// Classifies a byte stream (a file, stdin, or a library caller's reader) by content:
/// a tar, possibly wrapped in gzip, zstd, xz or bzip2. `label` names it in errors.
pub fn open_stream(source: &str, raw: Box<dyn Read>, input_size: Option<u64>, progress: &Bar) -> Result<Opened> {
    let label = || source.to_string();
    let raw: Box<dyn Read> = progress.wrap_read(raw);
    let compressed = Rc::new(Cell::new(0u64));
    let (head, rest) = peek(Box::new(Counting { inner: raw, count: compressed.clone() }), 8)
        .map_err(Error::io("read the import source", source))?;
    if head.is_empty() {
        return Err(Error::bad_input(
            label(),
            "the source is empty (0 bytes); expected a docker-archive, an oci-archive or a compressed tar",
        ));
    }
    let wrapper = Wrapper::sniff(&head);
    let unwrapped: Box<dyn Read> = match wrapper {
        Wrapper::None => rest,
        Wrapper::Gzip => Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::with_capacity(1 << 16, rest))),
        Wrapper::Zstd => Box::new(
            zstd::stream::read::Decoder::new(rest)
                .map_err(|e| Error::bad_input(label(), format!("not a valid zstd stream: {e}")))?,
        ),
        Wrapper::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(io::BufReader::with_capacity(1 << 16, rest))),
        Wrapper::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(io::BufReader::with_capacity(1 << 16, rest))),
    };
    let guarded: Box<dyn Read> = if wrapper == Wrapper::None {
        unwrapped
    } else {
        Box::new(BombGuard::new(
            unwrapped,
            move || compressed.get(),
            format!("{} ({} wrapper)", label(), wrapper.name()),
        ))
    };
    let (block, reader) = peek(guarded, 512).map_err(|e| {
        Error::bad_input(label(), format!("the {} stream is corrupt or truncated: {e}", wrapper.name()))
    })?;
    if block.is_empty() {
        return Err(Error::bad_input(
            label(),
            format!("the {} stream decompresses to nothing; expected a tar archive", wrapper.name()),
        ));
    }
    if !is_tar_header(&block) && block.iter().any(|b| *b != 0) {
        let inner = Wrapper::sniff(&block);
        let what = if inner != Wrapper::None {
            format!("{} data inside a {} wrapper (doubly compressed)", inner.name(), wrapper.name())
        } else if wrapper == Wrapper::None {
            "not a tar archive, nor gzip, zstd, xz or bzip2".to_string()
        } else {
            format!("{}-compressed, but what it holds is not a tar archive", wrapper.name())
        };
        return Err(Error::bad_input(
            label(),
            format!(
                "{what}; wharf imports docker-archives, oci-archives, OCI layout directories and skopeo dir: directories"
            ),
        ));
    }
    Ok(Opened::Tar { reader, wrapper, input_size })
}

fn classify_dir(path: &Path) -> Result<Opened> {
    if path.join("oci-layout").is_file() {
        return Ok(Opened::LayoutDir(path.to_path_buf()));
    }
    if path.join("manifest.json").is_file() && path.join("version").is_file() {
        return Ok(Opened::SkopeoDir(path.to_path_buf()));
    }
    Err(Error::bad_input(
        path.display().to_string(),
        "a directory that is neither an OCI image layout (no oci-layout file) nor a skopeo dir: directory (no manifest.json and version)",
    ))
}

/// Reads up to `n` bytes and returns them with a reader that yields them again first.
fn peek(mut r: Box<dyn Read>, n: usize) -> io::Result<(Vec<u8>, Box<dyn Read>)> {
    let mut head = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match r.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    let replay = Cursor::new(head.clone());
    Ok((head, Box::new(replay.chain(r))))
}

struct Counting {
    inner: Box<dyn Read>,
    count: Rc<Cell<u64>>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Counts decompressed bytes and fails the stream when it expands beyond
/// [`BOMB_RATIO`] past [`BOMB_FLOOR`].
pub struct BombGuard<R, F> {
    inner: R,
    compressed: F,
    produced: u64,
    what: String,
}

impl<R: Read, F: Fn() -> u64> BombGuard<R, F> {
    pub fn new(inner: R, compressed: F, what: String) -> Self {
        BombGuard { inner, compressed, produced: 0, what }
    }
}

impl<R: Read, F: Fn() -> u64> Read for BombGuard<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced += n as u64;
        if self.produced > BOMB_FLOOR && self.produced / (self.compressed)().max(1) > BOMB_RATIO {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} expands more than {BOMB_RATIO}x ({} bytes from {}): refused as a decompression bomb",
                    self.what,
                    self.produced,
                    (self.compressed)()
                ),
            ));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_table() {
        let cases: &[(&str, &[u8], Wrapper)] = &[
            ("gzip", &[0x1f, 0x8b, 8, 0], Wrapper::Gzip),
            ("zstd", &[0x28, 0xb5, 0x2f, 0xfd, 0], Wrapper::Zstd),
            ("xz", &[0xfd, b'7', b'z', b'X', b'Z', 0], Wrapper::Xz),
            ("bzip2", b"BZh91AY", Wrapper::Bzip2),
            ("plain", b"manifest.json", Wrapper::None),
            ("empty", b"", Wrapper::None),
        ];
        for (name, head, want) in cases {
            assert_eq!(Wrapper::sniff(head), *want, "{name}");
        }
    }

    #[test]
    fn tar_header_recognised() {
        let mut h = tar::Header::new_ustar();
        h.set_path("a").unwrap();
        h.set_size(0);
        h.set_cksum();
        assert!(is_tar_header(h.as_bytes()));
        let mut old = tar::Header::new_old();
        old.set_path("a").unwrap();
        old.set_size(0);
        old.set_cksum();
        assert!(is_tar_header(old.as_bytes()));
        assert!(!is_tar_header(&[b'x'; 512]));
    }

    #[test]
    fn bomb_guard_trips() {
        let zeros = io::repeat(0).take(BOMB_FLOOR * 2);
        let mut g = BombGuard::new(zeros, || 1000, "test".into());
        let err = io::copy(&mut g, &mut io::sink()).unwrap_err();
        assert!(err.to_string().contains("decompression bomb"), "{err}");
    }
}
