//! The command line: clap arguments, human and `--json` rendering, exit codes. No domain
//! logic lives here: each command parses its arguments, calls one operation in `ops`, and
//! renders the report it returns.
//!
//! Exit codes: 0 success; 1 completed with findings; 2 usage or operational error.
//! stdout carries data; stderr carries progress, notes and errors.

mod args;
mod manuals;
mod output;
mod render;
mod render_artifact;
mod render_found;
mod render_import;
mod render_lifecycle;
mod render_remote;
mod render_serve;
mod render_sign;
mod render_sync;
mod render_verify;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command, ConfigCommand, Global};
use output::{Outcome, Printer};

use crate::error::{Error, Result};
use crate::model::retention::Filter;
use crate::model::time::{parse_duration, parse_timestamp};
use crate::model::{Reference, RepoName, Timestamp};
use crate::ops::{self, Ctx};
use crate::registry::Registry;

/// Entry point of the `wharf` binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let printer = Printer::new(cli.global.json, cli.global.quiet, cli.global.verbose);
    let started = std::time::Instant::now();
    match run(&cli, &printer) {
        // A closed stdout (`wharf tags R | head -1`) ends the process quietly with the
        // exit code of the work done: see output::Written::Closed.
        Ok(mut outcome) => {
            // --quiet: a command that changes the registry says nothing when it succeeds;
            // listings still print the data they were asked for.
            if cli.global.quiet && !cli.command.prints_data() {
                outcome.no_human = true;
            }
            let code = match printer.emit(&outcome) {
                Ok(_) => ExitCode::from(outcome.exit_code),
                Err(e) => {
                    printer.error(&e);
                    ExitCode::from(e.exit_code())
                }
            };
            if cli.global.verbose {
                output::note(&format!("done in {:.3} s (exit {})", started.elapsed().as_secs_f64(), outcome.exit_code));
            }
            code
        }
        Err(e) => {
            printer.error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

/// `--quiet`, for the lock-waiting note (called from deep inside an operation).
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The registry root: `--root`, else `$WHARF_ROOT` (set and not empty), else the
/// per-user data directory (`$XDG_DATA_HOME/wharf`, else `~/.local/share/wharf`).
fn root_dir(g: &Global) -> Result<PathBuf> {
    if let Some(r) = &g.root {
        return Ok(r.clone());
    }
    if let Some(r) = std::env::var_os("WHARF_ROOT").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(r));
    }
    dirs::data_dir()
        .map(|d| d.join("wharf"))
        .ok_or_else(|| Error::Usage("no registry root: pass --root DIR or set WHARF_ROOT".into()))
}

fn now(g: &Global) -> Result<Timestamp> {
    match &g.as_of {
        Some(t) => parse_timestamp(t).map_err(|e| Error::Usage(format!("--as-of: {e}"))),
        None => Ok(chrono::Utc::now()),
    }
}

/// A DURATION option: a parse error names the option.
fn duration_arg(option: &str, s: &str) -> Result<chrono::Duration> {
    parse_duration(s).map_err(|e| Error::Usage(format!("{option}: {e}")))
}

fn waiting(path: &Path) {
    if QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    output::note(&format!("waiting for lock on {} (another wharf process holds it)…", path.display()));
}

fn repo_arg(s: &str) -> Result<RepoName> {
    Ok(RepoName::parse(s)?)
}

fn reference_arg(s: &str) -> Result<Reference> {
    Ok(Reference::parse(s)?)
}

/// A lock target: a reference, or a bare repository name.
fn lock_ref_arg(s: &str) -> Result<Reference> {
    Ok(Reference::parse_loose(s)?)
}

