//! Argument parsing and human renderings for `import` and `export`.

use std::fmt::Write;

use super::output::{Human, human_bytes};
use crate::error::{Error, Result};
use crate::model::{Platform, RepoName, Tag};
use crate::ops::export::{Compress, ExportReport, Format};
use crate::ops::import::{ImportReport, Options, Origin};
use crate::registry::TagChange;

/// Parses `--platform OS/ARCH[/VARIANT]` flags.
pub fn platform_args(platforms: &[String]) -> Result<Vec<Platform>> {
    platforms
        .iter()
        .map(|p| {
            Platform::parse(p).ok_or_else(|| {
                Error::Usage(format!("`{p}` is not a platform: expected OS/ARCH[/VARIANT], e.g. linux/arm64/v8"))
            })
        })
        .collect()
}

pub fn import_options(
    sources: &[String],
    repo: &Option<String>,
    tags: &[String],
    platforms: &[String],
    force: bool,
    scoped: bool,
) -> Result<Options> {
    Ok(Options {
        sources: sources.to_vec(),
        repo: repo.as_deref().map(RepoName::parse).transpose()?,
        tags: tags.iter().map(|t| Tag::parse(t)).collect::<std::result::Result<_, _>>()?,
        platforms: platforms
            .iter()
            .map(|p| {
                Platform::parse(p).ok_or_else(|| {
                    Error::Usage(format!("`{p}` is not a platform: expected OS/ARCH[/VARIANT], e.g. linux/arm64/v8"))
                })
            })
            .collect::<Result<_>>()?,
        force,
        scoped,
        gate: None,
    })
}

impl Human for ImportReport {
    fn human(&self, out: &mut String) {
        for i in &self.images {
            let how = match i.origin {
                Origin::Source => "",
                Origin::Selected => " (one platform of an index)",
                Origin::Narrowed => " (narrowed index)",
                Origin::Synthesised => " (manifest synthesised from a docker-archive)",
                Origin::Chart => " (helm chart)",
            };
            let platforms =
                if i.platforms.is_empty() { String::new() } else { format!(" [{}]", i.platforms.join(", ")) };
            if i.tags.is_empty() {
                let _ = writeln!(out, "{}@{}{platforms}{how}, untagged", i.repository, i.digest);
            }
            for t in &i.tags {
                let change = match &t.change {
                    TagChange::Created => "new tag".to_string(),
                    TagChange::Unchanged => "unchanged".to_string(),
                    TagChange::Moved { from } => format!("moved from {}", from.short()),
                };
                let _ = writeln!(out, "{}:{} -> {}{platforms}{how} ({change})", i.repository, t.tag, i.digest);
            }
        }
        let _ = writeln!(
            out,
            "imported {} manifest(s), {} tag(s) into {} repositor{}; blobs: {} new ({}), {} already present ({})",
            self.manifests,
            self.tags,
            self.repositories,
            if self.repositories == 1 { "y" } else { "ies" },
            self.blobs_new,
            human_bytes(self.bytes_new),
            self.blobs_reused,
            human_bytes(self.bytes_reused)
        );
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
    }
}

impl Human for ExportReport {
    fn human(&self, out: &mut String) {
        let fmt = match self.format {
            Format::OciArchive => "oci-archive",
            Format::DockerArchive => "docker-archive",
            Format::OciLayout => "oci-layout",
        };
        for i in &self.images {
            let _ = writeln!(
                out,
                "{} -> {}{}",
                i.reference,
                i.digest,
                i.name.as_ref().map_or(String::new(), |n| format!(" as {n}"))
            );
        }
        for r in &self.referrers {
            let _ = writeln!(
                out,
                "{}@{} (referrer{})",
                r.repository,
                r.digest,
                r.artifact_type.as_ref().map_or(String::new(), |t| format!(", {t}"))
            );
        }
        if self.output != "-" {
            let wrap = match self.compress {
                Compress::None => "",
                Compress::Gzip => "+gzip",
                Compress::Zstd => "+zstd",
            };
            let _ = writeln!(
                out,
                "wrote {} ({fmt}{wrap}{}): {} image(s), {} referrer(s), {} blob(s), {}",
                self.output,
                if self.delta { ", delta" } else { "" },
                self.images.len(),
                self.referrers.len(),
                self.blobs,
                human_bytes(self.bytes)
            );
            if self.delta {
                let _ = writeln!(
                    out,
                    "left out {} blob(s), {}, that the inventory lists",
                    self.blobs_excluded,
                    human_bytes(self.bytes_excluded)
                );
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
    }
}
