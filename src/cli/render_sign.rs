//! `wharf sign`, the `--key`/`--require-signed` options and `config signatures` on the
//! command line: key files read, the passphrase of an encrypted key taken from
//! `COSIGN_PASSWORD` or asked on the terminal, and the human rendering of the reports.

use std::fmt::Write;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use super::output::Human;
use crate::error::{Error, Result};
use crate::model::signature::PrivateKey;
use crate::ops::config::SignaturesReport;
use crate::ops::sign::SignReport;
use crate::ops::signatures::{self, SignatureGate};

/// The variable cosign reads the passphrase of an encrypted key from.
pub const PASSWORD_VAR: &str = "COSIGN_PASSWORD";

/// Reads the signing key; an encrypted one is opened with `$COSIGN_PASSWORD`, else a
/// passphrase asked on the terminal, else a clear error.
pub fn private_key(path: &Path) -> Result<PrivateKey> {
    if !signatures::key_is_encrypted(path)? {
        return signatures::load_private_key(path, None);
    }
    let pass = match std::env::var(PASSWORD_VAR) {
        Ok(p) => p,
        Err(_) if std::io::stdin().is_terminal() => {
            rpassword::prompt_password(format!("Enter the passphrase of {}: ", path.display()))
                .map_err(Error::io("read the passphrase from", "the terminal"))?
        }
        Err(_) => {
            return Err(Error::bad_input(
                path.display().to_string(),
                format!("an encrypted cosign key, and no passphrase: set {PASSWORD_VAR} (no terminal to ask on)"),
            ));
        }
    };
    signatures::load_private_key(path, Some(&pass))
}

/// `--require-signed PUB...` as a gate (none when no key is given).
pub fn gate(keys: &[PathBuf]) -> Result<Option<SignatureGate>> {
    if keys.is_empty() {
        return Ok(None);
    }
    Ok(Some(SignatureGate::new(signatures::load_public_keys(keys)?)))
}

/// `--policy FILE|default`: `default` is /etc/containers/policy.json, beneath
/// `$WHARF_SYSTEM_ROOT` when that is set (tests never read the real /etc).
pub fn policy(arg: &str) -> Result<signatures::PullPolicy> {
    let path = if arg == "default" {
        crate::remote::sysconf::check_root()?;
        let p = crate::remote::sysconf::etc("containers/policy.json");
        if !p.is_file() {
            return Err(Error::Usage(format!("--policy default: {} does not exist; pass --policy FILE", p.display())));
        }
        p
    } else {
        PathBuf::from(arg)
    };
    signatures::PullPolicy::load(&path)
}

/// `config signatures --key PUB...`: each key read and checked, kept as PEM text.
pub fn policy_keys(keys: &[PathBuf]) -> Result<Vec<String>> {
    Ok(signatures::load_public_keys(keys)?.iter().map(|k| k.to_pem()).collect())
}

impl Human for SignReport {
    fn human(&self, out: &mut String) {
        for s in &self.signed {
            let what = if s.created { "signed" } else { "already signed by this key" };
            let _ = writeln!(
                out,
                "{what} {}@{} -> {}:{} ({} signature(s))",
                s.repository, s.digest, s.repository, s.signature_tag, s.signatures
            );
        }
        let _ = writeln!(out, "key: {} {}", self.key.algorithm, self.key.fingerprint);
    }
}

impl Human for SignaturesReport {
    fn human(&self, out: &mut String) {
        if !self.enabled {
            let _ = writeln!(out, "signatures: not required");
            return;
        }
        let scope = self.scope.as_deref().map(|s| format!(" in repositories matching ^({s})$")).unwrap_or_default();
        let _ = writeln!(out, "signatures: required{scope}, by any one of:");
        for k in &self.keys {
            let _ = writeln!(out, "  {} {}", k.algorithm, k.fingerprint);
        }
    }
}
