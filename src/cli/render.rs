//! Human renderings of the reports.

use std::fmt::Write;

use super::output::{Human, human_bytes, ts};
use crate::ops::init::InitReport;
use crate::ops::listing::{ReposReport, TagsReport};
use crate::ops::tagging::{TagReport, UntagReport};
use crate::registry::TagChange;

impl Human for InitReport {
    fn human(&self, out: &mut String) {
        let _ = writeln!(out, "initialised registry at {}", self.root);
    }
}

impl Human for ReposReport {
    fn human(&self, out: &mut String) {
        if self.repositories.is_empty() {
            if self.errors.is_empty() {
                out.push_str("no repositories\n");
            }
            return;
        }
        let w = self.repositories.iter().map(|r| r.name.as_str().len()).max().unwrap_or(4).max(10);
        let kinds: Vec<String> =
            self.repositories.iter().map(|r| r.kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(",")).collect();
        let kw = kinds.iter().map(String::len).max().unwrap_or(4).max(4);
        let _ = writeln!(
            out,
            "{:<w$}  {:<kw$}  {:>5}  {:>9}  {:>10}  UPDATED",
            "REPOSITORY", "KIND", "TAGS", "MANIFESTS", "SIZE"
        );
        for (r, k) in self.repositories.iter().zip(&kinds) {
            let _ = writeln!(
                out,
                "{:<w$}  {:<kw$}  {:>5}  {:>9}  {:>10}  {}",
                r.name.as_str(),
                k,
                r.tags,
                r.manifests,
                human_bytes(r.size),
                ts(&r.updated)
            );
        }
    }
}

impl Human for TagsReport {
    fn human(&self, out: &mut String) {
        if self.tags.is_empty() {
            let _ = writeln!(out, "{} has no tags", self.repository);
            return;
        }
        let w = self.tags.iter().map(|t| t.name.len()).max().unwrap_or(3).max(3);
        let _ = writeln!(out, "{:<w$}  {:<71}  {:<20}  IMAGE CREATED", "TAG", "DIGEST", "UPDATED");
        for t in &self.tags {
            let lock = if t.locks.write_enabled && t.locks.delete_enabled { "" } else { "  (locked)" };
            let image = t.image_created.as_ref().map_or_else(|| "-".to_string(), ts);
            let _ =
                writeln!(out, "{:<w$}  {:<71}  {:<20}  {image}{lock}", t.name, t.digest.to_string(), ts(&t.updated));
        }
    }
}

impl Human for TagReport {
    fn human(&self, out: &mut String) {
        let _ = match &self.change {
            TagChange::Created => writeln!(out, "tagged {} -> {}", self.target, self.digest),
            TagChange::Unchanged => writeln!(out, "{} already points at {}", self.target, self.digest),
            TagChange::Moved { from } => writeln!(
                out,
                "moved {} from {} to {} (the old manifest stays, untagged)",
                self.target, from, self.digest
            ),
        };
    }
}

impl Human for UntagReport {
    fn human(&self, out: &mut String) {
        if self.remaining_tags.is_empty() {
            let _ = writeln!(out, "untagged {}; {} is now untagged", self.reference, self.digest);
        } else {
            let _ = writeln!(
                out,
                "untagged {}; {} keeps tags {}",
                self.reference,
                self.digest,
                self.remaining_tags.join(", ")
            );
        }
    }
}
