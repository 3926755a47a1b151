//! The soft-delete trash: `.wharf/trash/<id>.json`, one record per removal.
//!
//! A record holds the exact index.json entries that a delete, untag, purge or retention
//! removed (so a restore puts back byte-identical entries) and their sidecar metadata. It
//! pins the removed manifest's closure in its repository: gc treats every record that has
//! not expired as a root. The record is written (atomically) *before* index.json is
//! changed, so a crash between the two leaves the blobs pinned, never unpinned.
//! See docs/LIFECYCLE.md for the format.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Registry;
use super::meta::{ManifestMeta, TagMeta};
use crate::error::{Error, Result};
use crate::model::{Descriptor, Digest, RepoName, Timestamp};
use crate::store::fs::{atomic_write, create_dir_all_durable, read_limited};

pub const TRASH_DIR: &str = "trash";
pub const TRASH_VERSION: u64 = 1;

/// Why an item is in the trash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrashReason {
    Delete,
    Untag,
    Purge,
    Retention,
    /// A referrer gc removed because its subject was gone.
    Gc,
}

/// One soft-delete: the items one command removed from one repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrashRecord {
    pub wharf_trash_version: u64,
    pub id: String,
    pub repository: String,
    pub reason: TrashReason,
    pub deleted_at: Timestamp,
    pub expires_at: Timestamp,
    pub items: Vec<TrashItem>,
}

/// One removed manifest, or one removed tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrashItem {
    /// The manifest whose closure the item pins.
    pub digest: Digest,
    pub media_type: String,
    /// The index.json entries removed, verbatim, in their index order.
    pub entries: Vec<Descriptor>,
    /// Sidecar metadata of the removed tags.
    #[serde(default)]
    pub tags: BTreeMap<String, TagMeta>,
    /// Sidecar metadata of the manifest, when the manifest itself was removed (absent
    /// for an untag: the manifest stayed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<ManifestMeta>,
}

impl TrashItem {
    /// The tags the item's entries carry.
    pub fn tag_names(&self) -> Vec<String> {
        self.entries.iter().filter_map(|e| e.ref_name().map(str::to_string)).collect()
    }
}

impl TrashRecord {
    pub fn repo_name(&self) -> Result<RepoName> {
        RepoName::parse(&self.repository).map_err(Error::from)
    }

    pub fn expired(&self, now: Timestamp) -> bool {
        self.expires_at <= now
    }
}

impl Registry {
    pub fn trash_dir(&self) -> PathBuf {
        self.state_dir().join(TRASH_DIR)
    }

    /// Every trash record, sorted by (repository, deletion time, id). A record that cannot
    /// be read or parsed is an error: gc must fail closed on it.
    pub fn trash_records(&self) -> Result<Vec<TrashRecord>> {
        let dir = self.trash_dir();
        let Some(listing) = crate::store::fs::read_dir_if_exists(&dir)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for e in listing.entries()? {
            let name = e.name.to_string_lossy().to_string();
            if !name.ends_with(".json") || name.starts_with('.') {
                continue;
            }
            let path = e.path;
            let bytes = read_limited(&path, 64 << 20)?;
            let rec: TrashRecord = serde_json::from_slice(&bytes).map_err(|err| {
                Error::corrupt(&path, format!("not a valid trash record ({err}); move it aside if it is not wharf's"))
            })?;
            if rec.wharf_trash_version != TRASH_VERSION {
                return Err(Error::corrupt(
                    &path,
                    format!(
                        "trash record version {} is not supported (this wharf reads {TRASH_VERSION})",
                        rec.wharf_trash_version
                    ),
                ));
            }
            if format!("{}.json", rec.id) != name {
                return Err(Error::corrupt(&path, format!("its id `{}` does not match its file name", rec.id)));
            }
            rec.repo_name()?;
            out.push(rec);
        }
        out.sort_by(|a, b| {
            (a.repository.as_str(), a.deleted_at, a.id.as_str()).cmp(&(
                b.repository.as_str(),
                b.deleted_at,
                b.id.as_str(),
            ))
        });
        Ok(out)
    }

    /// A fresh record id: deletion time, and a counter that makes it unique.
    pub fn new_trash_id(&self, now: Timestamp) -> String {
        let base = now.format("%Y%m%dT%H%M%S%.9fZ").to_string();
        let dir = self.trash_dir();
        let mut n = 0u32;
        loop {
            let id = format!("{base}-{n}");
            if !matches!(crate::store::fs::kind(&dir.join(format!("{id}.json"))), Ok(Some(_))) {
                return id;
            }
            n += 1;
        }
    }

    /// Writes a record durably (the "pin first" step); a record without items is removed.
    pub fn write_trash(&self, rec: &TrashRecord) -> Result<PathBuf> {
        if rec.items.is_empty() {
            self.remove_trash(&rec.id)?;
            return Ok(self.trash_dir().join(format!("{}.json", rec.id)));
        }
        let dir = self.trash_dir();
        create_dir_all_durable(&dir)?;
        let path = dir.join(format!("{}.json", rec.id));
        let mut bytes = serde_json::to_vec_pretty(rec).expect("record serialises");
        bytes.push(b'\n');
        atomic_write(&path, &bytes)?;
        Ok(path)
    }

    /// Removes a record (absent is success).
    pub fn remove_trash(&self, id: &str) -> Result<()> {
        let dir = self.trash_dir();
        let path = dir.join(format!("{id}.json"));
        let Some(d) = crate::store::fs::read_dir_if_exists(&dir)? else { return Ok(()) };
        if d.stat(path.file_name().expect("named"))?.is_none() {
            return Ok(());
        }
        d.remove_file(path.file_name().expect("named"))?;
        d.sync()
    }
}
