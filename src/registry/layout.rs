//! The files that make a directory an OCI image layout: `oci-layout` and `index.json`,
//! with the sidecar (`wharf-meta.json`) beside them. This module is their one reader and
//! writer, raw (bytes and parsed structs, no sidecar reconciliation):
//! [`super::Repository`] loads and saves through it, gc's mark reads index.json through
//! it (unreconciled, fail closed), verify reads all three through it (and turns what is
//! wrong into findings), `delete --repository` removes them through it, and export
//! writes an output layout's two files with it. Everything goes through `store::fs`
//! (root-anchored, no link followed, temp → fsync → rename).
//!
//! Input layouts inside an import source (an oci-archive, a layout directory) are not
//! read here: they are input, parsed by `ops::import` from the source's own members.

use std::path::{Path, PathBuf};

use super::meta::{META_FILE, Meta};
use super::repository::{MAX_INDEX_BYTES, MAX_SIDECAR_BYTES};
use crate::error::{Error, Result};
use crate::model::IndexFile;
use crate::model::media::{OCI_LAYOUT_FILE, OCI_LAYOUT_VERSION};
use crate::store::fs::{atomic_write, atomic_write_json, read_limited, read_limited_if_exists};

/// The name of a layout's index.
pub const INDEX_FILE: &str = "index.json";

/// Largest `oci-layout` file read (it is one short JSON object).
const MAX_LAYOUT_BYTES: u64 = 1 << 16;

/// `dir/oci-layout`.
pub fn layout_path(dir: &Path) -> PathBuf {
    dir.join(OCI_LAYOUT_FILE)
}

/// `dir/index.json`.
pub fn index_path(dir: &Path) -> PathBuf {
    dir.join(INDEX_FILE)
}

/// `dir/wharf-meta.json`.
pub fn sidecar_path(dir: &Path) -> PathBuf {
    dir.join(META_FILE)
}

/// True when `dir/oci-layout` is a regular file (a link on the way is an error).
pub fn has_layout_file(dir: &Path) -> Result<bool> {
    crate::store::fs::is_file(&layout_path(dir))
}

/// The bytes of the `oci-layout` file wharf writes.
pub fn layout_file_bytes() -> Vec<u8> {
    format!("{{\"imageLayoutVersion\":\"{OCI_LAYOUT_VERSION}\"}}\n").into_bytes()
}

/// The `imageLayoutVersion` that `dir/oci-layout` declares: `Ok(None)` when the file is
/// not JSON or carries no such string. An unreadable file (absent, a link, too large) is
/// an error naming it. Whether the version is supported is the caller's decision.
pub fn read_layout_version(dir: &Path) -> Result<Option<String>> {
    /// The one field read, typed: the rest is skipped, never built (issue 16 B5).
    #[derive(serde::Deserialize)]
    struct LayoutFile {
        #[serde(rename = "imageLayoutVersion", default, deserialize_with = "crate::model::lenient::string")]
        version: Option<String>,
    }
    let bytes = read_limited(&layout_path(dir), MAX_LAYOUT_BYTES)?;
    Ok(serde_json::from_slice::<LayoutFile>(&bytes).ok().and_then(|l| l.version))
}

/// The raw bytes of `dir/index.json` (at most [`MAX_INDEX_BYTES`]).
pub fn read_index_bytes(dir: &Path) -> Result<Vec<u8>> {
    read_limited(&index_path(dir), MAX_INDEX_BYTES)
}

/// `dir/index.json` parsed, fail closed: absent or not a valid OCI index is a corruption
/// error naming the file, followed by `way_out` (what the user can do, or what the
/// caller did not do).
pub fn read_index(dir: &Path, way_out: &str) -> Result<IndexFile> {
    let path = index_path(dir);
    if !crate::store::fs::is_file(&path)? {
        return Err(Error::corrupt(
            &path,
            format!("missing: an OCI image layout needs an index.json next to oci-layout; {way_out}"),
        ));
    }
    IndexFile::parse(&read_limited(&path, MAX_INDEX_BYTES)?)
        .map_err(|e| Error::corrupt(&path, format!("not a valid OCI index: {e}; {way_out}")))
}

