//! Human renderings of the inspection and lock reports (`manifests`, `show`,
//! `referrers`, `update`, `lock`, `unlock`).

use std::fmt::Write;

use super::output::{Human, human_bytes, ts};
use crate::model::Locks;
use crate::ops::inspect::{ManifestsReport, ReferrerInfo, ReferrersReport, ShowReport};
use crate::ops::locking::UpdateReport;

/// `write=false delete=false` style summary of the attributes that are off; `-` if none.
fn locks_summary(l: &Locks) -> String {
    let off: Vec<&str> =
        [(l.write_enabled, "write"), (l.delete_enabled, "delete"), (l.read_enabled, "read"), (l.list_enabled, "list")]
            .iter()
            .filter(|(on, _)| !on)
            .map(|(_, n)| *n)
            .collect();
    if off.is_empty() { "-".to_string() } else { format!("{} disabled", off.join(",")) }
}

/// The snake_case name a unit enum serialises to (`mtime`, `config`, …).
fn name_of<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn locks_full(l: &Locks) -> String {
    format!(
        "write_enabled={} delete_enabled={} read_enabled={} list_enabled={}",
        l.write_enabled, l.delete_enabled, l.read_enabled, l.list_enabled
    )
}

impl Human for ManifestsReport {
    fn human(&self, out: &mut String) {
        if self.manifests.is_empty() {
            let _ = writeln!(out, "{} has no manifests", self.repository);
            return;
        }
        let _ = writeln!(
            out,
            "{:<71}  {:<10}  {:>10}  {:<20}  {:<20}  {:<20}  TAGS",
            "DIGEST", "KIND", "SIZE", "CREATED", "IMAGE CREATED", "LOCKS"
        );
        for m in &self.manifests {
            let tags = if m.tags.is_empty() {
                match &m.untagged_at {
                    Some(t) => format!("(untagged since {})", ts(t)),
                    None => "(untagged)".to_string(),
                }
            } else {
                m.tags.join(", ")
            };
            let _ = writeln!(
                out,
                "{:<71}  {:<10}  {:>10}  {:<20}  {:<20}  {:<20}  {tags}",
                m.digest.to_string(),
                m.kind.name(),
                human_bytes(m.size),
                ts(&m.created),
                m.image_created.as_ref().map_or_else(|| "-".to_string(), ts),
                locks_summary(&m.locks)
            );
        }
    }
}

fn referrer_line(out: &mut String, r: &ReferrerInfo) {
    let kind = r.artifact_type.as_deref().unwrap_or(&r.media_type);
    let tags = if r.tags.is_empty() { String::new() } else { format!("  [{}]", r.tags.join(", ")) };
    let absent = if r.present { "" } else { "  (not in this repository)" };
    let _ = writeln!(out, "  {}  {kind}{tags}{absent}", r.digest);
}

impl Human for ShowReport {
    fn human(&self, out: &mut String) {
        let _ = writeln!(out, "repository:  {}", self.repository);
        let _ = writeln!(out, "digest:      {}", self.digest);
        let _ = writeln!(out, "media type:  {}", self.media_type);
        let _ = writeln!(out, "kind:        {}", self.artifact_kind);
        if !self.unreadable_by.is_empty() {
            let _ = writeln!(
                out,
                "note:        Docker-typed, kept byte for byte (its digest survives): {} cannot read it",
                self.unreadable_by.join(" and ")
            );
        }
        if let Some(a) = &self.artifact_type {
            let _ = writeln!(out, "artifact:    {a}");
        }
        let _ = writeln!(out, "size:        {} ({} bytes)", human_bytes(self.size), self.size);
        if !self.platforms.is_empty() {
            let _ = writeln!(out, "platforms:   {}", self.platforms.join(", "));
        }
        let tags = if self.tags.is_empty() { "(none)".to_string() } else { self.tags.join(", ") };
        let _ = writeln!(out, "tags:        {tags}");
        if let (Some(c), Some(src)) = (&self.created, &self.created_source) {
            let _ = writeln!(out, "created:     {} (from {})", ts(c), name_of(src));
        }
        if let Some(c) = &self.image_created {
            let _ = writeln!(out, "image created: {} (build time; not used by purge or retention)", ts(c));
        }
        if let (Some(u), Some(src)) = (&self.untagged_at, &self.untagged_source) {
            let _ = writeln!(out, "untagged at: {} (from {})", ts(u), name_of(src));
        }
        if !self.top_level {
            let parents: Vec<String> = self.parents.iter().map(|p| p.to_string()).collect();
            let _ = writeln!(out, "child of:    {}", parents.join(", "));
        }
        let _ = writeln!(out, "locks:");
        let mut rows = vec![("repository".to_string(), &self.locks.repository)];
        rows.extend(self.locks.tags.iter().map(|(t, l)| (format!("tag {t}"), l)));
        if self.top_level {
            rows.push(("manifest".to_string(), &self.locks.manifest));
        }
        let w = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
        for (label, l) in rows {
            let _ = writeln!(out, "  {label:<w$}  {}", locks_full(l));
        }
        if !self.children.is_empty() {
            let _ = writeln!(out, "children:");
            for c in &self.children {
                let role = name_of(&c.role);
                let platform = c.platform.as_deref().map(|p| format!("  {p}")).unwrap_or_default();
                let absent = if c.present { "" } else { "  (absent)" };
                let size = c.size.map(human_bytes).unwrap_or_default();
                let _ = writeln!(out, "  {role:<8}  {}  {size:>10}  {}{platform}{absent}", c.digest, c.media_type);
            }
        }
        if !self.referrers.is_empty() {
            let _ = writeln!(out, "referrers:");
            for r in &self.referrers {
                referrer_line(out, r);
            }
        }
    }
}

impl Human for ReferrersReport {
    fn human(&self, out: &mut String) {
        if self.referrers.is_empty() {
            let _ = writeln!(out, "{} ({}) has no referrers", self.reference, self.digest);
            return;
        }
        let _ = writeln!(out, "referrers of {} ({}):", self.reference, self.digest);
        for r in &self.referrers {
            referrer_line(out, r);
        }
    }
}

impl Human for UpdateReport {
    fn human(&self, out: &mut String) {
        let object = name_of(&self.object);
        if self.changed {
            let _ = writeln!(out, "updated {object} {}: {}", self.target, locks_full(&self.after));
        } else {
            let _ = writeln!(out, "{object} {} unchanged: {}", self.target, locks_full(&self.after));
        }
    }
}
