//! The sidecar `wharf-meta.json`: what OCI layouts lack (timestamps, locks, provenance).
//!
//! It never holds the only copy of anything a foreign tool needs: index.json is the truth
//! about which manifests and tags exist, and [`Meta::reconcile`] makes the sidecar agree
//! with it every time it is loaded (missing entries are backfilled, entries for what is
//! gone are dropped). Losing the file loses metadata, never images.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::kind::ArtifactKind;
use crate::model::{Digest, Locks, Timestamp};

pub const META_FILE: &str = "wharf-meta.json";
/// The sidecar version this wharf writes.
pub const META_VERSION: u64 = 2;
/// Older versions this wharf reads and migrates ([`Meta::migrate`]).
pub const META_VERSIONS_READ: &[u64] = &[1, 2];

/// Where a timestamp came from. Registry times (a tag's `created`/`updated`, a manifest's
/// `created`/`untagged_at`) come only from `wharf` or `observed`; `annotation`, `config`
/// and `mtime` are read from version-1 sidecars, which took image build times for registry
/// times, and are migrated away on load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// wharf recorded it when it made the change.
    Wharf,
    /// Version 1 only: the index entry's `org.opencontainers.image.created` annotation.
    Annotation,
    /// Version 1 only: the image configuration's `created` field.
    Config,
    /// Version 1 only: the blob file's modification time.
    Mtime,
    /// The moment wharf first saw the state (a change made by another tool), never
    /// earlier than index.json's modification time.
    Observed,
}

impl TimeSource {
    /// True for the version-1 sources that are image (or file) times, not registry events.
    pub fn is_image_time(self) -> bool {
        matches!(self, TimeSource::Annotation | TimeSource::Config | TimeSource::Mtime)
    }
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
    /// The image's build time (the index entry's `org.opencontainers.image.created`
    /// annotation, else the config's `created`; an index: its platforms' newest). Shown,
    /// never used for purge, retention or expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_created: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Locks::is_default")]
    pub locks: Locks,
    /// What the manifest is (image, index, helm-chart, artifact, referrer), read once
    /// from its blob: a digest names immutable content, so listings need not read every
    /// manifest again. Absent in sidecars of older wharf versions (filled by the next
    /// write) and while the blob cannot be read. A cache for display: gc, verify and
    /// purge read the blobs themselves and never trust it.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub kind: Option<ArtifactKind>,
    /// The manifest's `subject` (it is a referrer of that manifest), read with `kind`;
    /// absent when it has none, or when `kind` is absent (not read yet).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub subject: Option<Digest>,
}

/// A cached fact this wharf cannot read (a `kind` a later version added, a mangled
/// `subject`) is absent, and read again from the blob: a display cache never makes a
/// repository, or a trash record holding its entry, unreadable.
fn lenient<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Maybe<T> {
        Known(T),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Maybe::<T>::deserialize(d)? {
        Maybe::Known(t) => Some(t),
        Maybe::Other(_) => None,
    })
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

