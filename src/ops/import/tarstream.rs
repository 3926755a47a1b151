//! Reading a tar archive in one pass: every regular member is hashed into the staging
//! area as it streams by (members are content-addressed there, so a member that arrives
//! before the metadata describing it simply waits on disk, never in memory), links are
//! recorded, and hostile names are refused. A member name never becomes a filesystem
//! path: staged files are named by the digest wharf computed. The framing (headers,
//! GNU long names, PAX headers) is read here, on top of [`tar::Header`], so that every
//! extension header is size-checked before a byte of it is held in memory.

use std::io::Read;

use super::content::{Received, Sink, TarContent};
use super::paths::normalise;
use crate::error::{Error, Result};
use crate::model::Digest;

/// Resolves a symbolic link's target against the directory of the link; refuses one
/// that is absolute or climbs out of the archive.
fn link_target(member: &str, target: &str) -> std::result::Result<String, &'static str> {
    if target.starts_with('/') {
        return Err("points at an absolute path");
    }
    let mut parts: Vec<&str> = member.split('/').collect();
    parts.pop();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("escapes the archive");
                }
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err("points at the archive root");
    }
    Ok(parts.join("/"))
}

/// Largest GNU long name, GNU long link name or PAX extended header wharf reads: real
/// names are at most a few KiB (PATH_MAX is 4096); anything larger is refused before it
/// is read into memory.
pub const MAX_HEADER: u64 = 64 << 10;

const BLOCK: usize = 512;

/// What extension headers said about the next member.
#[derive(Default)]
struct Pending {
    name: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    size: Option<u64>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.name.is_none() && self.link.is_none() && self.size.is_none()
    }
}

