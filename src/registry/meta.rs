//! The sidecar `wharf-meta.json`: what OCI layouts lack (timestamps, locks, provenance).
//!
//! It never holds the only copy of anything a foreign tool needs: index.json is the truth
//! about which manifests and tags exist, and [`Meta::reconcile`] makes the sidecar agree
//! with it every time it is loaded (missing entries are backfilled, entries for what is
//! gone are dropped). Losing the file loses metadata, never images.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Digest, Locks, Timestamp};

pub const META_FILE: &str = "wharf-meta.json";
pub const META_VERSION: u64 = 1;

/// Where a timestamp came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// wharf recorded it when it made the change.
    Wharf,
    /// The index entry's `org.opencontainers.image.created` annotation.
    Annotation,
    /// The image configuration's `created` field.
    Config,
    /// The blob file's modification time.
    Mtime,
    /// The moment wharf first saw the state (an adopted untagged manifest).
    Observed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepoMeta {
    pub created: Timestamp,
    pub updated: Timestamp,
    #[serde(default, skip_serializing_if = "Locks::is_default")]
    pub locks: Locks,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagMeta {
    pub digest: Digest,
    pub created: Timestamp,
    pub updated: Timestamp,
    pub created_source: TimeSource,
    #[serde(default, skip_serializing_if = "Locks::is_default")]
    pub locks: Locks,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestMeta {
    pub created: Timestamp,
    pub created_source: TimeSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untagged_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untagged_source: Option<TimeSource>,
    #[serde(default, skip_serializing_if = "Locks::is_default")]
    pub locks: Locks,
}

/// The whole sidecar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub wharf_meta_version: u64,
    pub repository: RepoMeta,
    #[serde(default)]
    pub tags: BTreeMap<String, TagMeta>,
    #[serde(default)]
    pub manifests: BTreeMap<Digest, ManifestMeta>,
}

/// What index.json says exists, for reconciliation: each manifest's digest with its tags.
pub struct IndexView<'a> {
    pub tags: Vec<(&'a str, &'a Digest)>,
    pub manifests: Vec<&'a Digest>,
}

impl Meta {
    pub fn new(now: Timestamp) -> Meta {
        Meta {
            wharf_meta_version: META_VERSION,
            repository: RepoMeta { created: now, updated: now, locks: Locks::default() },
            tags: BTreeMap::new(),
            manifests: BTreeMap::new(),
        }
    }

    /// Makes the sidecar agree with index.json. `backfill` gives the creation time of a
    /// manifest the sidecar does not know. Returns true when anything changed.
    pub fn reconcile(
        &mut self,
        view: &IndexView<'_>,
        now: Timestamp,
        backfill: &mut dyn FnMut(&Digest) -> (Timestamp, TimeSource),
    ) -> bool {
        let mut changed = false;
        let live: std::collections::BTreeSet<&Digest> = view.manifests.iter().copied().collect();
        let before = self.manifests.len();
        self.manifests.retain(|d, _| live.contains(d));
        changed |= before != self.manifests.len();
        for d in &view.manifests {
            if !self.manifests.contains_key(*d) {
                let (created, created_source) = backfill(d);
                self.manifests.insert(
                    (*d).clone(),
                    ManifestMeta {
                        created,
                        created_source,
                        untagged_at: None,
                        untagged_source: None,
                        locks: Locks::default(),
                    },
                );
                changed = true;
            }
        }
        let tag_names: std::collections::BTreeSet<&str> = view.tags.iter().map(|(t, _)| *t).collect();
        let before = self.tags.len();
        self.tags.retain(|t, _| tag_names.contains(t.as_str()));
        changed |= before != self.tags.len();
        for (tag, digest) in &view.tags {
            match self.tags.get_mut(*tag) {
                Some(m) if &m.digest == *digest => {}
                Some(m) => {
                    // index.json was changed behind wharf's back: trust it.
                    m.digest = (*digest).clone();
                    m.updated = now;
                    changed = true;
                }
                None => {
                    let (created, source) = self
                        .manifests
                        .get(*digest)
                        .map_or((now, TimeSource::Observed), |m| (m.created, m.created_source));
                    self.tags.insert(
                        tag.to_string(),
                        TagMeta {
                            digest: (*digest).clone(),
                            created,
                            updated: created,
                            created_source: source,
                            locks: Locks::default(),
                        },
                    );
                    changed = true;
                }
            }
        }
        let tagged: std::collections::BTreeSet<&Digest> = view.tags.iter().map(|(_, d)| *d).collect();
        for (d, m) in self.manifests.iter_mut() {
            if tagged.contains(d) {
                if m.untagged_at.is_some() {
                    m.untagged_at = None;
                    m.untagged_source = None;
                    changed = true;
                }
            } else if m.untagged_at.is_none() {
                m.untagged_at = Some(now);
                m.untagged_source = Some(TimeSource::Observed);
                changed = true;
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::time::parse_timestamp;

    #[test]
    fn reconcile_backfills_and_drops() {
        let t0 = parse_timestamp("2026-01-01").unwrap();
        let t1 = parse_timestamp("2026-02-01").unwrap();
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let gone = Digest::of(b"gone");
        let mut meta = Meta::new(t0);
        meta.tags.insert(
            "old".into(),
            TagMeta {
                digest: gone.clone(),
                created: t0,
                updated: t0,
                created_source: TimeSource::Wharf,
                locks: Locks::default(),
            },
        );
        meta.manifests.insert(
            gone.clone(),
            ManifestMeta {
                created: t0,
                created_source: TimeSource::Wharf,
                untagged_at: None,
                untagged_source: None,
                locks: Locks::default(),
            },
        );
        let view = IndexView { tags: vec![("v1", &a)], manifests: vec![&a, &b] };
        let changed = meta.reconcile(&view, t1, &mut |_| (t0, TimeSource::Mtime));
        assert!(changed);
        assert!(!meta.tags.contains_key("old") && !meta.manifests.contains_key(&gone));
        assert_eq!(meta.tags["v1"].digest, a);
        assert_eq!(meta.tags["v1"].created, t0);
        assert_eq!(meta.manifests[&a].untagged_at, None);
        assert_eq!(meta.manifests[&b].untagged_at, Some(t1), "untagged manifest observed now");
        assert_eq!(meta.manifests[&b].created_source, TimeSource::Mtime);
        assert!(!meta.reconcile(&view, t1, &mut |_| unreachable!()), "second pass changes nothing");
    }

    #[test]
    fn reconcile_follows_a_tag_moved_behind_wharfs_back() {
        let t0 = parse_timestamp("2026-01-01").unwrap();
        let t1 = parse_timestamp("2026-02-01").unwrap();
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let mut meta = Meta::new(t0);
        let view = IndexView { tags: vec![("v1", &a)], manifests: vec![&a] };
        meta.reconcile(&view, t0, &mut |_| (t0, TimeSource::Config));
        // Another tool moved v1 to b; a stays as an untagged entry.
        let view = IndexView { tags: vec![("v1", &b)], manifests: vec![&a, &b] };
        assert!(meta.reconcile(&view, t1, &mut |_| (t1, TimeSource::Mtime)));
        let v1 = &meta.tags["v1"];
        assert_eq!((&v1.digest, v1.created, v1.updated), (&b, t0, t1), "created kept, updated now");
        assert_eq!(meta.manifests[&a].untagged_at, Some(t1));
        assert_eq!(meta.manifests[&a].untagged_source, Some(TimeSource::Observed));
        assert_eq!(meta.manifests[&b].created_source, TimeSource::Mtime);
        assert_eq!(meta.manifests[&b].untagged_at, None);
    }
}