/// What index.json says exists, for reconciliation: every valid tag (sorted, each once)
/// with its manifest, and every distinct manifest digest.
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

    /// Brings a sidecar of an older version up to [`META_VERSION`], as of `observed` (the
    /// moment of this load, never earlier than index.json's mtime). Version 1 backfilled
    /// registry times from image times (annotation, config) and blob mtimes; those
    /// entries take `observed` as `created`/`updated` (source `observed`), and a
    /// manifest's old annotation/config time becomes its `image_created`. Times recorded
    /// by wharf or observed are kept. `image_time` gives the build time of a manifest
    /// whose version-1 entry did not carry one. Returns true when anything changed.
    pub fn migrate(&mut self, observed: Timestamp, image_time: &mut dyn FnMut(&Digest) -> Option<Timestamp>) -> bool {
        if self.wharf_meta_version >= META_VERSION {
            return false;
        }
        for (d, m) in self.manifests.iter_mut() {
            m.image_created = match m.created_source {
                TimeSource::Annotation | TimeSource::Config => Some(m.created),
                _ => image_time(d),
            };
            if m.created_source.is_image_time() {
                m.created = observed;
                m.created_source = TimeSource::Observed;
            }
        }
        for t in self.tags.values_mut() {
            if t.created_source.is_image_time() {
                t.created = observed;
                t.updated = t.updated.max(observed);
                t.created_source = TimeSource::Observed;
            }
        }
        self.wharf_meta_version = META_VERSION;
        true
    }

    /// Makes the sidecar agree with index.json in one pass over each. Whatever changed
    /// behind wharf's back is dated `observed` (the moment of this load, never earlier
    /// than index.json's mtime): a new manifest's `created`, a new or moved tag's
    /// `created`/`updated`, a manifest's `untagged_at`. `image_time` gives the build time
    /// of a manifest the sidecar does not know (shown as `image_created`, never used for
    /// decisions). Returns true when anything changed.
    pub fn reconcile(
        &mut self,
        view: &IndexView<'_>,
        observed: Timestamp,
        image_time: &mut dyn FnMut(&Digest) -> Option<Timestamp>,
    ) -> bool {
        let mut changed = false;
        let live: std::collections::HashSet<&Digest> = view.manifests.iter().copied().collect();
        let before = self.manifests.len();
        self.manifests.retain(|d, _| live.contains(d));
        changed |= before != self.manifests.len();
        for d in &view.manifests {
            if !self.manifests.contains_key(*d) {
                self.manifests.insert(
                    (*d).clone(),
                    ManifestMeta {
                        created: observed,
                        created_source: TimeSource::Observed,
                        untagged_at: None,
                        untagged_source: None,
                        image_created: image_time(d),
                        locks: Locks::default(),
                        kind: None,
                        subject: None,
                    },
                );
                changed = true;
            }
        }
        let tag_names: std::collections::HashSet<&str> = view.tags.iter().map(|(t, _)| *t).collect();
        let before = self.tags.len();
        self.tags.retain(|t, _| tag_names.contains(t.as_str()));
        changed |= before != self.tags.len();
        for (tag, digest) in &view.tags {
            match self.tags.get_mut(*tag) {
                Some(m) if &m.digest == *digest => {}
                Some(m) => {
                    // index.json was changed behind wharf's back: trust it.
                    m.digest = (*digest).clone();
                    m.updated = observed.max(m.created);
                    changed = true;
                }
                None => {
                    self.tags.insert(
                        tag.to_string(),
                        TagMeta {
                            digest: (*digest).clone(),
                            created: observed,
                            updated: observed,
                            created_source: TimeSource::Observed,
                            locks: Locks::default(),
                        },
                    );
                    changed = true;
                }
            }
        }
        let tagged: std::collections::HashSet<&Digest> = view.tags.iter().map(|(_, d)| *d).collect();
        for (d, m) in self.manifests.iter_mut() {
            if tagged.contains(d) {
                if m.untagged_at.is_some() {
                    m.untagged_at = None;
                    m.untagged_source = None;
                    changed = true;
                }
            } else if m.untagged_at.is_none() {
                m.untagged_at = Some(observed);
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

    fn manifest(created: Timestamp, source: TimeSource) -> ManifestMeta {
        ManifestMeta {
            created,
            created_source: source,
            untagged_at: None,
            untagged_source: None,
            image_created: None,
            locks: Locks::default(),
            kind: None,
            subject: None,
        }
    }

    #[test]
    fn reconcile_backfills_and_drops() {
        let t0 = parse_timestamp("2026-01-01").unwrap();
        let t1 = parse_timestamp("2026-02-01").unwrap();
        let built = parse_timestamp("1970-01-01").unwrap();
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
        meta.manifests.insert(gone.clone(), manifest(t0, TimeSource::Wharf));
        let view = IndexView { tags: vec![("v1", &a)], manifests: vec![&a, &b] };
        let changed = meta.reconcile(&view, t1, &mut |_| Some(built));
        assert!(changed);
        assert!(!meta.tags.contains_key("old") && !meta.manifests.contains_key(&gone));
        let v1 = &meta.tags["v1"];
        assert_eq!((&v1.digest, v1.created, v1.updated, v1.created_source), (&a, t1, t1, TimeSource::Observed));
        assert_eq!(meta.manifests[&a].untagged_at, None);
        assert_eq!(meta.manifests[&b].untagged_at, Some(t1), "untagged manifest observed now");
        assert_eq!((meta.manifests[&b].created, meta.manifests[&b].created_source), (t1, TimeSource::Observed));
        assert_eq!(meta.manifests[&b].image_created, Some(built), "the build time is kept apart");
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
        meta.reconcile(&view, t0, &mut |_| None);
        // Another tool moved v1 to b; a stays as an untagged entry.
        let view = IndexView { tags: vec![("v1", &b)], manifests: vec![&a, &b] };
        assert!(meta.reconcile(&view, t1, &mut |_| None));
        let v1 = &meta.tags["v1"];
        assert_eq!((&v1.digest, v1.created, v1.updated), (&b, t0, t1), "created kept, updated when observed");
        assert_eq!(meta.manifests[&a].untagged_at, Some(t1));
        assert_eq!(meta.manifests[&a].untagged_source, Some(TimeSource::Observed));
        assert_eq!((meta.manifests[&b].created, meta.manifests[&b].created_source), (t1, TimeSource::Observed));
        assert_eq!(meta.manifests[&b].untagged_at, None);
    }

    #[test]
    fn version_1_image_times_migrate_to_observed_registry_times() {
        // Regression (issue 8, defect 17): version 1 took a reproducible image's config
        // `created` (1970) as the tag's registry time, so `purge --ago 30d` removed a tag
        // pushed a minute before.
        let epoch = parse_timestamp("1970-01-01").unwrap();
        let made = parse_timestamp("2026-01-05").unwrap();
        let observed = parse_timestamp("2026-03-01").unwrap();
        let (a, w) = (Digest::of(b"a"), Digest::of(b"w"));
        let mut meta = Meta::new(epoch);
        meta.wharf_meta_version = 1;
        meta.manifests.insert(a.clone(), manifest(epoch, TimeSource::Config));
        meta.manifests.insert(w.clone(), manifest(made, TimeSource::Wharf));
        let tag = |digest: &Digest, t: Timestamp, source| TagMeta {
            digest: digest.clone(),
            created: t,
            updated: t,
            created_source: source,
            locks: Locks::default(),
        };
        meta.tags.insert("repro".into(), tag(&a, epoch, TimeSource::Config));
        meta.tags.insert("mine".into(), tag(&w, made, TimeSource::Wharf));
        let built = parse_timestamp("2025-12-31").unwrap();
        assert!(meta.migrate(observed, &mut |d| (d == &w).then_some(built)));
        assert_eq!(meta.wharf_meta_version, META_VERSION);
        let r = &meta.tags["repro"];
        assert_eq!((r.created, r.updated, r.created_source), (observed, observed, TimeSource::Observed));
        assert_eq!(meta.manifests[&a].image_created, Some(epoch), "the old config time is the image's");
        assert_eq!((meta.manifests[&a].created, meta.manifests[&a].created_source), (observed, TimeSource::Observed));
        let m = &meta.tags["mine"];
        assert_eq!((m.created, m.updated, m.created_source), (made, made, TimeSource::Wharf), "wharf times stay");
        assert_eq!(meta.manifests[&w].image_created, Some(built));
        assert!(!meta.migrate(observed, &mut |_| unreachable!()), "a version 2 sidecar is left as it is");
    }
}
