//! Connection options and human renderings for `pull` and `push`.

use std::fmt::Write;
use std::io::BufRead;

use super::args::RemoteArgs;
use super::output::{Human, human_bytes};
use crate::error::{Error, Result};
use crate::ops::pull::PullReport;
use crate::ops::push::{BlobAction, PushReport, Status};
use crate::registry::TagChange;
use crate::remote::login::{LoginOutcome, LogoutOutcome};
use crate::remote::{ConnectOptions, Credentials};

impl Human for LoginOutcome {
    fn human(&self, out: &mut String) {
        match &self.helper {
            Some(h) => {
                let _ = writeln!(
                    out,
                    "Login Succeeded: {} (stored by {h}, as {} says)",
                    self.registry,
                    self.file.display()
                );
            }
            None => {
                let _ = writeln!(out, "Login Succeeded: {} (credentials in {})", self.registry, self.file.display());
            }
        }
    }
}

impl Human for LogoutOutcome {
    fn human(&self, out: &mut String) {
        if self.removed.is_empty() {
            let _ = writeln!(out, "no credentials in {}", self.file.display());
        }
        for r in &self.removed {
            let _ = writeln!(out, "Removed login credentials for {r} from {}", self.file.display());
        }
    }
}

/// The options of `wharf login`: `-u USER` stands for `--creds USER`.
pub fn connect_options_for_login(a: &RemoteArgs, username: Option<&str>) -> Result<ConnectOptions> {
    if username.is_some() && a.creds.is_some() {
        return Err(Error::Usage("login: give -u USER or --creds USER[:PASS], not both".into()));
    }
    if username.is_some() && !a.password_stdin {
        return Err(Error::Usage(
            "login -u USER reads the password from stdin: add --password-stdin (wharf does not prompt)".into(),
        ));
    }
    connect_options_with(a, a.creds.clone().or(username.map(str::to_string)))
}

pub fn connect_options(a: &RemoteArgs) -> Result<ConnectOptions> {
    connect_options_with(a, a.creds.clone())
}

fn connect_options_with(a: &RemoteArgs, creds: Option<String>) -> Result<ConnectOptions> {
    let creds = match (&creds, a.password_stdin) {
        (Some(c), false) => Some(Credentials::parse(c)),
        (user, true) => {
            if user.as_deref().is_some_and(|u| u.contains(':')) {
                return Err(Error::Usage(
                    "--password-stdin reads the password: give --creds USER without :PASS".into(),
                ));
            }
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(Error::io("read the password (--password-stdin) from", "stdin"))?;
            let line = line.trim_end_matches(['\n', '\r']);
            match user {
                Some(u) => Some(Credentials { username: u.clone(), password: line.to_string() }),
                None if line.contains(':') => Some(Credentials::parse(line)),
                None => {
                    return Err(Error::Usage(
                        "--password-stdin without --creds USER reads USER:PASS from stdin, but the line has no `:`"
                            .into(),
                    ));
                }
            }
        }
        (None, false) => None,
    };
    Ok(ConnectOptions {
        creds,
        authfile: a.authfile.clone(),
        ca_file: a.ca_file.clone(),
        cert_dir: a.cert_dir.clone(),
        no_system_roots: a.no_system_roots,
        tls_insecure: !a.tls_verify,
        plain_http: a.plain_http,
        timeouts: a
            .timeout
            .map(|s| crate::remote::Timeouts::uniform(std::time::Duration::from_secs(s)))
            .unwrap_or_default(),
    })
}

impl Human for PullReport {
    fn human(&self, out: &mut String) {
        for i in &self.images {
            let platforms =
                if i.platforms.is_empty() { String::new() } else { format!(" [{}]", i.platforms.join(", ")) };
            let refs =
                if i.referrers.is_empty() { String::new() } else { format!(", {} referrer(s)", i.referrers.len()) };
            if i.tags.is_empty() {
                let _ = writeln!(out, "{} -> {}@{}{platforms}{refs}, untagged", i.source, i.repository, i.digest);
            }
            for t in &i.tags {
                let change = match &t.change {
                    TagChange::Created => "new tag".to_string(),
                    TagChange::Unchanged => "unchanged".to_string(),
                    TagChange::Moved { from } => format!("moved from {}", from.short()),
                };
                let _ = writeln!(
                    out,
                    "{} -> {}:{} {}{platforms}{refs} ({change})",
                    i.source, i.repository, t.tag, i.digest
                );
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        let _ = writeln!(
            out,
            "pulled {} image(s) ({} manifest(s)): downloaded {} blob(s) ({}), {} already present ({})",
            self.images.len(),
            self.manifests,
            self.downloaded_blobs,
            human_bytes(self.downloaded_bytes),
            self.reused_blobs,
            human_bytes(self.reused_bytes)
        );
    }
}

impl Human for PushReport {
    fn human(&self, out: &mut String) {
        for t in &self.tags {
            let count = |a: BlobAction| t.blobs.iter().filter(|b| b.action == a).count();
            let status = match (self.dry_run, t.status) {
                (true, Status::Skipped) => "would skip",
                (true, _) => "would push",
                (false, Status::Pushed) => "pushed",
                (false, Status::Mounted) => "pushed (all blobs mounted or present)",
                (false, Status::Skipped) => "skipped (already there)",
            };
            let refs =
                if t.referrers.is_empty() { String::new() } else { format!(", {} referrer(s)", t.referrers.len()) };
            let _ = writeln!(
                out,
                "{} -> {} {}: {status}; blobs: {} upload, {} mount, {} skip{refs}",
                t.source,
                t.destination,
                t.digest.short(),
                count(BlobAction::Upload),
                count(BlobAction::Mount),
                count(BlobAction::Skip)
            );
            if self.dry_run {
                for b in &t.blobs {
                    let a = match b.action {
                        BlobAction::Upload => "upload",
                        BlobAction::Mount => "mount",
                        BlobAction::Skip => "skip",
                    };
                    let _ = writeln!(out, "  {a:<6} {} ({})", b.digest, human_bytes(b.size));
                }
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        let skipped = self.tags.iter().filter(|t| t.status == Status::Skipped).count();
        let _ = writeln!(
            out,
            "{} {} tag(s) to {} ({} already there): {} blob(s) uploaded ({}), {} mounted, {} skipped; {} manifest(s) pushed",
            if self.dry_run { "would push" } else { "pushed" },
            self.tags.len() - skipped,
            self.registry,
            skipped,
            self.uploaded_blobs,
            human_bytes(self.uploaded_bytes),
            self.mounted_blobs,
            self.skipped_blobs,
            self.manifests_pushed
        );
    }
}