/// Receives every member of the tar stream `r`, in one pass, reading the tar framing
/// itself (headers through the `tar` crate's [`tar::Header`]) so that extension headers
/// are size-checked before they are read: GNU long names and PAX headers over
/// [`MAX_HEADER`] and sparse members (GNU `S` members or PAX `GNU.sparse.*` keys: no
/// producer writes them for image blobs, and their expansion is unbounded) are refused.
/// `.` and `./` directory members are the archive root (`tar -C layout -cf x.tar .`).
///
/// Large members are hashed on another core behind the reader ([`Sink::receive_deferred`]);
/// every hash is waited for before this returns, also when it fails, so nothing still
/// writes in the staging area afterwards.
pub fn receive(r: Box<dyn Read>, sink: &mut Sink<'_>, label: &str) -> Result<TarContent> {
    let mut content = TarContent::new(label);
    let mut hashing = Hashing::default();
    let read = read_members(r, sink, label, &mut content, &mut hashing);
    let mut first_err = read.err();
    for (name, slot, superseded) in hashing.pending {
        let done = match slot {
            Slot::Running(received) => received.wait(),
            Slot::Done(done) => done,
        };
        match done {
            Ok(blob) if !superseded && first_err.is_none() => content.insert_file(name, blob),
            Ok(_) => {}
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(content),
    }
}

/// Members whose hash is (or was) running, in stream order: (name, blob, superseded by a
/// later member of the same name).
#[derive(Default)]
struct Hashing {
    pending: Vec<(String, Slot, bool)>,
    by_name: std::collections::HashMap<String, usize>,
    /// `pending[..waited]` are done.
    waited: usize,
}

enum Slot {
    Running(Received),
    Done(Result<super::content::Blob>),
}

/// At most this many members are being hashed behind the reader: each holds two file
/// descriptors and unhashed bytes in the page cache.
const MAX_HASHING: usize = 4;

impl Hashing {
    fn push(&mut self, name: String, received: Received) {
        self.by_name.insert(name.clone(), self.pending.len());
        self.pending.push((name, Slot::Running(received), false));
        while self.pending.len() - self.waited > MAX_HASHING {
            // The oldest goes first: it has had the longest to finish.
            let slot = &mut self.pending[self.waited].1;
            let taken = std::mem::replace(slot, Slot::Done(Err(Error::refused("a member's hash was taken twice"))));
            *slot = match taken {
                Slot::Running(r) => Slot::Done(r.wait()),
                done => done,
            };
            self.waited += 1;
        }
    }

    /// A later member named `name` replaces a pending one of that name.
    fn supersede(&mut self, name: &str) {
        if let Some(i) = self.by_name.remove(name) {
            self.pending[i].2 = true;
        }
    }
}

fn read_members(
    r: Box<dyn Read>,
    sink: &mut Sink<'_>,
    label: &str,
    content: &mut TarContent,
    hashing: &mut Hashing,
) -> Result<()> {
    let mut r = std::io::BufReader::with_capacity(1 << 16, r);
    let hostile = |what: String| Error::bad_input(label, format!("{what}; refused (hostile archive)"));
    let corrupt = |what: String| Error::bad_input(label, format!("corrupt or truncated archive: {what}"));
    let mut count = 0usize;
    let mut pending = Pending::default();
    let mut block = [0u8; BLOCK];
    loop {
        if !read_block(&mut r, &mut block).map_err(|e| corrupt(e.to_string()))? {
            break;
        }
        if block.iter().all(|b| *b == 0) {
            break;
        }
        let h = tar::Header::from_byte_slice(&block);
        let stored = h.cksum().map_err(|e| corrupt(e.to_string()))?;
        let sum: u32 = block[..148].iter().chain(&block[156..]).map(|b| u32::from(*b)).sum::<u32>() + 8 * 32;
        if stored != sum {
            return Err(corrupt("a header checksum does not match".into()));
        }
        count += 1;
        let kind = h.entry_type();
        let header_size = h.entry_size().map_err(|e| corrupt(e.to_string()))?;
        use tar::EntryType as T;
        match kind {
            T::GNULongName | T::GNULongLink | T::XHeader | T::XGlobalHeader => {
                let what = match kind {
                    T::GNULongName => "a GNU long name",
                    T::GNULongLink => "a GNU long link name",
                    T::XHeader => "a PAX extended header",
                    _ => "a PAX global header",
                };
                if header_size > MAX_HEADER {
                    return Err(hostile(format!(
                        "{what} of {header_size} bytes, over the {MAX_HEADER}-byte limit for headers and names"
                    )));
                }
                let mut data = vec![0u8; header_size as usize];
                r.read_exact(&mut data).map_err(|e| corrupt(format!("{what}: {e}")))?;
                skip(&mut r, padding(header_size)).map_err(|e| corrupt(e.to_string()))?;
                match kind {
                    T::GNULongName | T::GNULongLink => {
                        while data.last() == Some(&0) {
                            data.pop();
                        }
                        let slot = if kind == T::GNULongName { &mut pending.name } else { &mut pending.link };
                        if slot.replace(data).is_some() {
                            return Err(hostile(format!("two {what}s for one member")));
                        }
                    }
                    _ => {
                        let local = kind == T::XHeader;
                        for ext in tar::PaxExtensions::new(&data) {
                            let ext = ext.map_err(|e| corrupt(format!("{what}: {e}")))?;
                            let key = ext.key().map_err(|_| corrupt(format!("{what}: a key is not UTF-8")))?;
                            if key.starts_with("GNU.sparse") {
                                return Err(hostile(sparse_refusal()));
                            }
                            if !local {
                                continue;
                            }
                            match key {
                                "path" => pending.name = Some(ext.value_bytes().to_vec()),
                                "linkpath" => pending.link = Some(ext.value_bytes().to_vec()),
                                "size" => {
                                    let v = ext.value().ok().and_then(|v| v.parse::<u64>().ok()).ok_or_else(|| {
                                        corrupt(format!(
                                            "{what}: size `{}` is not a number",
                                            String::from_utf8_lossy(ext.value_bytes())
                                        ))
                                    })?;
                                    pending.size = Some(v);
                                }
                                _ => {}
                            }
                        }
                    }
                }
                continue;
            }
            T::GNUSparse => return Err(hostile(sparse_refusal())),
            _ => {}
        }
        let p = std::mem::take(&mut pending);
        let size = p.size.unwrap_or(header_size);
        let raw = p.name.unwrap_or_else(|| h.path_bytes().into_owned());
        let raw = String::from_utf8(raw).map_err(|_| Error::bad_input(label, "a member name is not UTF-8; refused"))?;
        let mut data = (&mut r).take(size);
        let root_dir = kind == T::Directory && raw.split('/').all(|c| c.is_empty() || c == ".");
        if !root_dir {
            let name = normalise(&raw).map_err(|why| hostile(format!("member `{raw}` is {why}")))?;
            match kind {
                T::Regular | T::Continuous => {
                    let claimed = name
                        .strip_prefix("blobs/sha256/")
                        .and_then(Digest::from_hex)
                        .filter(|_| name.matches('/').count() == 2);
                    let what = format!("{label}: member {name}");
                    hashing.supersede(&name);
                    match sink.receive_deferred(&mut data, size, claimed.as_ref(), &what)? {
                        Received::Ready(blob) => content.insert_file(name, blob),
                        pending => hashing.push(name, pending),
                    }
                }
                T::Symlink | T::Link => {
                    let target = p
                        .link
                        .or_else(|| h.link_name_bytes().map(|b| b.into_owned()))
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .ok_or_else(|| Error::bad_input(label, format!("link member {name} has no target")))?;
                    let resolved = if kind == T::Symlink {
                        link_target(&name, &target)
                    } else {
                        normalise(&target).map_err(|_| "escapes the archive")
                    }
                    .map_err(|why| hostile(format!("link member {name} -> {target} {why}")))?;
                    hashing.supersede(&name);
                    content.insert_link(name, resolved);
                }
                // Directories, devices, FIFOs: never materialised, never referenced.
                _ => {}
            }
        }
        let left = data.limit();
        if left > 0 {
            let skipped = std::io::copy(&mut data, &mut std::io::sink()).map_err(|e| corrupt(e.to_string()))?;
            if skipped != left {
                return Err(corrupt(format!(
                    "the stream ended {} bytes into a member of {size}",
                    size - (left - skipped)
                )));
            }
        }
        skip(&mut r, padding(size)).map_err(|e| corrupt(e.to_string()))?;
    }
    if !pending.is_empty() {
        return Err(corrupt("an extension header describes a member that never comes".into()));
    }
    if count == 0 {
        return Err(Error::bad_input(label, "the archive has no members (an empty tar)"));
    }
    Ok(())
}

fn sparse_refusal() -> String {
    "a sparse member (GNU sparse format); no image producer writes them and wharf does not expand them".into()
}

/// Bytes of padding after `size` bytes of member data.
fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

/// Reads one 512-byte block; `false` at a clean end of stream (some writers omit the
/// end-of-archive blocks), an error when the stream ends inside a block.
fn read_block(r: &mut dyn Read, block: &mut [u8; BLOCK]) -> std::io::Result<bool> {
    let mut got = 0;
    while got < BLOCK {
        match r.read(&mut block[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the stream ends inside a header"));
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn skip(r: &mut dyn Read, n: u64) -> std::io::Result<()> {
    let got = std::io::copy(&mut r.take(n), &mut std::io::sink())?;
    if got != n {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the stream ends inside a member's padding",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets() {
        assert_eq!(link_target("b/layer.tar", "../a/layer.tar").unwrap(), "a/layer.tar");
        assert_eq!(link_target("layer.tar", "x").unwrap(), "x");
        assert!(link_target("b/layer.tar", "../../etc/passwd").is_err());
        assert!(link_target("b/layer.tar", "/etc/passwd").is_err());
        assert!(link_target("x", "..").is_err());
    }
}
