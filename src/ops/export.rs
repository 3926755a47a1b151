//! `wharf export REF... -o FILE [--format oci-archive|docker-archive|oci-layout]`: writes
//! the manifests REF names, and everything they reference, as an archive or a layout
//! that skopeo, umoci, `docker load` and `podman load` read. Blobs are copied byte for
//! byte and re-hashed on the way out (a corrupt registry never yields a corrupt archive).
//! A manifest, tag or repository with `read_enabled = false` is refused. The output
//! appears whole or not at all (temp file or directory, then rename); `-o -` streams an
//! archive to stdout.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::Ctx;
use super::bundle::{self, Narrowed, Target};
use super::inventory::Inventory;
use super::progress::Bar;
use crate::error::{Error, Result};
use crate::model::media::{self, ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME};
use crate::model::{Descriptor, Digest, Document, IndexFile, MediaKind, Platform, Reference, RepoName};
use crate::registry::layout;
use crate::store::fs::{create_dir_all_durable, fsync_dir};
use crate::store::{BlobStore, files};

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// An OCI image layout in a tar (`oci-archive:`), the default.
    #[default]
    OciArchive,
    /// A `docker save` tar (`docker-archive:`), readable by `docker load`.
    DockerArchive,
    /// An OCI image layout directory.
    OciLayout,
}

impl Format {
    /// Parses `oci-archive`, `docker-archive` or `oci-layout`.
    pub fn parse(s: &str) -> Result<Format> {
        match s {
            "oci-archive" => Ok(Format::OciArchive),
            "docker-archive" => Ok(Format::DockerArchive),
            "oci-layout" => Ok(Format::OciLayout),
            _ => Err(Error::Usage(format!(
                "`{s}` is not an export format: expected oci-archive, docker-archive, oci-layout or files"
            ))),
        }
    }
}

/// `--compress`: a wrapper around the whole archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compress {
    /// No wrapper: a plain tar.
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

