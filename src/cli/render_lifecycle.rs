//! Human renderings of the lifecycle reports: delete, gc, purge, sweep, config, deleted,
//! restore.

use std::fmt::Write;

use super::output::{Human, human_bytes, ts};
use crate::ops::config::{PoliciesReport, PolicyReport};
use crate::ops::delete::DeleteReport;
use crate::ops::gc::GcReport;
use crate::ops::purge::PurgeReport;
use crate::ops::sweep::SweepReport;
use crate::ops::trash::{DeletedReport, RestoreReport};

fn would(dry_run: bool, done: &'static str, planned: &'static str) -> &'static str {
    if dry_run { planned } else { done }
}

impl Human for DeleteReport {
    fn human(&self, out: &mut String) {
        let verb = would(self.dry_run, "deleted", "would delete");
        if self.target == "repository" {
            let _ = writeln!(
                out,
                "{verb} repository {} ({} manifests; repository deletes are permanent)",
                self.repository,
                self.manifests.len()
            );
        }
        for m in &self.manifests {
            let tags = if m.tags.is_empty() { "untagged".to_string() } else { format!("tags: {}", m.tags.join(", ")) };
            let _ = writeln!(out, "{verb} {}@{} ({tags})", self.repository, m.digest);
        }
        if self.target == "manifest" {
            match (&self.expires_at, self.soft_deleted) {
                (Some(t), true) => {
                    let _ = writeln!(out, "soft delete: restorable with `wharf restore` until {}", ts(t));
                }
                _ => {
                    let _ = writeln!(
                        out,
                        "its blobs are freed by `wharf gc` once they are older than gc's grace period ({} by default, which spares imports in flight); `wharf gc --grace 0s` frees them now",
                        crate::ops::gc::DEFAULT_GRACE
                    );
                }
            }
        }
    }
}

impl Human for GcReport {
    fn human(&self, out: &mut String) {
        let verb = would(self.dry_run, "freed", "would free");
        for r in &self.repositories {
            for rr in &r.referrers_removed {
                let _ = writeln!(
                    out,
                    "{} {}@{} (referrer of {}, which is gone){}",
                    would(self.dry_run, "removed", "would remove"),
                    r.repository,
                    rr.digest,
                    rr.subject,
                    if rr.trashed { " to the trash" } else { "" }
                );
            }
            if !r.blobs.is_empty() {
                let _ = writeln!(out, "{}: {verb} {} blobs, {}", r.repository, r.blobs.len(), human_bytes(r.bytes));
            }
        }
        if !self.pool.is_empty() {
            let _ = writeln!(out, "pool: {verb} {} blobs, {}", self.pool.len(), human_bytes(self.pool_bytes));
        }
        for s in &self.staging {
            let _ = writeln!(out, "dead staging {}: {verb} {}", s.path, human_bytes(s.bytes));
        }
        for t in &self.temp_files {
            let _ = writeln!(out, "temp file {}: {verb} {}", t.path, human_bytes(t.bytes));
        }
        for id in &self.expired_trash {
            let _ = writeln!(out, "expired trash record {id}: {}", would(self.dry_run, "removed", "would remove"));
        }
        if self.is_empty() {
            let _ = writeln!(out, "nothing to collect");
        } else {
            let _ = writeln!(
                out,
                "total: {verb} {} blobs, {} of files; {} of disk space (hard-linked files counted once)",
                self.total_blobs,
                human_bytes(self.total_bytes),
                human_bytes(self.freed_bytes)
            );
        }
        if self.spared_young > 0 {
            let _ = writeln!(
                out,
                "{} unreferenced blobs are younger than the grace period ({}s) and stay",
                self.spared_young, self.grace_seconds
            );
        }
    }
}

