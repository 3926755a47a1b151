//! The hashing engine: SHA-256 of many files in parallel, largest first.
//!
//! It owns reading bytes and hashing them, nothing else: it knows no repositories,
//! descriptors or findings, so any operation that needs "the digest of each of these
//! files" (verify, an import that re-checks what it wrote) can call [`hash_files`] or
//! [`hash_file`]. Hashing uses the `sha2` crate, which detects the CPU's SHA extensions
//! (SHA-NI) at run time. Memory stays bounded whatever the file size: reads go through
//! one 1 MiB buffer per thread, and mmap maps a file one window at a time.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::model::Digest;

/// How file bytes reach the hasher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IoMode {
    /// The default: `mmap` for files of 1 MiB and more, `read` below, as
    /// measured (docs/VERIFY.md: mmap saves the copy on large files, read saves the
    /// mapping's set-up on small ones).
    #[default]
    Auto,
    /// `read(2)` into a 1 MiB buffer per thread.
    Read,
    /// `mmap(2)`, one window of 16 MiB at a time.
    Mmap,
}

impl IoMode {
    /// Parses `auto`, `read` or `mmap` (verify's `--io`).
    pub fn parse(s: &str) -> Option<IoMode> {
        match s {
            "auto" => Some(IoMode::Auto),
            "read" => Some(IoMode::Read),
            "mmap" => Some(IoMode::Mmap),
            _ => None,
        }
    }
}

/// Size of the read buffer.
pub const READ_BUF: usize = 1 << 20;
/// Size of one mmap window: bounds the resident mapped pages per thread.
pub const MMAP_WINDOW: u64 = 16 << 20;
/// Smallest file [`IoMode::Auto`] maps.
pub const MMAP_MIN: u64 = 1 << 20;

/// One file to hash.
#[derive(Debug, Clone)]
pub struct HashJob {
    pub path: PathBuf,
    /// The size the caller saw (used to order the work, largest first).
    pub size: u64,
    /// How many of the first bytes to keep (for magic-number checks); 0 for none.
    pub head: usize,
}

/// What hashing one file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHash {
    pub digest: Digest,
    /// Bytes actually read (the file may have changed size since it was listed).
    pub len: u64,
    /// The first bytes of the file (up to the `head` asked for), for magic-number checks.
    pub head: Vec<u8>,
}

/// Hashes one file, keeping its first `head` bytes. `size_hint` (the size the caller
/// saw, used by [`IoMode::Auto`] to choose) need not be exact: every byte is hashed.
pub fn hash_file(
    path: &Path,
    size_hint: u64,
    mode: IoMode,
    head: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> io::Result<FileHash> {
    // A regular file reached without links, opened without blocking (store::safe); the
    // mmap path below maps that same handle.
    let file = crate::store::fs::open_file(path).map_err(io::Error::other)?;
    let mmap = match mode {
        IoMode::Read => false,
        IoMode::Mmap => true,
        IoMode::Auto => size_hint >= MMAP_MIN,
    };
    if mmap { hash_mmap(&file, head, progress) } else { hash_read(file, head, progress) }
}

/// Hashes every job on the current rayon pool, largest first (so that one big file does
/// not start last and leave the other cores idle), and returns the results in the order
/// of `jobs`. Each worker takes the next largest file from one shared queue (longest
/// processing time first, not rayon's split-in-halves order). `progress` is called with
/// byte counts as they are hashed.
pub fn hash_files(jobs: &[HashJob], mode: IoMode, progress: &(dyn Fn(u64) + Sync)) -> Vec<io::Result<FileHash>> {
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by(|&a, &b| jobs[b].size.cmp(&jobs[a].size).then(a.cmp(&b)));
    let next = AtomicUsize::new(0);
    let slots: Vec<OnceLock<io::Result<FileHash>>> = (0..jobs.len()).map(|_| OnceLock::new()).collect();
    let workers = rayon::current_num_threads().min(jobs.len());
    rayon::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|_| {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = order.get(n) else { break };
                    let r = hash_file(&jobs[i].path, jobs[i].size, mode, jobs[i].head, progress);
                    let _ = slots[i].set(r);
                }
            });
        }
    });
    slots.into_iter().map(|s| s.into_inner().expect("every job ran")).collect()
}

