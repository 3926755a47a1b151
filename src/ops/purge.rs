//! `wharf purge`: acr purge's semantics, made safe.
//!
//! For every repository that a `--filter 'REPO_RE:TAG_RE'` matches: the tags matching
//! TAG_RE, except the `--keep` newest, that were last updated at or before now − `--ago`
//! are removed (their manifests stay, untagged). With `--untagged` the manifests left
//! untagged by that, and the untagged manifests whose `untagged_at` is at or before the
//! cutoff, are deleted too; `--untagged-only` does only the latter. Never removed: the
//! children of indexes that stay, the referrers of manifests that stay, the subjects of
//! referrers that stay, and (without `--include-locked`) anything locked against delete.
//! A locked repository is never touched. Decisions are made by `model::retention`; the
//! plan is built on the unchanged registry and applied as planned, so the dry run and
//! the real run agree item for item.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Serialize;

use super::Ctx;
use super::trash::{manifest_items, pin, tag_items};
use crate::error::{Error, Result};
pub use crate::model::retention::KeptManifest;
use crate::model::retention::{Filter, TagDecision, TagRow, decide_tags, hold_locked, older_than, settle};
use crate::model::{Digest, RepoName, Tag, Timestamp};
use crate::registry::Repository;
use crate::registry::trash::TrashReason;

#[derive(Debug, Clone)]
pub struct PurgeOptions {
    pub filters: Vec<Filter>,
    pub ago: Option<chrono::Duration>,
    pub keep: usize,
    pub untagged: bool,
    pub untagged_only: bool,
    pub include_locked: bool,
    pub dry_run: bool,
}

/// A tag purge removed (or would remove).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurgedTag {
    /// The tag.
    pub tag: String,
    /// The manifest it pointed at.
    pub digest: Digest,
    /// When it was last (re)pointed: what `ago` was measured against.
    pub updated: Timestamp,
}

/// What purge does in one repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurgeRepo {
    /// The repository.
    pub repository: RepoName,
    /// Tags removed, sorted by tag.
    pub tags: Vec<PurgedTag>,
    /// Untagged manifests removed (with `untagged` or `untagged_only`), sorted.
    pub manifests: Vec<Digest>,
    /// Matching tags left because they are locked.
    pub locked_tags: Vec<String>,
    /// Untagged manifests that qualified but stay.
    pub kept_manifests: Vec<KeptManifest>,
    /// Set when the whole repository was skipped (a repository lock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// The report of [`Registry::purge`](crate::Registry::purge) (`wharf purge`).
#[derive(Debug, Serialize)]
pub struct PurgeReport {
    /// True for a plan only: nothing was changed.
    pub dry_run: bool,
    /// The filters as given.
    pub filters: Vec<String>,
    /// Only tags updated before this time qualified: now minus `ago`; `None` without `ago`.
    pub cutoff: Option<Timestamp>,
    /// Repositories a filter matched, sorted by name.
    pub repositories: Vec<PurgeRepo>,
    /// Tags removed, over all repositories.
    pub total_tags: usize,
    /// Manifests removed, over all repositories.
    pub total_manifests: usize,
    /// True when what was removed went to the trash (soft delete is on).
    pub soft_deleted: bool,
}

/// `wharf purge …`.
pub fn run(ctx: &Ctx<'_>, opts: &PurgeOptions) -> Result<PurgeReport> {
    if opts.filters.is_empty() {
        return Err(Error::Usage("purge needs at least one --filter 'REPO_REGEX:TAG_REGEX'".into()));
    }
    if opts.untagged && opts.untagged_only {
        return Err(Error::Usage("--untagged and --untagged-only exclude each other".into()));
    }
    // A dry run reads under the shared lock (and so writes nothing, not even `.wharf/`
    // in a plain layout).
    let _lock = if opts.dry_run { None } else { Some(ctx.write_lock()?) };
    let _read = if opts.dry_run { ctx.read_lock()? } else { None };
    let cutoff = opts.ago.map(|a| crate::model::time::cutoff(ctx.now, a, "--ago")).transpose()?;
    let mut repositories = Vec::new();
    for name in ctx.registry.repo_names()? {
        let filters: Vec<&Filter> = opts.filters.iter().filter(|f| f.repo.is_match(name.as_str())).collect();
        if filters.is_empty() {
            continue;
        }
        let mut repo = ctx.registry.open_repo(&name, ctx.now)?;
        let plan = plan_repo(&repo, &filters, cutoff, opts)?;
        if !opts.dry_run {
            apply_repo(ctx, &mut repo, &plan)?;
        }
        if !plan.tags.is_empty()
            || !plan.manifests.is_empty()
            || !plan.locked_tags.is_empty()
            || !plan.kept_manifests.is_empty()
            || plan.skipped.is_some()
        {
            repositories.push(plan);
        }
    }
    Ok(PurgeReport {
        dry_run: opts.dry_run,
        filters: opts.filters.iter().map(|f| f.text.clone()).collect(),
        cutoff,
        total_tags: repositories.iter().map(|r| r.tags.len()).sum(),
        total_manifests: repositories.iter().map(|r| r.manifests.len()).sum(),
        repositories,
        soft_deleted: ctx.registry.config().soft_delete.days.is_some(),
    })
}