/// The raw bytes of `dir/wharf-meta.json` (at most [`MAX_SIDECAR_BYTES`]), `None` when
/// there is none.
pub fn read_sidecar_bytes(dir: &Path) -> Result<Option<Vec<u8>>> {
    read_limited_if_exists(&sidecar_path(dir), MAX_SIDECAR_BYTES)
}

/// Writes `dir/index.json` (temp → fsync → rename).
pub fn write_index(dir: &Path, index: &IndexFile) -> Result<()> {
    atomic_write_json(&index_path(dir), index)
}

/// Writes `dir/oci-layout` (temp → fsync → rename): the directory becomes a layout.
pub fn write_layout_file(dir: &Path) -> Result<()> {
    atomic_write(&layout_path(dir), &layout_file_bytes())
}

/// Writes `dir/wharf-meta.json` (temp → fsync → rename).
pub fn write_sidecar(dir: &Path, meta: &Meta) -> Result<()> {
    atomic_write_json(&sidecar_path(dir), meta)
}

/// Removes a layout's own files from `dir`, keeping whatever else is in it (the
/// directories of nested repositories): `oci-layout` first (the directory stops being
/// listed as a repository), synced, then index.json, the sidecar, `blobs/` and wharf's
/// temp files. Returns `false` when `dir` is gone.
pub fn remove_files(dir: &Path) -> Result<bool> {
    let Some(d) = crate::store::fs::read_dir_if_exists(dir)? else { return Ok(false) };
    d.remove_file(OCI_LAYOUT_FILE.as_ref())?;
    d.sync()?;
    for f in [INDEX_FILE, META_FILE] {
        d.remove_file(f.as_ref())?;
    }
    d.remove_tree("blobs".as_ref())?;
    for e in d.entries()? {
        if e.name.to_string_lossy().starts_with(crate::store::fs::TEMP_PREFIX) {
            d.remove_file(&e.name)?;
        }
    }
    d.sync()?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_files_round_trip_and_fail_closed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        // Absent: an error naming the file, and the way out the caller gave.
        let e = read_index(dir, "WAY OUT").unwrap_err().to_string();
        assert!(e.contains("index.json") && e.contains("missing") && e.contains("WAY OUT"), "{e}");
        assert!(read_layout_version(dir).is_err());
        // Written by wharf: read back as written.
        write_layout_file(dir).unwrap();
        let index = IndexFile { schema_version: 2, ..IndexFile::default() };
        write_index(dir, &index).unwrap();
        assert!(has_layout_file(dir).unwrap());
        assert_eq!(read_layout_version(dir).unwrap().as_deref(), Some(OCI_LAYOUT_VERSION));
        assert_eq!(read_index_bytes(dir).unwrap(), index.to_bytes());
        assert_eq!(read_index(dir, "").unwrap().schema_version, 2);
        assert_eq!(read_sidecar_bytes(dir).unwrap(), None);
        // Another version, or not JSON: the caller decides; a broken index is corrupt.
        let cases: &[(&str, Option<&str>)] = &[
            (r#"{"imageLayoutVersion":"2.0.0"}"#, Some("2.0.0")),
            ("not json", None),
            ("{}", None),
            (r#"{"imageLayoutVersion":[0,0]}"#, None),
            ("[0,0]", None),
        ];
        for (bytes, want) in cases {
            std::fs::write(layout_path(dir), bytes).unwrap();
            assert_eq!(read_layout_version(dir).unwrap().as_deref(), *want, "{bytes}");
        }
        std::fs::write(index_path(dir), b"[").unwrap();
        let e = read_index(dir, "WAY OUT").unwrap_err().to_string();
        assert!(e.contains("not a valid OCI index") && e.contains("WAY OUT"), "{e}");
        assert_eq!(read_index_bytes(dir).unwrap(), b"[");
    }
}
