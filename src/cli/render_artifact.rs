//! Argument parsing and human renderings for `add`, `attach`, `inventory` and the
//! files/bundle forms of `export`.

use std::fmt::Write;

use super::output::{Human, human_bytes};
use crate::error::Result;
use crate::ops::add::AddReport;
use crate::ops::artifact::{FileReport, FileSpec, parse_file_arg};
use crate::ops::attach::AttachReport;
use crate::ops::export_files::ExportFilesReport;
use crate::ops::inventory::InventoryReport;
use crate::registry::TagChange;

/// Parses `FILE[:MEDIATYPE]` arguments (see [`parse_file_arg`]).
pub fn file_args(args: &[String]) -> Result<Vec<FileSpec>> {
    args.iter().map(|a| parse_file_arg(a, &|p| p.is_file())).collect()
}

fn files(out: &mut String, files: &[FileReport]) {
    for f in files {
        let _ = writeln!(out, "  {}  {}  {}  {}", f.title, f.media_type, human_bytes(f.size), f.digest.short());
    }
}

impl Human for AddReport {
    fn human(&self, out: &mut String) {
        let change = match &self.change {
            TagChange::Created => "new tag".to_string(),
            TagChange::Unchanged => "unchanged".to_string(),
            TagChange::Moved { from } => format!("moved from {}; the old manifest stays, untagged", from.short()),
        };
        let _ = writeln!(out, "{}:{} -> {} ({}, {change})", self.repository, self.tag, self.digest, self.artifact_type);
        files(out, &self.files);
    }
}

impl Human for AttachReport {
    fn human(&self, out: &mut String) {
        let what = if self.created { "attached" } else { "already attached" };
        let _ =
            writeln!(out, "{what} {}@{} ({}) to {}", self.repository, self.digest, self.artifact_type, self.subject);
        files(out, &self.files);
    }
}

impl Human for ExportFilesReport {
    fn human(&self, out: &mut String) {
        for f in &self.files {
            let _ = writeln!(out, "{}/{}  {}  {}", self.output, f.title, human_bytes(f.size), f.digest.short());
        }
        let _ = writeln!(
            out,
            "wrote {} file(s) of {} ({}) into {}",
            self.files.len(),
            self.reference,
            self.digest,
            self.output
        );
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
    }
}

impl Human for InventoryReport {
    fn human(&self, out: &mut String) {
        if let Some(o) = &self.output {
            let _ = writeln!(
                out,
                "wrote {o}: {} blob(s) ({}), {} manifest(s)",
                self.blobs,
                human_bytes(self.bytes),
                self.manifests
            );
        }
    }
}
