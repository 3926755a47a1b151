//! `wharf sweep [--dry-run]`: the cron job. Under one exclusive lock, in this order:
//!
//! 1. retention (when `config retention` set N days): every untagged manifest whose
//!    `untagged_at` is at least N days before now is deleted (to the trash when soft
//!    delete is on), except locked ones, children of indexes that stay, referrers of
//!    manifests that stay and subjects of referrers that stay;
//! 2. soft-delete expiry: trash records whose `expires_at` has passed are removed;
//! 3. gc with the default grace period.
//!
//! `--as-of` previews a sweep at a future date. The dry run plans gc as if steps 1 and 2
//! had been applied, so it lists exactly what the real run removes.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::Ctx;
use super::gc::{self, GcOptions, GcReport, Simulation};
use super::trash::{manifest_items, pin};
use crate::error::Result;
use crate::model::retention::{KeptManifest, hold_locked, older_than, settle};
use crate::model::time::parse_duration;
use crate::model::{Digest, RepoName, Timestamp};
use crate::registry::trash::TrashReason;

/// What retention removes in one repository.
#[derive(Debug, Serialize)]
pub struct RetentionRepo {
    /// The repository.
    pub repository: RepoName,
    /// Untagged manifests older than the policy, removed.
    pub manifests: Vec<Digest>,
    /// Untagged manifests that qualified but stay, and why.
    pub kept_manifests: Vec<KeptManifest>,
}

/// The retention part of a sweep (the registry's `untagged_days` policy).
#[derive(Debug, Serialize)]
pub struct RetentionReport {
    /// The policy: untagged manifests older than this many days go.
    pub untagged_days: u32,
    /// Manifests untagged before this time qualified (now minus `untagged_days`).
    pub cutoff: Timestamp,
    /// Repositories with something to remove or keep, sorted by name.
    pub repositories: Vec<RetentionRepo>,
    /// Manifests removed, over all repositories.
    pub total_manifests: usize,
}

/// A trash record past its expiry, removed by a sweep.
#[derive(Debug, Serialize)]
pub struct ExpiredRecord {
    /// The record's id.
    pub id: String,
    /// The repository its items came from.
    pub repository: String,
    /// How many tags and manifests it held.
    pub items: usize,
    /// When it expired.
    pub expires_at: Timestamp,
}

/// The report of [`Registry::sweep`](crate::Registry::sweep) (`wharf sweep`): retention, trash expiry, then gc.
#[derive(Debug, Serialize)]
pub struct SweepReport {
    /// True for a plan only: nothing was changed.
    pub dry_run: bool,
    /// The time the run judged ages against (the clock, or [`Registry::as_of`](crate::Registry::as_of)).
    pub now: Timestamp,
    /// Absent when no retention policy is set.
    pub retention: Option<RetentionReport>,
    /// Expired trash records removed.
    pub expired: Vec<ExpiredRecord>,
    /// The gc that ends the sweep.
    pub gc: GcReport,
    /// Space actually released by the run (gc's `freed_bytes`: each inode once, when its
    /// last link goes).
    pub freed_bytes: u64,
}

/// `wharf sweep [--dry-run]`.
pub fn run(ctx: &Ctx<'_>, dry_run: bool) -> Result<SweepReport> {
    let _lock = if dry_run { None } else { Some(ctx.write_lock()?) };
    let _read = if dry_run { ctx.read_lock()? } else { None };
    let registry = ctx.registry;
    let mut sim = Simulation::default();
    let retention = match registry.config().retention.untagged_days {
        None => None,
        Some(days) => {
            let cutoff = crate::model::time::cutoff(
                ctx.now,
                chrono::Duration::days(i64::from(days)),
                "the retention policy (config retention --untagged-days)",
            )?;
            let mut repositories = Vec::new();
            for name in registry.repo_names()? {
                let mut repo = registry.open_repo(&name, ctx.now)?;
                if repo.repo_locks().protects() {
                    continue;
                }
                let tagged: BTreeSet<Digest> = repo.tag_entries().into_iter().map(|(_, d)| d.digest.clone()).collect();
                let untagged: Vec<(Digest, Timestamp)> = repo
                    .manifest_digests()
                    .into_iter()
                    .filter(|d| !tagged.contains(d))
                    .filter_map(|d| {
                        let t = repo.meta.manifests.get(&d)?.untagged_at?;
                        Some((d, t))
                    })
                    .collect();
                let mut candidates: BTreeSet<Digest> = older_than(&untagged, cutoff).into_iter().collect();
                let kept = hold_locked(&mut candidates, |d| repo.manifest_locks(d).protects());
                // The graph is read only when something may go.
                let nodes = if candidates.is_empty() { BTreeMap::new() } else { repo.retention_graph()? };
                let (remove, kept) = settle(&nodes, &candidates, kept);
                if dry_run {
                    if registry.config().soft_delete.days.is_some() {
                        for it in manifest_items(&repo, &remove) {
                            sim.pinned.entry(name.clone()).or_default().insert((it.digest, it.media_type));
                        }
                    }
                    sim.removed.entry(name.clone()).or_default().extend(remove.iter().cloned());
                } else if !remove.is_empty() {
                    pin(registry, &name, TrashReason::Retention, ctx.now, manifest_items(&repo, &remove))?;
                    repo.remove_manifests_unchecked(&remove.iter().cloned().collect(), ctx.now);
                    repo.save()?;
                } else if repo.meta_dirty {
                    // Keep the observed untagged_at times, so that retention counts from them.
                    repo.save_meta()?;
                }
                if !remove.is_empty() || !kept.is_empty() {
                    repositories.push(RetentionRepo { repository: name, manifests: remove, kept_manifests: kept });
                }
            }
            let total_manifests = repositories.iter().map(|r| r.manifests.len()).sum();
            Some(RetentionReport { untagged_days: days, cutoff, repositories, total_manifests })
        }
    };
    let mut expired = Vec::new();
    for rec in registry.trash_records()? {
        if rec.expired(ctx.now) {
            if dry_run {
                sim.expired.insert(rec.id.clone());
            } else {
                registry.remove_trash(&rec.id)?;
            }
            expired.push(ExpiredRecord {
                id: rec.id,
                repository: rec.repository,
                items: rec.items.len(),
                expires_at: rec.expires_at,
            });
        }
    }
    let opts = GcOptions { dry_run, grace: parse_duration(gc::DEFAULT_GRACE)? };
    let gc = gc::run_locked(registry, ctx.now, &opts, &sim)?;
    let freed_bytes = gc.freed_bytes;
    Ok(SweepReport { dry_run, now: ctx.now, retention, expired, gc, freed_bytes })
}
