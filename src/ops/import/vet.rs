//! Before commit: the staged content of every image passes the checks `wharf verify`
//! makes ([`crate::model::check`]), so import never commits what its own verify would
//! report as an error. A problem of error severity refuses the import (nothing written);
//! a warning is accepted and becomes a note. Documents also pass the size cap every
//! reader of the registry applies, so import never commits what wharf cannot read back.

use std::collections::BTreeSet;

use super::Found;
use crate::error::{Error, Result};
use crate::model::check::{self, Problem, Severity};
use crate::model::{Descriptor, Digest, MediaKind, Role};
use crate::registry::repository::MAX_DOCUMENT_BYTES;

/// Checks every document, config and layer of `found`, walking from its root without
/// recursion. Returns the warnings as notes; the first error refuses.
pub fn vet(found: &Found, label: &str) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    let mut seen: BTreeSet<(Digest, String)> = BTreeSet::new();
    // (descriptor, depth, its layers are opaque artifact content: check::layer_applies)
    let mut stack: Vec<(Descriptor, usize, bool)> = vec![(found.root.clone(), 1, false)];
    while let Some((desc, depth, opaque)) = stack.pop() {
        if !seen.insert((desc.digest.clone(), desc.media_type.clone())) {
            continue;
        }
        // Absent blobs (a subject, a non-distributable layer) were judged when received.
        let Some(blob) = found.blobs.get(&desc.digest) else { continue };
        let what = format!(
            "{label}: {} ({})",
            desc.digest,
            if desc.media_type.is_empty() { "blob" } else { &desc.media_type }
        );
        let kind = desc.kind();
        if kind == MediaKind::Layer {
            if opaque {
                continue;
            }
            let head = &blob.head[..blob.head.len().min(check::LAYER_HEAD)];
            judge(check::layer(&desc.media_type, head), &what, &mut notes)?;
            continue;
        }
        if !(kind.has_children() || (depth == 1 && desc.media_type.is_empty())) {
            continue;
        }
        judge(check::depth(depth), &what, &mut notes)?;
        let bytes = read_document(blob, &what)?;
        let checked = check::document(&bytes, &desc.media_type);
        for p in checked.problems {
            judge(Some(p), &what, &mut notes)?;
        }
        let Some(doc) = checked.doc else { continue };
        if let Some((config, layers)) = &checked.image_config
            && let Some(cb) = found.blobs.get(&config.digest)
        {
            let cwhat = format!("{label}: config {} of {}", config.digest, desc.digest);
            let bytes = read_document(cb, &cwhat)?;
            for p in check::config(&bytes, *layers) {
                judge(Some(p), &cwhat, &mut notes)?;
            }
        }
        let opaque_layers = !check::layer_applies(&doc);
        let mut children = Vec::new();
        for c in doc.children() {
            if c.role == Role::Subject {
                continue;
            }
            if let Some(d) = c.descriptor {
                children.push((d, depth + 1, opaque_layers && c.role == Role::Layer));
            }
        }
        children.reverse();
        stack.extend(children);
    }
    Ok(notes)
}

fn read_document(blob: &super::content::Blob, what: &str) -> Result<Vec<u8>> {
    if blob.size > MAX_DOCUMENT_BYTES {
        return Err(Error::bad_input(
            what,
            format!(
                "{} bytes, larger than any manifest, index or config wharf reads ({MAX_DOCUMENT_BYTES}); refused: wharf could not read it back",
                blob.size
            ),
        ));
    }
    blob.read_small(what)
}

fn judge(p: Option<Problem>, what: &str, notes: &mut Vec<String>) -> Result<()> {
    let Some(p) = p else { return Ok(()) };
    match p.severity {
        Severity::Error => Err(Error::bad_input(
            what,
            format!(
                "{}; refused (`wharf verify` reports this as an error: {})",
                p.message,
                serde_json::to_value(p.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
            ),
        )),
        Severity::Warning => {
            notes.push(format!("{what}: {} (accepted; `wharf verify` reports it as a warning)", p.message));
            Ok(())
        }
        Severity::Info => Ok(()),
    }
}
