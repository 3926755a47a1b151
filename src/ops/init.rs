//! `wharf init`: make a directory a registry.

use std::path::Path;

use serde::Serialize;

use crate::error::Result;
use crate::registry::Registry;

#[derive(Debug, Serialize)]
pub struct InitReport {
    pub root: String,
    pub format_version: u64,
}

pub fn run(root: &Path) -> Result<InitReport> {
    let reg = Registry::init(root)?;
    Ok(InitReport { root: root.display().to_string(), format_version: reg.config().wharf_registry_version })
}