impl Human for PurgeReport {
    fn human(&self, out: &mut String) {
        for r in &self.repositories {
            if let Some(why) = &r.skipped {
                let _ = writeln!(out, "{}: skipped: {why}", r.repository);
                continue;
            }
            for t in &r.tags {
                let _ = writeln!(
                    out,
                    "{} tag {}:{} ({}, updated {})",
                    would(self.dry_run, "purged", "would purge"),
                    r.repository,
                    t.tag,
                    t.digest,
                    ts(&t.updated)
                );
            }
            for d in &r.manifests {
                let _ =
                    writeln!(out, "{} manifest {}@{d}", would(self.dry_run, "deleted", "would delete"), r.repository);
            }
            for t in &r.locked_tags {
                let _ = writeln!(out, "kept {}:{t} (locked; --include-locked removes it)", r.repository);
            }
            for k in &r.kept_manifests {
                let _ = writeln!(out, "kept {}@{} ({})", r.repository, k.digest, k.reason.replace('_', " "));
            }
        }
        let _ = writeln!(
            out,
            "{} {} tags and {} manifests{}",
            would(self.dry_run, "purged", "would purge"),
            self.total_tags,
            self.total_manifests,
            if self.soft_deleted { " (to the trash)" } else { "" }
        );
    }
}

impl Human for SweepReport {
    fn human(&self, out: &mut String) {
        let _ = writeln!(out, "sweep as of {}{}", ts(&self.now), if self.dry_run { " (dry run)" } else { "" });
        match &self.retention {
            None => {
                let _ = writeln!(out, "retention: off");
            }
            Some(r) => {
                let _ = writeln!(
                    out,
                    "retention: untagged manifests untagged before {} ({} days)",
                    ts(&r.cutoff),
                    r.untagged_days
                );
                for repo in &r.repositories {
                    for d in &repo.manifests {
                        let _ = writeln!(
                            out,
                            "  {} {}@{d}",
                            would(self.dry_run, "deleted", "would delete"),
                            repo.repository
                        );
                    }
                    for k in &repo.kept_manifests {
                        let _ =
                            writeln!(out, "  kept {}@{} ({})", repo.repository, k.digest, k.reason.replace('_', " "));
                    }
                }
            }
        }
        for e in &self.expired {
            let _ = writeln!(
                out,
                "soft delete: {} expired record {} ({}, {} items)",
                would(self.dry_run, "removed", "would remove"),
                e.id,
                e.repository,
                e.items
            );
        }
        let _ = writeln!(out, "gc:");
        let mut gc = String::new();
        self.gc.human(&mut gc);
        for line in gc.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
}

impl Human for PolicyReport {
    fn human(&self, out: &mut String) {
        let name = self.policy.replace('_', " ");
        let _ = match self.days {
            Some(d) => writeln!(out, "{name}: {d} days{}", if self.changed { " (set)" } else { "" }),
            None => writeln!(out, "{name}: off{}", if self.changed { " (disabled)" } else { "" }),
        };
    }
}

impl Human for PoliciesReport {
    fn human(&self, out: &mut String) {
        self.retention.human(out);
        self.soft_delete.human(out);
        self.signatures.human(out);
    }
}

impl Human for DeletedReport {
    fn human(&self, out: &mut String) {
        if self.items.is_empty() {
            let _ = writeln!(
                out,
                "no soft-deleted items{}",
                if self.soft_delete_days.is_none() { " (soft delete is off)" } else { "" }
            );
            return;
        }
        let _ = writeln!(out, "{:<24}  {:<8}  {:<20}  {:<20}  REFERENCE", "REPOSITORY", "KIND", "DELETED", "EXPIRES");
        for i in &self.items {
            let tags = if i.tags.is_empty() { String::new() } else { format!(":{}", i.tags.join(",")) };
            let _ = writeln!(
                out,
                "{:<24}  {:<8}  {:<20}  {:<20}  {}{tags}@{}{}",
                i.repository,
                i.kind,
                ts(&i.deleted_at),
                ts(&i.expires_at),
                i.repository,
                i.digest,
                if i.expired { " (expired)" } else { "" }
            );
        }
    }
}

impl Human for RestoreReport {
    fn human(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "restored {}@{}{}",
            self.repository,
            self.digest,
            if self.restored_tags.is_empty() {
                String::new()
            } else {
                format!(" with tags {}", self.restored_tags.join(", "))
            }
        );
        if !self.skipped_tags.is_empty() {
            let _ = writeln!(
                out,
                "left tags {} alone: they now point at other manifests (--force moves them)",
                self.skipped_tags.join(", ")
            );
        }
    }
}
