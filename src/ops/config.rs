//! `wharf config retention [--untagged-days N | --disable]` and
//! `wharf config soft-delete [--days N | --disable]`: the registry's lifecycle policies,
//! stored in `.wharf/registry.json`. Without a flag, the current setting is shown;
//! `wharf config` alone shows both.

use serde::Serialize;

use super::Ctx;
use crate::error::{Error, Result};
use crate::registry::Registry;

pub const RETENTION_MAX_DAYS: u32 = 365;
pub const SOFT_DELETE_MIN_DAYS: u32 = 1;
pub const SOFT_DELETE_MAX_DAYS: u32 = 90;

/// What to do with one policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyChange {
    Show,
    Set(u32),
    Disable,
}

#[derive(Debug, Serialize)]
pub struct PolicyReport {
    /// `retention` or `soft_delete`.
    pub policy: &'static str,
    pub enabled: bool,
    pub days: Option<u32>,
    pub changed: bool,
}

/// The policies, as `wharf config` alone shows them.
#[derive(Debug, Serialize)]
pub struct PoliciesReport {
    pub retention: PolicyReport,
    pub soft_delete: PolicyReport,
    pub signatures: SignaturesReport,
}

/// What to do with the standing signature policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignaturesChange {
    Show,
    /// Require a signature by one of these keys (PEM text) in repositories matching the
    /// scope (all when none).
    Require {
        keys: Vec<String>,
        scope: Option<String>,
    },
    Disable,
}

/// The standing signature policy (`wharf config signatures`).
#[derive(Debug, Serialize)]
pub struct SignaturesReport {
    /// `signatures`.
    pub policy: &'static str,
    pub enabled: bool,
    /// The required keys, by algorithm and fingerprint.
    pub keys: Vec<crate::ops::signatures::KeyReport>,
    /// The repository regex the policy applies to (anchored); none: every repository.
    pub scope: Option<String>,
    pub changed: bool,
}

/// `wharf config`: the current policies.
pub fn show(ctx: &Ctx<'_>) -> Result<PoliciesReport> {
    Ok(PoliciesReport {
        retention: retention(ctx, PolicyChange::Show)?,
        soft_delete: soft_delete(ctx, PolicyChange::Show)?,
        signatures: signatures(ctx, SignaturesChange::Show)?,
    })
}

/// `wharf config signatures`.
pub fn signatures(ctx: &Ctx<'_>, change: SignaturesChange) -> Result<SignaturesReport> {
    use crate::model::signature::PublicKey;
    use crate::registry::config::Signatures;
    let want = match &change {
        SignaturesChange::Show => None,
        SignaturesChange::Disable => Some(Signatures::default()),
        SignaturesChange::Require { keys, scope } => {
            if keys.is_empty() {
                return Err(Error::Usage("config signatures --require needs at least one --key PUB".into()));
            }
            if let Some(s) = scope {
                crate::ops::signatures::anchored(s).map_err(|e| Error::Usage(format!("--scope {e}")))?;
            }
            Some(Signatures { require: true, keys: keys.clone(), scope: scope.clone() })
        }
    };
    let (reg, changed) = match want {
        None => {
            let _lock = ctx.read_lock()?;
            (Registry::open(ctx.registry.root())?, false)
        }
        Some(w) => {
            let _lock = ctx.write_lock()?;
            let mut reg = Registry::open(ctx.registry.root())?;
            let changed = reg.config().signatures != w;
            if changed {
                reg.config_mut().signatures = w;
                reg.save_config()?;
            }
            (reg, changed)
        }
    };
    let p = &reg.config().signatures;
    let keys = p
        .keys
        .iter()
        .filter_map(|k| PublicKey::from_pem(k.as_bytes()).ok())
        .map(|k| crate::ops::signatures::KeyReport::of(&k))
        .collect();
    Ok(SignaturesReport { policy: "signatures", enabled: p.require, keys, scope: p.scope.clone(), changed })
}

/// `wharf config retention`.
pub fn retention(ctx: &Ctx<'_>, change: PolicyChange) -> Result<PolicyReport> {
    if let PolicyChange::Set(n) = change
        && n > RETENTION_MAX_DAYS
    {
        return Err(Error::Usage(format!("--untagged-days {n} is out of range: expected 0 to {RETENTION_MAX_DAYS}")));
    }
    update(ctx, "retention", change, |reg| &mut reg.config_mut().retention.untagged_days)
}

/// `wharf config soft-delete`.
pub fn soft_delete(ctx: &Ctx<'_>, change: PolicyChange) -> Result<PolicyReport> {
    if let PolicyChange::Set(n) = change
        && !(SOFT_DELETE_MIN_DAYS..=SOFT_DELETE_MAX_DAYS).contains(&n)
    {
        return Err(Error::Usage(format!(
            "--days {n} is out of range: expected {SOFT_DELETE_MIN_DAYS} to {SOFT_DELETE_MAX_DAYS}"
        )));
    }
    update(ctx, "soft_delete", change, |reg| &mut reg.config_mut().soft_delete.days)
}

fn update(
    ctx: &Ctx<'_>,
    policy: &'static str,
    change: PolicyChange,
    field: impl Fn(&mut Registry) -> &mut Option<u32>,
) -> Result<PolicyReport> {
    let mut reg = match change {
        PolicyChange::Show => {
            let _lock = ctx.read_lock()?;
            Registry::open(ctx.registry.root())?
        }
        _ => {
            let _lock = ctx.write_lock()?;
            // Re-read under the lock: another process may have changed the other policy.
            let mut reg = Registry::open(ctx.registry.root())?;
            let want = match change {
                PolicyChange::Set(n) => Some(n),
                _ => None,
            };
            let slot = field(&mut reg);
            let changed = *slot != want;
            *slot = want;
            if changed {
                reg.save_config()?;
            }
            let days = *field(&mut reg);
            return Ok(PolicyReport { policy, enabled: days.is_some(), days, changed });
        }
    };
    let days = *field(&mut reg);
    Ok(PolicyReport { policy, enabled: days.is_some(), days, changed: false })
}
