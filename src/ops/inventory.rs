//! `wharf inventory [-o FILE]`: what a registry holds, as JSON, so that another site can
//! export only what this one lacks (`wharf export … --exclude-present INVENTORY`).
//!
//! The inventory lists every blob reachable from every repository's index.json (the
//! closures of all tagged and untagged manifests: manifests, indexes, configs, layers),
//! with its size, and every manifest and index digest among them. Unreferenced pool
//! entries are left out: gc may take them, so no delta may count on them. Format: see
//! docs/FORMAT.md (`wharf_inventory_version` 1).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Ctx;
use crate::error::{Error, Result};
use crate::model::{Digest, Timestamp};
use crate::store::fs::{atomic_write, read_limited};

pub const INVENTORY_VERSION: u64 = 1;
/// Largest inventory file read (a few million blobs).
pub const MAX_INVENTORY_BYTES: u64 = 1 << 30;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InventoryBlob {
    pub digest: Digest,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Inventory {
    pub wharf_inventory_version: u64,
    /// When the inventory was taken (for people; nothing depends on it).
    pub created: Timestamp,
    /// Sorted by digest.
    pub blobs: Vec<InventoryBlob>,
    /// Manifest and index digests (a subset of `blobs`), sorted.
    pub manifests: Vec<Digest>,
}

impl Inventory {
    /// Reads and checks an inventory file.
    pub fn load(path: &Path) -> Result<Inventory> {
        let bytes = read_limited(path, MAX_INVENTORY_BYTES)?;
        // The version alone first, every other field skipped unbuilt (never a
        // serde_json::Value: `[0,0,…]` of 200 MiB cost 9.67 GB that way).
        #[derive(serde::Deserialize)]
        struct Version {
            #[serde(default)]
            wharf_inventory_version: Option<u64>,
        }
        let object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let found = match serde_json::from_slice::<Version>(&bytes) {
            Ok(_) if !object => None,
            Ok(v) => v.wharf_inventory_version,
            // Well-formed JSON of another shape: no version.
            Err(e) if !object || e.classify() == serde_json::error::Category::Data => None,
            Err(e) => {
                return Err(Error::bad_input(path.display().to_string(), format!("not an inventory (not JSON: {e})")));
            }
        };
        if found != Some(INVENTORY_VERSION) {
            return Err(Error::bad_input(
                path.display().to_string(),
                format!(
                    "not a wharf inventory of version {INVENTORY_VERSION} (wharf_inventory_version is {}); make it with `wharf inventory -o FILE`",
                    found.map_or("absent".to_string(), |f| f.to_string())
                ),
            ));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::bad_input(path.display().to_string(), format!("not a valid inventory: {e}")))
    }

    /// digest → size, for lookups.
    pub fn sizes(&self) -> BTreeMap<Digest, u64> {
        self.blobs.iter().map(|b| (b.digest.clone(), b.size)).collect()
    }
}

#[derive(Debug, Serialize)]
pub struct InventoryReport {
    /// The file written, or `None` when the inventory went to stdout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    pub blobs: usize,
    pub manifests: usize,
    pub bytes: u64,
    #[serde(skip)]
    pub inventory: Inventory,
}

/// Takes the inventory of the registry (under the shared lock).
pub fn take(ctx: &Ctx<'_>) -> Result<Inventory> {
    let _lock = ctx.read_lock()?;
    let reg = ctx.registry;
    let mut blobs: BTreeMap<Digest, u64> = BTreeMap::new();
    let mut manifests = std::collections::BTreeSet::new();
    for name in reg.repo_names()? {
        let repo = reg.open_repo(&name, ctx.now)?;
        for d in repo.manifest_digests() {
            let mt = repo.descriptor_of(&d).map(|x| x.media_type.clone()).unwrap_or_default();
            for b in repo.closure(&d, &mt, false)? {
                if !b.present || blobs.contains_key(&b.digest) {
                    continue;
                }
                let Some(size) = repo.blobs.size(&b.digest)? else { continue };
                if crate::model::MediaKind::of(&b.media_type).has_children() || b.digest == d {
                    manifests.insert(b.digest.clone());
                }
                blobs.insert(b.digest, size);
            }
        }
    }
    Ok(Inventory {
        wharf_inventory_version: INVENTORY_VERSION,
        created: ctx.now,
        blobs: blobs.into_iter().map(|(digest, size)| InventoryBlob { digest, size }).collect(),
        manifests: manifests.into_iter().collect(),
    })
}

/// Serialises an inventory (pretty JSON, trailing newline).
pub fn to_bytes(inv: &Inventory) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(inv).expect("inventory serialises");
    b.push(b'\n');
    b
}

/// `wharf inventory [-o FILE]`: with `-o`, the file is written atomically and refused
/// when it exists.
pub fn run(ctx: &Ctx<'_>, output: Option<&str>) -> Result<InventoryReport> {
    let inv = take(ctx)?;
    if let Some(o) = output.filter(|o| *o != "-") {
        let p = Path::new(o);
        if p.exists() {
            return Err(Error::OutputExists {
                path: p.to_path_buf(),
                hint: "wharf inventory does not overwrite".into(),
            });
        }
        atomic_write(p, &to_bytes(&inv))?;
    }
    Ok(InventoryReport {
        output: output.filter(|o| *o != "-").map(str::to_string),
        blobs: inv.blobs.len(),
        manifests: inv.manifests.len(),
        bytes: inv.blobs.iter().map(|b| b.size).sum(),
        inventory: inv,
    })
}
