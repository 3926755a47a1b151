//! `wharf sync`: options from the arguments, the plan on stderr before the fetches, and
//! the human rendering of the report.

use std::fmt::Write;
use std::path::PathBuf;

use super::args::RemoteArgs;
use super::output::{Human, Outcome, human_bytes};
use super::render_import::platform_args;
use super::render_remote::connect_options;
use crate::error::Result;
use crate::ops::Ctx;
use crate::ops::sync::{self, SyncAction, SyncReport, SyncResult};

#[allow(clippy::too_many_arguments)]
pub fn run(
    ctx: &Ctx<'_>,
    silent_plan: bool,
    files: &[PathBuf],
    dry_run: bool,
    platforms: &[String],
    jobs: u16,
    keep_going: bool,
    prune: bool,
    no_referrers: bool,
    require_signed: &[PathBuf],
    remote: &RemoteArgs,
) -> Result<Outcome> {
    let opts = sync::Options {
        spec: sync::load(files)?,
        platforms: platform_args(platforms)?,
        dry_run,
        keep_going,
        prune,
        no_referrers,
        jobs: usize::from(jobs),
        connect: connect_options(remote)?,
        gate: super::render_sign::gate(require_signed)?,
    };
    let mut show = |plan: &SyncReport| {
        if !silent_plan {
            let mut s = String::new();
            plan_text(plan, &mut s);
            super::output::note(s.trim_end());
        }
    };
    let report = sync::run_with(ctx, &opts, &mut show)?;
    let code = if report.failed > 0 { 1 } else { 0 };
    Ok(Outcome::with_code(report, code))
}

fn action(a: SyncAction) -> &'static str {
    match a {
        SyncAction::New => "new",
        SyncAction::Moved => "moved",
        SyncAction::Unchanged => "unchanged",
        SyncAction::Prune => "prune",
        SyncAction::Locked => "locked",
        SyncAction::Check => "check",
    }
}

fn plan_text(r: &SyncReport, out: &mut String) {
    let _ = writeln!(out, "plan:");
    for repo in &r.repositories {
        let n = |a| repo.tags.iter().filter(|t| t.action == a).count();
        let _ = writeln!(
            out,
            "  {} <- {}: {} new, {} moved, {} unchanged{}{}, {} to download",
            repo.repository,
            repo.source,
            n(SyncAction::New),
            n(SyncAction::Moved),
            n(SyncAction::Unchanged),
            match n(SyncAction::Prune) {
                0 => String::new(),
                k => format!(", {k} to prune"),
            },
            match n(SyncAction::Locked) {
                0 => String::new(),
                k => format!(", {k} locked"),
            },
            human_bytes(repo.bytes_to_download)
        );
        if let Some(e) = &repo.error {
            let _ = writeln!(out, "    error: {e}");
        }
        for t in repo.tags.iter().filter(|t| t.action != SyncAction::Unchanged) {
            let _ = writeln!(
                out,
                "    {} {}{}",
                action(t.action),
                t.reference,
                match &t.error {
                    Some(e) if t.action == SyncAction::Locked => format!(" ({e})"),
                    _ => String::new(),
                }
            );
        }
    }
    for f in &r.files {
        let _ = writeln!(out, "  {} <- {}: {}", f.reference, f.source, action(f.action));
    }
    let _ = writeln!(out, "  total: {} to download", human_bytes(r.bytes_to_download));
}

impl Human for SyncReport {
    fn human(&self, out: &mut String) {
        if self.dry_run {
            plan_text(self, out);
            let _ = writeln!(out, "dry run: nothing written");
            return;
        }
        for repo in &self.repositories {
            if let Some(e) = &repo.error {
                let _ = writeln!(out, "error: {} <- {}: {e}", repo.repository, repo.source);
            }
            for t in &repo.tags {
                let what = match t.result {
                    SyncResult::Done => "done",
                    SyncResult::Failed => "FAILED",
                    SyncResult::Skipped => "skipped",
                    SyncResult::Planned => continue,
                };
                let _ = writeln!(out, "{}:{} {} {what}", repo.repository, t.reference, action(t.action));
                if let Some(e) = t.error.as_ref().filter(|_| t.result == SyncResult::Failed) {
                    let _ = writeln!(out, "  error: {e}");
                }
            }
        }
        for f in &self.files {
            let what = match f.result {
                SyncResult::Done => "done",
                SyncResult::Failed => "FAILED",
                SyncResult::Skipped => "skipped",
                SyncResult::Planned => "unchanged",
            };
            let _ = writeln!(out, "{} {} {what}", f.reference, action(f.action));
            if let Some(e) = &f.error {
                let _ = writeln!(out, "  error: {e}");
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        let _ = writeln!(
            out,
            "synced: {} new, {} moved, {} unchanged, {} pruned, {} locked, {} failed; downloaded {}{}",
            self.new,
            self.moved,
            self.unchanged,
            self.pruned,
            self.locked,
            self.failed,
            human_bytes(self.downloaded_bytes),
            if self.stopped { " (stopped at the first failure; --keep-going goes on)" } else { "" }
        );
    }
}