fn run(cli: &Cli, printer: &Printer) -> Result<Outcome> {
    let g = &cli.global;
    QUIET.store(g.quiet, std::sync::atomic::Ordering::Relaxed);
    if g.verbose
        && let Ok(r) = root_dir(g)
    {
        output::note(&format!("registry root: {}", r.display()));
    }
    let root = root_dir(g)?;
    match &cli.command {
        Command::Completions { shell } => return Outcome::ok(manuals::completions(*shell)?),
        Command::Man { output } => return Outcome::ok(manuals::man_pages(output)?),
        Command::Login { host, username, remote } => {
            let mut connect = render_remote::connect_options_for_login(remote, username.as_deref())?;
            let Some(creds) = connect.creds.take() else {
                return Err(Error::Usage(
                    "login needs credentials: -u USER --password-stdin (the password on stdin), or --creds USER:PASS"
                        .into(),
                ));
            };
            return Outcome::ok(crate::remote::login::login(host, &creds, &connect)?);
        }
        Command::Logout { host, all, authfile } => {
            return Outcome::ok(crate::remote::login::logout(host.as_deref(), *all, authfile.as_deref())?);
        }
        _ => {}
    }
    let now = now(g)?;
    if let Command::Init = cli.command {
        return Outcome::ok(ops::init::run(&root)?);
    }
    if let Command::Verify(a) = &cli.command {
        return render_verify::run(&root, a, g);
    }
    let registry = Registry::open(&root)?;
    let mut ctx = Ctx::new(&registry, now, &waiting);
    ctx.lock_wait.wait = !g.no_wait;
    ctx.progress = !g.quiet && std::io::stderr().is_terminal();
    let _ = printer;
    match &cli.command {
        Command::Init => unreachable!("handled above"),
        Command::Repos => {
            let report = ops::listing::repos(&ctx)?;
            for e in &report.errors {
                output::note(&format!("error: repository {}: {}", e.name, e.message));
            }
            let code = if report.errors.is_empty() { 0 } else { 1 };
            Ok(Outcome::with_code(report, code))
        }
        Command::Tags { repo, orderby, top } => {
            let order = orderby.as_deref().map(ops::inspect::OrderBy::parse).transpose()?;
            Outcome::ok(ops::listing::tags_ordered(&ctx, &repo_arg(repo)?, order, *top)?)
        }
        Command::Tag { source, target, force } => {
            Outcome::ok(ops::tagging::tag(&ctx, &reference_arg(source)?, &reference_arg(target)?, *force)?)
        }
        Command::Untag { reference } => Outcome::ok(ops::tagging::untag(&ctx, &reference_arg(reference)?)?),
        Command::Manifests { repo, orderby, top } => {
            Outcome::ok(ops::inspect::manifests(&ctx, &repo_arg(repo)?, ops::inspect::OrderBy::parse(orderby)?, *top)?)
        }
        Command::Show { reference } => Outcome::ok(ops::inspect::show(&ctx, &reference_arg(reference)?)?),
        Command::Referrers { reference } => Outcome::ok(ops::inspect::referrers(&ctx, &reference_arg(reference)?)?),
        Command::Update { reference, write_enabled, delete_enabled, read_enabled, list_enabled } => {
            let changes = crate::registry::LockChanges {
                write_enabled: *write_enabled,
                delete_enabled: *delete_enabled,
                read_enabled: *read_enabled,
                list_enabled: *list_enabled,
            };
            Outcome::ok(ops::locking::update(&ctx, &lock_ref_arg(reference)?, changes)?)
        }
        Command::Lock { reference } => Outcome::ok(ops::locking::lock(&ctx, &lock_ref_arg(reference)?)?),
        Command::Unlock { reference } => Outcome::ok(ops::locking::unlock(&ctx, &lock_ref_arg(reference)?)?),
        Command::Delete { reference, repository, dry_run } => match (reference, repository) {
            (Some(r), None) => Outcome::ok(ops::delete::manifest(&ctx, &reference_arg(r)?, *dry_run)?),
            (None, Some(repo)) => Outcome::ok(ops::delete::repository(&ctx, &repo_arg(repo)?, *dry_run)?),
            _ => Err(Error::Usage("give either REF or --repository REPO".into())),
        },
        Command::Gc { dry_run, grace } => {
            let opts = ops::gc::GcOptions { dry_run: *dry_run, grace: duration_arg("--grace", grace)? };
            Outcome::ok(ops::gc::run(&ctx, &opts)?)
        }
        Command::Purge { filters, ago, keep, untagged, untagged_only, include_locked, dry_run } => {
            let opts = ops::purge::PurgeOptions {
                filters: filters.iter().map(|f| Filter::parse(f)).collect::<Result<_, _>>()?,
                ago: ago.as_deref().map(|a| duration_arg("--ago", a)).transpose()?,
                keep: *keep,
                untagged: *untagged,
                untagged_only: *untagged_only,
                include_locked: *include_locked,
                dry_run: *dry_run,
            };
            Outcome::ok(ops::purge::run(&ctx, &opts)?)
        }
        Command::Config { policy } => {
            use ops::config::PolicyChange;
            let change = |n: Option<u32>, disable: bool| match (n, disable) {
                (Some(n), _) => PolicyChange::Set(n),
                (None, true) => PolicyChange::Disable,
                (None, false) => PolicyChange::Show,
            };
            match policy {
                None => Outcome::ok(ops::config::show(&ctx)?),
                Some(ConfigCommand::Retention { untagged_days, disable }) => {
                    Outcome::ok(ops::config::retention(&ctx, change(*untagged_days, *disable))?)
                }
                Some(ConfigCommand::SoftDelete { days, disable }) => {
                    Outcome::ok(ops::config::soft_delete(&ctx, change(*days, *disable))?)
                }
                Some(ConfigCommand::Signatures { require, keys, scope, disable }) => {
                    use ops::config::SignaturesChange;
                    let c = match (*require, *disable) {
                        (true, _) => {
                            SignaturesChange::Require { keys: render_sign::policy_keys(keys)?, scope: scope.clone() }
                        }
                        (false, true) => SignaturesChange::Disable,
                        (false, false) => SignaturesChange::Show,
                    };
                    Outcome::ok(ops::config::signatures(&ctx, c)?)
                }
            }
        }
        Command::Sweep { dry_run } => Outcome::ok(ops::sweep::run(&ctx, *dry_run)?),
        Command::Deleted { repo } => {
            let repo = repo.as_deref().map(repo_arg).transpose()?;
            Outcome::ok(ops::trash::deleted(&ctx, repo.as_ref())?)
        }
        Command::Restore { reference, digest, force } => {
            let digest = digest.as_deref().map(crate::model::Digest::parse).transpose()?;
            Outcome::ok(ops::trash::restore(&ctx, &reference_arg(reference)?, digest.as_ref(), *force)?)
        }
        Command::Verify(_)
        | Command::Completions { .. }
        | Command::Man { .. }
        | Command::Login { .. }
        | Command::Logout { .. } => unreachable!("handled above"),
        Command::Import { sources, repo, tags, platforms, force, scoped, require_signed } => {
            let mut opts = render_import::import_options(sources, repo, tags, platforms, *force, *scoped)?;
            opts.gate = render_sign::gate(require_signed)?;
            Outcome::ok(ops::import::run(&ctx, &opts)?)
        }
        Command::Pull {
            sources,
            repo,
            tags,
            all_tags,
            platforms,
            no_referrers,
            force,
            scoped,
            jobs,
            remote,
            require_signed,
            policy,
        } => {
            let base = render_import::import_options(sources, repo, tags, platforms, *force, *scoped)?;
            let opts = ops::pull::Options {
                sources: base.sources,
                repo: base.repo,
                tags: base.tags,
                all_tags: *all_tags,
                platforms: base.platforms,
                no_referrers: *no_referrers,
                force: *force,
                scoped: *scoped,
                jobs: usize::from(*jobs),
                connect: render_remote::connect_options(remote)?,
                gate: render_sign::gate(require_signed)?,
                policy: policy.as_deref().map(render_sign::policy).transpose()?,
            };
            Outcome::ok(ops::pull::run(&ctx, &opts)?)
        }
        Command::Sync { files, dry_run, platforms, jobs, keep_going, prune, no_referrers, require_signed, remote } => {
            render_sync::run(
                &ctx,
                g.json || g.quiet,
                files,
                *dry_run,
                platforms,
                *jobs,
                *keep_going,
                *prune,
                *no_referrers,
                require_signed,
                remote,
            )
        }
        Command::Push { targets, to, all, no_referrers, dry_run, jobs, remote } => {
            let opts = ops::push::Options {
                targets: targets.clone(),
                to: Some(crate::remote::Destination::parse(to)?),
                all: *all,
                no_referrers: *no_referrers,
                dry_run: *dry_run,
                jobs: usize::from(*jobs),
                connect: render_remote::connect_options(remote)?,
            };
            Outcome::ok(ops::push::run(&ctx, &opts)?)
        }
        Command::Add { reference, files, artifact_type, annotations, force } => {
            let opts = ops::add::Options {
                reference: reference_arg(reference)?,
                files: render_artifact::file_args(files)?,
                artifact_type: artifact_type.clone(),
                annotations: ops::artifact::parse_annotations(annotations)?,
                force: *force,
            };
            Outcome::ok(ops::add::run(&ctx, &opts)?)
        }
        Command::Sign { references, key, annotations, recursive } => {
            let opts = ops::sign::Options {
                references: references.iter().map(|r| reference_arg(r)).collect::<Result<_>>()?,
                key: render_sign::private_key(key)?,
                annotations: ops::artifact::parse_annotations(annotations)?,
                recursive: *recursive,
            };
            Outcome::ok(ops::sign::run(&ctx, &opts)?)
        }
        Command::Attach { reference, files, artifact_type, annotations } => {
            let opts = ops::attach::Options {
                reference: reference_arg(reference)?,
                files: render_artifact::file_args(files)?,
                artifact_type: artifact_type.clone(),
                annotations: ops::artifact::parse_annotations(annotations)?,
            };
            Outcome::ok(ops::attach::run(&ctx, &opts)?)
        }
        Command::Export { refs, all, output, format, platforms, no_referrers, exclude_present, compress } => {
            if format == "files" {
                if refs.len() != 1 || *all {
                    return Err(Error::Usage("--format files takes exactly one REF (REPO:TAG or REPO@DIGEST)".into()));
                }
                return Outcome::ok(ops::export_files::run(&ctx, &reference_arg(&refs[0])?, output)?);
            }
            let targets = refs
                .iter()
                .map(|r| {
                    let p = lock_ref_arg(r)?;
                    Ok(if p.tag.is_none() && p.digest.is_none() {
                        ops::bundle::Target::Repo(p.repo)
                    } else {
                        ops::bundle::Target::Ref(p)
                    })
                })
                .collect::<Result<_>>()?;
            let opts = ops::export::Options {
                targets,
                all: *all,
                output: output.clone(),
                format: ops::export::Format::parse(format)?,
                platforms: render_import::platform_args(platforms)?,
                no_referrers: *no_referrers,
                exclude_present: exclude_present.clone(),
                compress: compress
                    .as_deref()
                    .map(ops::export::Compress::parse)
                    .transpose()?
                    .unwrap_or(ops::export::Compress::None),
            };
            if opts.output == "-" && g.json {
                return Err(Error::Usage("--json cannot be combined with -o - (stdout carries the archive)".into()));
            }
            let mut outcome = Outcome::ok(ops::export::run(&ctx, &opts)?)?;
            if opts.output == "-" {
                outcome.no_human = true;
            }
            Ok(outcome)
        }
        Command::Serve {
            addr,
            tls_cert,
            tls_key,
            htpasswd,
            max_connections,
            access_log,
            insecure_listen,
            shutdown_grace,
        } => render_serve::run(
            &root,
            render_serve::Args {
                addr,
                tls_cert,
                tls_key,
                htpasswd,
                max_connections: *max_connections,
                access_log,
                insecure_listen: *insecure_listen,
                shutdown_grace,
            },
        ),
        Command::Inventory { output } => {
            let report = ops::inventory::run(&ctx, output.as_deref())?;
            if output.as_deref().is_none_or(|o| o == "-") {
                if g.json {
                    return Err(Error::Usage(
                        "--json with no -o: the inventory itself is JSON on stdout; drop --json or pass -o FILE".into(),
                    ));
                }
                let text = String::from_utf8(ops::inventory::to_bytes(&report.inventory)).expect("utf-8");
                return Outcome::ok(output::Text(text));
            }
            Outcome::ok(report)
        }
    }
}
