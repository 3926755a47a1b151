//! `wharf verify` on the command line: options from the arguments, the human rendering
//! of [`VerifyReport`], exit 1 on findings. Verify does not open `--root` up front: a
//! PATH argument needs no registry.

use std::fmt::Write;
use std::io::IsTerminal;
use std::path::Path;

use super::args::{Global, VerifyArgs};
use super::output::{Human, Outcome, human_bytes};
use crate::error::{Error, Result};
use crate::ops::verify::{self, Finding, IoMode, Link, Severity, VerifyOptions, VerifyReport};
use crate::registry::LockWait;

pub(super) fn run(root: &Path, a: &VerifyArgs, g: &Global) -> Result<Outcome> {
    let io = IoMode::parse(&a.io).ok_or_else(|| {
        Error::Usage(format!("--io `{}` is not an I/O mode: expected `auto`, `read` or `mmap`", a.io))
    })?;
    let opts = VerifyOptions {
        jobs: a.jobs.map(|j| jobs_arg(usize::from(j), cores())).transpose()?,
        quick: a.quick,
        io,
        progress: !g.quiet && std::io::stderr().is_terminal(),
        keys: crate::ops::signatures::load_public_keys(&a.keys)?,
        require_signed: a.require_signed,
    };
    let wait = LockWait { wait: !g.no_wait, on_wait: &super::waiting };
    let report = verify::run(root, &a.targets, &opts, &wait)?;
    let code = report.exit_code();
    Ok(Outcome::with_code(report, code))
}

/// The most hashing threads `--jobs` may ask for: four per core, and never more than
/// [`MAX_JOBS`]. Hashing is bound by the disk and the cores; more threads only cost
/// memory (a 1 MiB buffer each) and scheduling.
pub const JOBS_PER_CORE: usize = 4;
pub const MAX_JOBS: usize = 256;

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Checks `--jobs N` against the cap: a usage error, not a silent clamp, so that a
/// script asking for 65535 learns its number means nothing.
fn jobs_arg(n: usize, cores: usize) -> Result<usize> {
    let cap = (JOBS_PER_CORE * cores).min(MAX_JOBS);
    if n > cap {
        return Err(Error::Usage(format!(
            "--jobs {n} is more than verify can use: at most {cap} ({JOBS_PER_CORE} per core on {cores} cores, at most {MAX_JOBS})"
        )));
    }
    Ok(n)
}

fn chain(path: &[Link]) -> String {
    let mut out = String::from("index.json");
    for l in path {
        let role = match l.role {
            crate::model::Role::Manifest => "manifests",
            crate::model::Role::Config => "config",
            crate::model::Role::Layer => "layers",
            crate::model::Role::Subject => "subject",
            crate::model::Role::Blob => "blobs",
        };
        let _ = match (l.index, &l.tag) {
            (Some(i), Some(t)) => write!(out, " → {role}[{i}] {} (tag {t})", l.digest.short()),
            (Some(i), None) => write!(out, " → {role}[{i}] {}", l.digest.short()),
            (None, _) => write!(out, " → {role} {}", l.digest.short()),
        };
    }
    out
}

fn finding(out: &mut String, f: &Finding) {
    let sev = match f.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    };
    let kind = serde_json::to_value(f.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let _ = write!(out, "{sev:<7}  {kind}");
    if let Some(r) = &f.repository {
        let _ = write!(out, "  {r}");
    }
    if let Some(d) = &f.digest {
        let _ = write!(out, "  {d}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "         {}", f.message);
    if let Some(file) = &f.file {
        let _ = writeln!(out, "         file: {file}");
    }
    if !f.path.is_empty() {
        let _ = writeln!(out, "         via:  {}", chain(&f.path));
    }
}

impl Human for VerifyReport {
    fn human(&self, out: &mut String) {
        let c = &self.counts;
        let _ = writeln!(out, "verify {}", self.scope.join(", "));
        for f in &self.findings {
            finding(out, f);
        }
        if self.hashed {
            let _ = writeln!(
                out,
                "checked {} repositories, {} documents, {} blob files; hashed {} distinct files, {} in {:.2}s ({}/s, {} threads)",
                c.repositories,
                c.documents,
                c.blob_files,
                c.blobs_hashed,
                human_bytes(c.bytes_hashed),
                self.seconds,
                human_bytes(self.bytes_per_second as u64),
                self.jobs
            );
        } else {
            let _ = writeln!(
                out,
                "checked {} repositories, {} documents, {} blob files in {:.2}s",
                c.repositories, c.documents, c.blob_files, self.seconds
            );
            let _ = writeln!(out, "quick mode: presence, sizes and structure only; no blob was hashed");
        }
        let verdict = if self.exit_code() == 0 { "OK" } else { "PROBLEMS FOUND" };
        let _ = writeln!(out, "{verdict}: {} errors, {} warnings, {} info", c.errors, c.warnings, c.info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_jobs_capped_table() {
        // (n, cores, accepted)
        let cases = [
            (1, 1, true),
            (4, 1, true),
            (5, 1, false),
            (8, 2, true),
            (9, 2, false),
            (256, 64, true),
            (257, 128, false),
            (65535, 2, false),
        ];
        for (n, cores, ok) in cases {
            assert_eq!(jobs_arg(n, cores).is_ok(), ok, "--jobs {n} on {cores} cores");
        }
        assert!(jobs_arg(65535, 2).unwrap_err().to_string().contains("--jobs 65535"));
    }
}
