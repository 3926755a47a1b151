//! Space accounting on disk: the bytes a set of removals releases (each inode once,
//! only when its last link goes), the bytes below a directory, and the regular files
//! below one. Links are never followed. Nothing here knows what the files are.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::fs::FileKind;
use crate::error::Result;

/// One row per regular file among `paths` (deduplicated, links not followed; a path
/// that is gone counts nothing), for [`released`].
pub fn inode_links(mut paths: Vec<PathBuf>) -> Vec<InodeLink> {
    use std::os::unix::fs::MetadataExt;
    paths.sort();
    paths.dedup();
    paths
        .par_iter()
        .filter_map(|p| std::fs::symlink_metadata(p).ok())
        .filter(|m| m.is_file())
        .map(|m| (m.dev(), m.ino(), m.nlink(), m.size()))
        .collect()
}

/// One link to be removed: (dev, ino, st_nlink, size) of the file it names.
pub type InodeLink = (u64, u64, u64, u64);

/// The bytes that removing every link listed releases: each inode (dev, ino) counts
/// once, and only when the removal takes all of its links (st_nlink). gc passes the rows
/// of the blobs it stat'ed while planning, and [`inode_links`] of the few other files.
pub fn released(links: &[InodeLink]) -> u64 {
    use std::collections::HashMap;
    let mut by_inode: HashMap<(u64, u64), (u64, u64, u64)> = HashMap::new();
    for &(dev, ino, nlink, size) in links {
        let e = by_inode.entry((dev, ino)).or_insert((nlink, size, 0));
        e.2 += 1;
    }
    by_inode.values().filter(|(nlink, _, removed)| removed >= nlink).map(|(_, size, _)| size).sum()
}

/// Bytes of the regular files below `dir`, links not followed.
pub fn dir_bytes(dir: &Path) -> Result<u64> {
    let Some(d) = crate::store::fs::read_dir_if_exists(dir)? else { return Ok(0) };
    let mut total = 0;
    d.walk(&mut |parent, e| {
        if e.kind == FileKind::File {
            total += parent.stat(&e.name)?.map_or(0, |m| m.size);
        }
        Ok(())
    })?;
    Ok(total)
}

/// The regular files below `dir` (itself a directory of a staging area gc removes),
/// links not followed.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_bytes_counts_each_inode_once_when_its_last_link_goes() {
        // (dev, ino, nlink, size) per link removed.
        let cases: &[(&str, &[InodeLink], u64)] = &[
            ("one file, one link", &[(1, 10, 1, 100)], 100),
            ("repository blob and pool entry, both go", &[(1, 10, 2, 100), (1, 10, 2, 100)], 100),
            ("only the pool entry goes: another repository keeps it", &[(1, 10, 2, 100)], 0),
            ("same ino on another device is another inode", &[(1, 10, 1, 100), (2, 10, 1, 7)], 107),
            ("three links, two removed", &[(1, 5, 3, 9), (1, 5, 3, 9)], 0),
        ];
        for (name, links, want) in cases {
            assert_eq!(released(links), *want, "{name}");
        }
    }
}
