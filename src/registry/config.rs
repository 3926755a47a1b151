//! `.wharf/registry.json`: the registry's format version and policies.

use serde::{Deserialize, Serialize};

pub const REGISTRY_VERSION: u64 = 1;

/// Registry-wide settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryConfig {
    pub wharf_registry_version: u64,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub soft_delete: SoftDelete,
    /// The standing signature policy (`wharf config signatures`); absent when off.
    #[serde(default, skip_serializing_if = "Signatures::is_off")]
    pub signatures: Signatures,
}

/// The standing signature policy: with `require`, every import, pull and sync into a
/// repository matching `scope` (all when none) must bring a valid cosign signature by one
/// of `keys` (PEM `PUBLIC KEY` text, stored here so the policy does not depend on files).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signatures {
    #[serde(default)]
    pub require: bool,
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

impl Signatures {
    pub fn is_off(&self) -> bool {
        *self == Signatures::default()
    }
}

/// Untagged-manifest retention: `None` means disabled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    #[serde(default)]
    pub untagged_days: Option<u32>,
}

/// Soft delete: `None` means disabled (deletes are immediate).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftDelete {
    #[serde(default)]
    pub days: Option<u32>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            wharf_registry_version: REGISTRY_VERSION,
            retention: Retention::default(),
            soft_delete: SoftDelete::default(),
            signatures: Signatures::default(),
        }
    }
}