thread_local! {
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn hash_read(mut file: File, head_len: usize, progress: &(dyn Fn(u64) + Sync)) -> io::Result<FileHash> {
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        if buf.len() < READ_BUF {
            buf.resize(READ_BUF, 0);
        }
        let mut hasher = Sha256::new();
        let mut head = Vec::new();
        let mut len = 0u64;
        loop {
            let n = match file.read(&mut buf[..]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if head.len() < head_len {
                let take = (head_len - head.len()).min(n);
                head.extend_from_slice(&buf[..take]);
            }
            hasher.update(&buf[..n]);
            len += n as u64;
            progress(n as u64);
        }
        Ok(FileHash { digest: Digest::from_bytes(hasher.finalize().into()), len, head })
    })
}

fn hash_mmap(file: &File, head_len: usize, progress: &(dyn Fn(u64) + Sync)) -> io::Result<FileHash> {
    let size = file.metadata()?.len();
    let mut hasher = Sha256::new();
    let mut head = Vec::new();
    let mut offset = 0u64;
    while offset < size {
        let len = (size - offset).min(MMAP_WINDOW) as usize;
        let window = map_window(file, offset, len)?;
        let _ = window.advise(memmap2::Advice::Sequential);
        if head.len() < head_len {
            let take = (head_len - head.len()).min(len);
            head.extend_from_slice(&window[..take]);
        }
        // Hash in 1 MiB slices so that progress moves smoothly.
        for chunk in window.chunks(READ_BUF) {
            hasher.update(chunk);
            progress(chunk.len() as u64);
        }
        offset += len as u64;
    }
    Ok(FileHash { digest: Digest::from_bytes(hasher.finalize().into()), len: size, head })
}

/// Maps `len` bytes of `file` from `offset`, read-only. The only `unsafe` of the crate.
fn map_window(file: &File, offset: u64, len: usize) -> io::Result<memmap2::Mmap> {
    // SAFETY: the mapping is read-only and private to this function's caller, which only
    // reads it as a byte slice while `file` stays open. `populate` pre-faults the window
    // (one system call instead of a page fault per few pages). Mapped memory can change under us
    // only if another process modifies the file in place; wharf never modifies a blob in
    // place (blobs are written to a temp file and renamed), verify holds the registry's
    // shared lock, and the worst a foreign writer can cause is a wrong digest (reported
    // as a finding) or SIGBUS if it truncates the file mid-hash — the documented cost of
    // mmap, which `--io read` avoids.
    unsafe { memmap2::MmapOptions::new().offset(offset).len(len).populate().map(file) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn both_modes_agree_with_the_reference_digest() {
        let dir = tempfile::tempdir().unwrap();
        let sizes = [0usize, 1, 511, READ_BUF - 1, READ_BUF, READ_BUF + 7, 3 * READ_BUF + 5, MMAP_WINDOW as usize + 3];
        let mut jobs = Vec::new();
        let mut want = Vec::new();
        for (i, n) in sizes.iter().enumerate() {
            let bytes: Vec<u8> = (0..*n).map(|k| (k * 31 + i) as u8).collect();
            let p = dir.path().join(format!("f{i}"));
            std::fs::write(&p, &bytes).unwrap();
            want.push((Digest::of(&bytes), bytes.len() as u64, bytes[..bytes.len().min(8)].to_vec()));
            jobs.push(HashJob { path: p, size: *n as u64, head: 8 });
        }
        for mode in [IoMode::Read, IoMode::Mmap, IoMode::Auto] {
            let seen = AtomicU64::new(0);
            let got = hash_files(&jobs, mode, &|n| {
                seen.fetch_add(n, Ordering::Relaxed);
            });
            for (g, (d, len, head)) in got.into_iter().zip(&want) {
                let g = g.unwrap();
                assert_eq!((&g.digest, g.len, &g.head), (d, *len, head), "{mode:?}");
            }
            assert_eq!(seen.load(Ordering::Relaxed), sizes.iter().sum::<usize>() as u64);
        }
    }

    #[test]
    fn missing_file_is_an_error_not_a_panic() {
        let jobs = [HashJob { path: PathBuf::from("/nonexistent/wharf/blob"), size: 1, head: 0 }];
        assert!(hash_files(&jobs, IoMode::Read, &|_| {})[0].is_err());
    }
}