fn plan_repo(
    repo: &Repository,
    filters: &[&Filter],
    cutoff: Option<Timestamp>,
    opts: &PurgeOptions,
) -> Result<PurgeRepo> {
    let mut out = PurgeRepo {
        repository: repo.name.clone(),
        tags: Vec::new(),
        manifests: Vec::new(),
        locked_tags: Vec::new(),
        kept_manifests: Vec::new(),
        skipped: None,
    };
    if repo.repo_locks().protects() {
        out.skipped = Some(format!(
            "the repository is locked; lift it with `wharf update {} --write-enabled true --delete-enabled true`",
            repo.name
        ));
        return Ok(out);
    }
    let mut purge: BTreeMap<String, PurgedTag> = BTreeMap::new();
    let mut locked: BTreeSet<String> = BTreeSet::new();
    if !opts.untagged_only {
        let rows: Vec<TagRow> = repo
            .tag_entries()
            .into_iter()
            .map(|(t, d)| TagRow {
                tag: t.to_string(),
                digest: d.digest.clone(),
                updated: repo.meta.tags.get(t.as_str()).map_or(repo.meta.repository.updated, |m| m.updated),
                locked: repo.tag_locks(&t).protects() || repo.manifest_locks(&d.digest).protects(),
            })
            .collect();
        for f in filters {
            for (row, decision) in decide_tags(&rows, &f.tag, cutoff, opts.keep, opts.include_locked) {
                match decision {
                    TagDecision::Purge => {
                        purge.insert(
                            row.tag.clone(),
                            PurgedTag { tag: row.tag, digest: row.digest, updated: row.updated },
                        );
                    }
                    TagDecision::Locked => {
                        locked.insert(row.tag);
                    }
                    TagDecision::Keep | TagDecision::TooNew => {}
                }
            }
        }
    }
    locked.retain(|t| !purge.contains_key(t));
    if opts.untagged || opts.untagged_only {
        // Manifests with no tag left after the tag purge, plus old untagged ones.
        let mut remaining: HashSet<&Digest> = HashSet::new();
        for (t, d) in repo.tag_entries() {
            if !purge.contains_key(t.as_str()) {
                remaining.insert(&d.digest);
            }
        }
        let newly: BTreeSet<Digest> =
            purge.values().map(|p| p.digest.clone()).filter(|d| !remaining.contains(d)).collect();
        let mut tags_by_digest: BTreeMap<&Digest, Vec<Tag>> = BTreeMap::new();
        for (t, d) in repo.tag_entries() {
            tags_by_digest.entry(&d.digest).or_default().push(t);
        }
        let untagged: Vec<(Digest, Timestamp)> = repo
            .manifest_digests()
            .into_iter()
            .filter(|d| !tags_by_digest.contains_key(d))
            .map(|d| {
                let m = repo.meta.manifests.get(&d);
                let t = m.and_then(|m| m.untagged_at.or(Some(m.created))).unwrap_or(repo.meta.repository.updated);
                (d, t)
            })
            .collect();
        let old: Vec<Digest> = match cutoff {
            Some(c) => older_than(&untagged, c),
            None => untagged.into_iter().map(|(d, _)| d).collect(),
        };
        let mut candidates: BTreeSet<Digest> = newly.into_iter().chain(old).collect();
        let mut kept = Vec::new();
        if !opts.include_locked {
            kept = hold_locked(&mut candidates, |d| {
                repo.manifest_locks(d).protects()
                    || tags_by_digest.get(d).is_some_and(|ts| {
                        ts.iter().any(|t| !purge.contains_key(t.as_str()) && repo.tag_locks(t).protects())
                    })
            });
        }
        let (remove, kept) = settle(&repo.retention_graph()?, &candidates, kept);
        out.manifests = remove;
        out.kept_manifests = kept;
    }
    out.tags = purge.into_values().collect();
    out.locked_tags = locked.into_iter().collect();
    Ok(out)
}

fn apply_repo(ctx: &Ctx<'_>, repo: &mut Repository, plan: &PurgeRepo) -> Result<()> {
    if plan.tags.is_empty() && plan.manifests.is_empty() {
        if repo.meta_dirty {
            repo.save_meta()?;
        }
        return Ok(());
    }
    let removed: BTreeSet<Digest> = plan.manifests.iter().cloned().collect();
    // Trash items copy every removed entry and its metadata: built only when soft delete
    // will keep them (a purge of 100k tags would otherwise hold a second copy for nothing).
    if ctx.registry.config().soft_delete.days.is_some() {
        let mut items = manifest_items(repo, &plan.manifests);
        let lone_tags: BTreeSet<String> =
            plan.tags.iter().filter(|t| !removed.contains(&t.digest)).map(|t| t.tag.clone()).collect();
        items.extend(tag_items(repo, &lone_tags));
        pin(ctx.registry, &repo.name.clone(), TrashReason::Purge, ctx.now, items)?;
    }
    let all_tags: BTreeSet<String> = plan.tags.iter().map(|t| t.tag.clone()).collect();
    repo.untag_many_unchecked(&all_tags, ctx.now);
    repo.remove_manifests_unchecked(&removed, ctx.now);
    repo.save()
}