impl Compress {
    /// Parses `gzip`, `zstd` or `none` (`--compress`).
    pub fn parse(s: &str) -> Result<Compress> {
        match s {
            "gzip" => Ok(Compress::Gzip),
            "zstd" => Ok(Compress::Zstd),
            "none" => Ok(Compress::None),
            _ => Err(Error::Usage(format!("--compress `{s}`: expected gzip or zstd"))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub targets: Vec<Target>,
    /// Every tag of every repository.
    pub all: bool,
    /// The output file or directory; `-` is stdout (archives only).
    pub output: String,
    pub format: Format,
    /// Keep only these platforms of multi-platform images.
    pub platforms: Vec<Platform>,
    /// Leave referrers out (by default every exported manifest's referrers go along).
    pub no_referrers: bool,
    /// Leave out the blobs this inventory lists (a delta).
    pub exclude_present: Option<PathBuf>,
    pub compress: Compress,
}

impl Options {
    /// The plain form: these references, nothing else.
    pub fn refs(refs: Vec<Reference>, output: String, format: Format) -> Options {
        Options {
            targets: refs.into_iter().map(Target::Ref).collect(),
            all: false,
            output,
            format,
            platforms: Vec::new(),
            no_referrers: false,
            exclude_present: None,
            compress: Compress::None,
        }
    }
}

/// One manifest an export wrote.
#[derive(Debug, Serialize)]
pub struct ExportedImage {
    /// The reference as given.
    pub reference: String,
    /// The manifest's digest.
    pub digest: Digest,
    /// The manifest's media type.
    pub media_type: String,
    /// The name the output gives it (`REPO:TAG`), or none for a digest reference.
    pub name: Option<String>,
}

/// A referrer (signature, SBOM, attestation) exported along with its subject.
#[derive(Debug, Serialize)]
pub struct ExportedReferrer {
    /// The repository it came from.
    pub repository: RepoName,
    /// The referrer manifest's digest.
    pub digest: Digest,
    /// Its `artifactType` (or config media type); `None` when it declares neither.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

/// The report of [`Registry::export`](crate::Registry::export) and [`Registry::export_writer`](crate::Registry::export_writer) (`wharf export`).
#[derive(Debug, Serialize)]
pub struct ExportReport {
    /// The output path as given (`-` for a writer or stdout).
    pub output: String,
    /// The format written.
    pub format: Format,
    /// The wrapper around the whole archive.
    pub compress: Compress,
    /// The manifests written, in the order given.
    pub images: Vec<ExportedImage>,
    /// The referrers written along with them.
    pub referrers: Vec<ExportedReferrer>,
    /// Blobs written (each once, however many images share it).
    pub blobs: usize,
    /// Bytes of those blobs (before any `compress` wrapper).
    pub bytes: u64,
    /// True for a delta (`--exclude-present`).
    pub delta: bool,
    /// Blobs left out because the inventory lists them.
    pub blobs_excluded: usize,
    /// Bytes of the blobs left out.
    pub bytes_excluded: u64,
    /// Notes for the user (things skipped, and why).
    pub notes: Vec<String>,
}

/// Where a blob's bytes come from.
enum Source {
    File(PathBuf),
    /// Made by this export (an index narrowed by --platform).
    Bytes(Vec<u8>),
}

/// One blob to write, and where it lives in the registry.
struct OutBlob {
    source: Source,
    size: u64,
    /// Manifests, indexes and configs are written before layers.
    document: bool,
    /// Manifests and indexes: never left out of a delta.
    manifest: bool,
}

#[derive(Serialize)]
struct DockerEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags")]
    repo_tags: Vec<String>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

fn add_closure(
    repo: &crate::registry::Repository,
    what: &str,
    root: &Digest,
    media_type: &str,
    blobs: &mut BTreeMap<Digest, OutBlob>,
) -> Result<Vec<crate::registry::graph::ClosureBlob>> {
    let closure = repo.closure(root, media_type, false)?;
    for b in &closure {
        if !b.present {
            return Err(Error::BlobMissing {
                context: what.to_string(),
                digest: b.digest.to_string(),
                dir: repo.dir.clone(),
                repo: repo.name.to_string(),
            });
        }
        let kind = MediaKind::of(&b.media_type);
        let manifest = kind.has_children() || &b.digest == root;
        blobs.entry(b.digest.clone()).or_insert_with(|| OutBlob {
            source: Source::File(repo.blobs.path(&b.digest)),
            size: repo.blobs.size(&b.digest).ok().flatten().unwrap_or(0),
            document: manifest || kind == MediaKind::Config,
            manifest,
        });
    }
    Ok(closure)
}

/// `wharf export`.
pub fn run(ctx: &Ctx<'_>, opts: &Options) -> Result<ExportReport> {
    run_inner(ctx, opts, None)
}

/// Exports an archive into any writer (`opts.output` is only the report's label).
pub fn run_writer(ctx: &Ctx<'_>, opts: &Options, out: Box<dyn Write + '_>) -> Result<ExportReport> {
    if opts.format == Format::OciLayout {
        return Err(Error::Usage("an oci-layout is a directory; it cannot go to a writer".into()));
    }
    run_inner(ctx, opts, Some(out))
}

fn run_inner(ctx: &Ctx<'_>, opts: &Options, writer: Option<Box<dyn Write + '_>>) -> Result<ExportReport> {
    if opts.targets.is_empty() && !opts.all {
        return Err(Error::Usage("export needs at least one REF (REPO:TAG, REPO@DIGEST or REPO), or --all".into()));
    }
    if opts.output == "-" && opts.format == Format::OciLayout {
        return Err(Error::Usage("an oci-layout is a directory; it cannot go to stdout (-o -)".into()));
    }
    if opts.exclude_present.is_some() && opts.format != Format::OciArchive {
        return Err(Error::Usage(
            "--exclude-present makes a delta bundle, which is an oci-archive (drop --format, or use --format oci-archive)"
                .into(),
        ));
    }
    if opts.compress != Compress::None && opts.format == Format::OciLayout {
        return Err(Error::Usage("--compress applies to archives, not to an oci-layout directory".into()));
    }
    let out_path = PathBuf::from(&opts.output);
    if writer.is_none() && opts.output != "-" && out_path.exists() {
        let empty_dir = files::output_is_empty_dir(&out_path) && opts.format == Format::OciLayout;
        if !empty_dir {
            return Err(Error::OutputExists {
                path: out_path.to_path_buf(),
                hint: "wharf export does not overwrite: remove it or choose another -o".into(),
            });
        }
    }
    let inventory = opts.exclude_present.as_deref().map(Inventory::load).transpose()?;
    let _lock = ctx.read_lock()?;
    let mut notes = Vec::new();
    let refs = bundle::expand(ctx.registry, ctx.now, opts.all, &opts.targets, &mut notes)?;
    if refs.is_empty() {
        return Err(Error::refused("nothing to export: no tag is readable in what was named"));
    }
    let mut blobs: BTreeMap<Digest, OutBlob> = BTreeMap::new();
    let mut index = IndexFile::default();
    let mut docker: Vec<(Digest, DockerEntry)> = Vec::new();
    let mut images = Vec::new();
    // Per repository, the manifests exported (whose referrers go along).
    let mut exported: BTreeMap<RepoName, BTreeSet<Digest>> = BTreeMap::new();
    let mut repos: BTreeMap<RepoName, crate::registry::Repository> = BTreeMap::new();
    // The output index is deduplicated through a set: exporting every tag of a 100k-tag
    // repository is linear.
    let mut in_index: HashSet<String> = HashSet::new();
    for r in &refs {
        if !repos.contains_key(&r.repo) {
            repos.insert(r.repo.clone(), ctx.registry.open_repo(&r.repo, ctx.now)?);
        }
        let repo = &repos[&r.repo];
        // A `REPO@DIGEST` may name a manifest inside a top-level index (one platform of a
        // multi-platform image); reading it reads out of every index that lists it, and a
        // manifest reached by digest is guarded by the read locks of the tags on it.
        let (resolved, parents, _) = repo.locate(r)?;
        repo.check_read(&format!("exporting {r}"), &resolved, &parents)?;
        let mut root = resolved.descriptor.clone();
        match bundle::narrow(repo, r, &root, &opts.platforms)? {
            Narrowed::Keep => {}
            Narrowed::Skip(n) => {
                notes.push(n);
                continue;
            }
            Narrowed::Child(c, n) => {
                notes.push(n);
                root = c;
            }
            Narrowed::NewIndex(d, bytes, n) => {
                notes.push(n);
                let doc = Document::parse(&bytes, &d.media_type).map_err(|e| {
                    Error::refused(format!("{r}: the index wharf narrowed ({}) does not parse: {e}", d.digest))
                })?;
                let mut set = BTreeSet::from([d.digest.clone()]);
                for m in &doc.manifests {
                    let c = add_closure(repo, &r.to_string(), &m.digest, &m.media_type, &mut blobs)?;
                    set.extend(bundle::manifests_in(&c, &m.digest));
                }
                blobs.insert(
                    d.digest.clone(),
                    OutBlob { size: bytes.len() as u64, source: Source::Bytes(bytes), document: true, manifest: true },
                );
                exported.entry(r.repo.clone()).or_default().extend(set);
                root = d;
            }
        }
        let mt = root.media_type.clone();
        if !blobs.contains_key(&root.digest) || matches!(blobs[&root.digest].source, Source::File(_)) {
            let c = add_closure(repo, &r.to_string(), &root.digest, &mt, &mut blobs)?;
            exported.entry(r.repo.clone()).or_default().extend(bundle::manifests_in(&c, &root.digest));
        }
        let name = resolved.tag.as_ref().map(|t| format!("{}:{t}", r.repo));
        let mut entry = root.clone();
        entry.annotations.remove(ANNOTATION_REF_NAME);
        entry.annotations.remove(bundle::ANNOTATION_REPOSITORY);
        if opts.format == Format::DockerArchive {
            let doc = match &blobs[&root.digest].source {
                Source::Bytes(b) => Document::parse(b, &mt).map_err(|e| {
                    Error::refused(format!("{r}: the index wharf narrowed ({}) does not parse: {e}", root.digest))
                })?,
                Source::File(_) => repo.read_document(&root.digest, &mt)?,
            };
            docker_entry(r, &root.digest, &doc, repo, name.as_deref(), &mut docker)?;
            if let (Some(n), Some(t)) = (&name, &resolved.tag) {
                entry.annotations.insert(ANNOTATION_CONTAINERD_NAME.to_string(), n.clone());
                entry.annotations.insert(ANNOTATION_REF_NAME.to_string(), t.to_string());
            }
        } else if let Some(n) = &name {
            entry.annotations.insert(ANNOTATION_REF_NAME.to_string(), n.clone());
        } else {
            entry.annotations.insert(bundle::ANNOTATION_REPOSITORY.to_string(), r.repo.to_string());
        }
        if in_index.insert(serde_json::to_string(&entry).expect("descriptor serialises")) {
            index.manifests.push(entry);
        }
        images.push(ExportedImage { reference: r.to_string(), digest: root.digest.clone(), media_type: mt, name });
    }
    if images.is_empty() {
        return Err(Error::refused(format!(
            "nothing to export: {}",
            if notes.is_empty() { "no manifest selected".to_string() } else { notes.join("; ") }
        )));
    }
    // Referrers, recursively, untagged, with the repository they belong to.
    let mut referrers = Vec::new();
    if !opts.no_referrers {
        for (name, set) in &exported {
            let repo = &repos[name];
            let found = bundle::referrers(repo, set, &mut notes);
            if !found.is_empty() && opts.format == Format::DockerArchive {
                notes.push(format!(
                    "{} referrer(s) in {name} left out: a docker-archive cannot hold artifacts (use --format oci-archive)",
                    found.len()
                ));
                continue;
            }
            for entry in found {
                add_closure(repo, &format!("{name}@{}", entry.digest), &entry.digest, &entry.media_type, &mut blobs)?;
                referrers.push(ExportedReferrer {
                    repository: name.clone(),
                    digest: entry.digest.clone(),
                    artifact_type: entry.artifact_type.clone(),
                });
                if in_index.insert(serde_json::to_string(&entry).expect("descriptor serialises")) {
                    index.manifests.push(entry);
                }
            }
        }
    }
    // A delta leaves out what the other side holds; manifests always travel.
    let (mut blobs_excluded, mut bytes_excluded) = (0usize, 0u64);
    if let Some(inv) = &inventory {
        let present = inv.sizes();
        blobs.retain(|d, b| {
            let drop = !b.manifest && present.get(d) == Some(&b.size);
            if drop {
                blobs_excluded += 1;
                bytes_excluded += b.size;
            }
            !drop
        });
        index.annotations.insert(bundle::ANNOTATION_DELTA.to_string(), "true".to_string());
    }
    let manifest_json = (opts.format == Format::DockerArchive).then(|| {
        let entries: Vec<&DockerEntry> = docker.iter().map(|(_, e)| e).collect();
        let mut b = serde_json::to_vec(&entries).expect("manifest.json serialises");
        b.push(b'\n');
        b
    });
    let bytes: u64 = blobs.values().map(|b| b.size).sum();
    // Drawn on stderr only when the CLI asks (a terminal, not --quiet).
    let bar = Bar::bytes(ctx.progress, "exporting".to_string(), Some(bytes));
    match (opts.format, writer) {
        (Format::OciLayout, _) => write_layout(&out_path, &index, &blobs, &bar)?,
        (_, Some(w)) => {
            let mut w = io::BufWriter::with_capacity(1 << 20, w);
            let label = Path::new(WRITER);
            write_wrapped(&mut w, label, opts.compress, &index, manifest_json.as_deref(), &blobs, &bar)?;
            w.flush().map_err(Error::io("write the archive to", label))?;
        }
        _ => write_archive(&opts.output, &index, manifest_json.as_deref(), &blobs, opts.compress, &bar)?,
    }
    Ok(ExportReport {
        output: opts.output.clone(),
        format: opts.format,
        compress: opts.compress,
        images,
        referrers,
        blobs: blobs.len(),
        bytes,
        delta: inventory.is_some(),
        blobs_excluded,
        bytes_excluded,
        notes,
    })
}

/// Adds `digest` (an image manifest) to the docker manifest.json, merging names of the
/// same manifest. Indexes and artifacts have no docker-archive form.
fn docker_entry(
    r: &Reference,
    digest: &Digest,
    doc: &Document,
    repo: &crate::registry::Repository,
    name: Option<&str>,
    out: &mut Vec<(Digest, DockerEntry)>,
) -> Result<()> {
    if doc.kind == MediaKind::Index {
        let children: Vec<String> = doc
            .manifests
            .iter()
            .map(|m| {
                let p = m.platform.as_ref().map_or("unknown platform".into(), |p| p.to_string());
                format!("{}@{} ({p})", r.repo, m.digest)
            })
            .collect();
        return Err(Error::Usage(format!(
            "{r} is a multi-platform index; a docker-archive holds single-platform images: export one of {} or use --format oci-archive",
            children.join(", ")
        )));
    }
    let config =
        doc.config.as_ref().filter(|c| MediaKind::of(&c.media_type) == MediaKind::Config).ok_or_else(|| {
            Error::Usage(format!(
                "{r} is not a container image (an artifact?); a docker-archive cannot hold it: use --format oci-archive"
            ))
        })?;
    let _ = repo;
    let path = |d: &Descriptor| format!("blobs/sha256/{}", d.digest.hex());
    if let Some((_, e)) = out.iter_mut().find(|(d, _)| d == digest) {
        if let Some(n) = name
            && !e.repo_tags.iter().any(|t| t == n)
        {
            e.repo_tags.push(n.to_string());
        }
        return Ok(());
    }
    out.push((
        digest.clone(),
        DockerEntry {
            config: path(config),
            repo_tags: name.into_iter().map(str::to_string).collect(),
            layers: doc.layers.iter().map(path).collect(),
        },
    ));
    Ok(())
}

fn copy_out(src: &Source, digest: &Digest, size: u64, w: &mut dyn Write, output: &Path) -> Result<()> {
    match src {
        Source::File(p) => copy_verified(p, digest, size, w, output),
        Source::Bytes(b) => w.write_all(b).map_err(Error::io("write the export to", output)),
    }
}

/// Copies `src` to `w`, checking that it hashes to `digest` and has `size` bytes. A
/// failed write is reported against `output` (what the user named with -o), never the
/// source blob: the registry is fine, the output is not.
fn copy_verified(src: &Path, digest: &Digest, size: u64, w: &mut dyn Write, output: &Path) -> Result<()> {
    let f = crate::store::fs::open_file(src)?;
    let mut r = io::BufReader::with_capacity(1 << 20, f);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n_total = 0u64;
    loop {
        let n = r.read(&mut buf).map_err(Error::io("read blob", src))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        w.write_all(&buf[..n]).map_err(Error::io("write the export to", output))?;
        n_total += n as u64;
    }
    let actual = Digest::from_bytes(h.finalize().into());
    if &actual != digest || n_total != size {
        return Err(Error::DigestMismatch {
            what: format!("blob {} (changed while exporting, or corrupt: run `wharf verify`)", src.display()),
            path: Some(src.to_path_buf()),
            expected: digest.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

fn ordered(blobs: &BTreeMap<Digest, OutBlob>) -> Vec<(&Digest, &OutBlob)> {
    let mut v: Vec<(&Digest, &OutBlob)> = blobs.iter().collect();
    v.sort_by_key(|(d, b)| (!b.document, (*d).clone()));
    v
}

fn write_layout(out: &Path, index: &IndexFile, blobs: &BTreeMap<Digest, OutBlob>, bar: &Bar) -> Result<()> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = files::output_temp_dir(&parent)?;
    let store = BlobStore::new(tmp.path().join("blobs"));
    create_dir_all_durable(&store.alg_dir())?;
    for (d, b) in ordered(blobs) {
        let mut w = store.writer(tmp.path())?;
        copy_out(&b.source, d, b.size, &mut w, out)?;
        bar.inc(b.size);
        w.finish(Some((d, b.size)))?;
    }
    layout::write_layout_file(tmp.path())?;
    layout::write_index(tmp.path(), index)?;
    files::place_output_dir(tmp, out)?;
    fsync_dir(&parent)
}

fn header(path: &str, size: u64, dir: bool) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_path(path).expect("short ascii path");
    h.set_size(size);
    h.set_mode(if dir { 0o755 } else { 0o644 });
    h.set_entry_type(if dir { tar::EntryType::Directory } else { tar::EntryType::Regular });
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_cksum();
    h
}

fn write_tar(
    w: &mut dyn Write,
    output: &Path,
    index: &IndexFile,
    manifest_json: Option<&[u8]>,
    blobs: &BTreeMap<Digest, OutBlob>,
    bar: &Bar,
) -> Result<()> {
    let io_err = |e: io::Error| Error::Io { action: "write the archive to", path: output.to_path_buf(), source: e };
    let mut t = tar::Builder::new(w);
    let small = |t: &mut tar::Builder<&mut dyn Write>, name: &str, bytes: &[u8]| {
        t.append(&header(name, bytes.len() as u64, false), bytes)
    };
    small(&mut t, media::OCI_LAYOUT_FILE, &layout::layout_file_bytes()).map_err(io_err)?;
    small(&mut t, layout::INDEX_FILE, &index.to_bytes()).map_err(io_err)?;
    if let Some(m) = manifest_json {
        small(&mut t, "manifest.json", m).map_err(io_err)?;
    }
    t.append(&header("blobs/", 0, true), io::empty()).map_err(io_err)?;
    t.append(&header("blobs/sha256/", 0, true), io::empty()).map_err(io_err)?;
    for (d, b) in ordered(blobs) {
        let h = header(&format!("blobs/sha256/{}", d.hex()), b.size, false);
        t.get_mut().write_all(h.as_bytes()).map_err(io_err)?;
        copy_out(&b.source, d, b.size, t.get_mut(), output)?;
        bar.inc(b.size);
        let pad = (512 - (b.size % 512)) % 512;
        t.get_mut().write_all(&vec![0u8; pad as usize]).map_err(io_err)?;
    }
    t.finish().map_err(io_err)?;
    Ok(())
}

/// Writes the tar through the `--compress` wrapper, if any.
fn write_wrapped(
    w: &mut dyn Write,
    output: &Path,
    compress: Compress,
    index: &IndexFile,
    manifest_json: Option<&[u8]>,
    blobs: &BTreeMap<Digest, OutBlob>,
    bar: &Bar,
) -> Result<()> {
    let io_err = |e: io::Error| Error::Io { action: "compress the archive to", path: output.to_path_buf(), source: e };
    match compress {
        Compress::None => write_tar(w, output, index, manifest_json, blobs, bar),
        Compress::Gzip => {
            let mut z = flate2::write::GzEncoder::new(w, flate2::Compression::default());
            write_tar(&mut z, output, index, manifest_json, blobs, bar)?;
            z.finish().map(|_| ()).map_err(io_err)
        }
        Compress::Zstd => {
            let mut z = zstd::stream::write::Encoder::new(w, 3).map_err(io_err)?;
            write_tar(&mut z, output, index, manifest_json, blobs, bar)?;
            z.finish().map(|_| ()).map_err(io_err)
        }
    }
}

/// How errors name `-o -`.
const STDOUT: &str = "stdout (-o -)";

/// How errors name a library caller's writer.
const WRITER: &str = "the caller's writer";

fn write_archive(
    output: &str,
    index: &IndexFile,
    manifest_json: Option<&[u8]>,
    blobs: &BTreeMap<Digest, OutBlob>,
    compress: Compress,
    bar: &Bar,
) -> Result<()> {
    if output == "-" {
        let stdout = io::stdout();
        let mut w = io::BufWriter::with_capacity(1 << 20, stdout.lock());
        write_wrapped(&mut w, Path::new(STDOUT), compress, index, manifest_json, blobs, bar)?;
        return w.flush().map_err(Error::io("write the archive to", STDOUT));
    }
    let out = Path::new(output);
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // The output is the user's own path, outside any registry: tempfile's no-clobber
    // persist fits, created 0666 so the umask decides the mode as for any new file.
    let tmp = files::output_temp_file(&parent)?;
    {
        let mut w = io::BufWriter::with_capacity(1 << 20, tmp.as_file());
        write_wrapped(&mut w, out, compress, index, manifest_json, blobs, bar)?;
        w.flush().map_err(Error::io("write the archive to", out))?;
    }
    tmp.as_file().sync_all().map_err(Error::io("fsync", tmp.path().to_path_buf()))?;
    tmp.persist_noclobber(out).map_err(|e| Error::Io { action: "create", path: out.to_path_buf(), source: e.error })?;
    fsync_dir(&parent)
}
