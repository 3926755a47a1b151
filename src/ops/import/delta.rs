//! Importing a delta bundle (`wharf export … --exclude-present INVENTORY`), recognised
//! by the annotation `io.wharf.bundle.delta` on the archive's index.json. Every blob the
//! archive holds is received and checked as usual; a blob it leaves out is taken from
//! the registry being imported into (pool, or the layout's blobs), provided it is there
//! with the size the descriptor declares and readable content holds it (proof of
//! possession: a digest named in a delta is never a way round a read lock). Such a blob is held by a hard link in this
//! import's staging area (so a concurrent gc cannot free it) and linked, never copied,
//! into the repository at commit. A blob that is neither in the archive nor in the
//! registry fails the import before anything changes, naming every such blob.

use super::content::{Blob, Content, Sink};
use crate::error::{Error, Result};
use crate::model::Digest;

/// A [`Content`] that falls back to the registry for the blobs a delta left out.
pub struct DeltaContent<'c> {
    pub inner: &'c mut dyn Content,
    /// Blobs neither in the archive nor in the registry: `digest (size bytes)`.
    pub absent: Vec<String>,
    /// Blobs taken from the registry.
    pub reused: std::collections::BTreeSet<Digest>,
}

impl<'c> DeltaContent<'c> {
    pub fn new(inner: &'c mut dyn Content) -> DeltaContent<'c> {
        DeltaContent { inner, absent: Vec::new(), reused: Default::default() }
    }
}

/// The registry's copy of `digest`, held from the staging area (pinned against a
/// concurrent gc, with the head bytes the pre-commit checks read).
fn reuse(sink: &mut Sink<'_>, digest: &Digest, size: u64) -> Result<Option<Blob>> {
    sink.reuse(digest, size)
}

impl Content for DeltaContent<'_> {
    fn label(&self) -> String {
        format!("{} (a delta bundle)", self.inner.label())
    }

    fn member(&mut self, sink: &mut Sink<'_>, path: &str) -> Result<Option<Blob>> {
        self.inner.member(sink, path)
    }

    fn blob(&mut self, sink: &mut Sink<'_>, digest: &Digest, size: u64) -> Result<Option<Blob>> {
        if let Some(b) = self.inner.blob(sink, digest, size)? {
            return Ok(Some(b));
        }
        match reuse(sink, digest, size)? {
            Some(b) => {
                self.reused.insert(digest.clone());
                Ok(Some(b))
            }
            None => {
                let s = format!("{digest} ({size} bytes)");
                if !self.absent.contains(&s) {
                    self.absent.push(s);
                }
                Ok(None)
            }
        }
    }

    fn small_blobs(&mut self, sink: &mut Sink<'_>, max: u64) -> Result<Vec<Blob>> {
        self.inner.small_blobs(sink, max)
    }
}

/// Reads a delta archive's layout; a blob missing from both the archive and the
/// registry is refused, naming all of them.
pub fn read_layout(
    content: &mut dyn Content,
    sink: &mut Sink<'_>,
    opts: &super::Options,
) -> Result<(Vec<super::Found>, Vec<String>)> {
    let mut d = DeltaContent::new(content);
    let r = super::oci::read_layout(&mut d, sink, opts);
    if !d.absent.is_empty() {
        return Err(Error::refused(format!(
            "{}: this delta bundle leaves out {} blob(s) that this registry does not hold either (or holds only \
             under a read lock, which a delta cannot stand in for): {}; import the \
             full bundle (or the earlier deltas) this delta was made against first, or export a delta against an \
             inventory of this registry (`wharf inventory -o FILE`)",
            d.inner.label(),
            d.absent.len(),
            d.absent.join(", ")
        )));
    }
    let (found, mut notes) = r?;
    if !d.reused.is_empty() {
        notes.push(format!("delta bundle: {} blob(s) left out of it were taken from this registry", d.reused.len()));
    }
    Ok((found, notes))
}

/// The root digests of the found manifests that are referrers (have a `subject`).
pub fn referrer_roots(founds: &[super::Found]) -> std::collections::BTreeSet<Digest> {
    founds
        .iter()
        .filter(|f| {
            f.blobs
                .get(&f.root.digest)
                .and_then(|b| b.read_small("a manifest").ok())
                .and_then(|b| crate::model::Document::parse(&b, &f.root.media_type).ok())
                .is_some_and(|d| d.subject.is_some())
        })
        .map(|f| f.root.digest.clone())
        .collect()
}

/// Referrers are untagged on purpose (they travel with their subject): the "imported
/// untagged; pass --tag" note is not for them. One summary note replaces those notes.
pub fn quiet_referrer_notes(referrers: &std::collections::BTreeSet<Digest>, notes: &mut Vec<String>) {
    if referrers.is_empty() {
        return;
    }
    let before = notes.len();
    notes.retain(|n| !(n.contains("was imported untagged") && referrers.iter().any(|d| n.contains(&d.to_string()))));
    if notes.len() < before {
        notes.push(format!(
            "{} referrer(s) imported untagged next to their subjects (see `wharf referrers`)",
            before - notes.len()
        ));
    }
}
