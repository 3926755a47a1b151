//! Helm charts: `wharf import CHART.tgz` stores a chart as `helm push` does.
//!
//! Recognised by content, never by name: a gzip'd tar whose members all lie under one
//! top directory, which holds `Chart.yaml` (`helm package` output). Anything else (a
//! top-level member, a second top directory) is not a chart and goes on to the image
//! readers. One streaming pass decides, and for a chart also checks every member name
//! (absolute, `..`, NUL, backslash: refused), reads `TOP/Chart.yaml` (at most
//! [`MAX_CHART_YAML`] bytes) and refuses a chart that decompresses beyond
//! [`MAX_DECOMPRESSED`] (Helm's own limit) as a decompression bomb.
//!
//! What is stored, byte for byte as `helm push` (Helm 3.13+) writes it:
//! - config `application/vnd.cncf.helm.config.v1+json`: Chart.yaml's metadata as the
//!   JSON of Helm's `chart.Metadata` (fields in its order, empty ones left out, strings
//!   sanitised as Helm's loader does);
//! - layer `application/vnd.cncf.helm.chart.content.v1.tar+gzip`: the .tgz itself;
//! - with `CHART.tgz.prov` beside it, a layer
//!   `application/vnd.cncf.helm.chart.provenance.v1.prov`;
//! - layers sorted by digest; a manifest `{"schemaVersion":2,"config","layers",
//!   "annotations"}` (no `mediaType` field, as Helm writes it) whose annotations are
//!   Helm's: description, title (name), version, url (home), created (the .tgz's
//!   modification time, as `helm push` takes it), source (first of sources), authors
//!   (maintainers), then the chart's own annotations (never overriding title or
//!   version); non-ASCII escaped as `\uXXXX`.
//!
//! Named `NAME:VERSION`, `+` in the version becoming `_` (as `helm push`); a name that is
//! not a valid repository name, or a version that is not SemVer, is refused with the
//! reason (`--repo`/`--tag` override the names, not the checks of Chart.yaml).
//!
//! YAML is parsed with `yaml-rust2` (maintained, pure Rust, YAML 1.2). Its events are
//! turned into a tree here, with aliases expanded against a node budget, so a
//! "billion laughs" Chart.yaml is refused instead of expanding.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::content::{Blob, Sink};
use super::{Found, Name, Origin};
use crate::error::{Error, Result};
use crate::model::{Descriptor, Digest, ForeignName, RepoName, Tag};

pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
pub const CHART_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
pub const PROV_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.provenance.v1.prov";
/// Helm's own limit on a chart's decompressed size.
pub const MAX_DECOMPRESSED: u64 = 100 << 20;
/// Largest Chart.yaml read.
pub const MAX_CHART_YAML: u64 = 1 << 20;
/// Largest provenance file read.
pub const MAX_PROV: u64 = 1 << 20;
/// Nodes a Chart.yaml may expand to (aliases included).
const MAX_YAML_NODES: usize = 100_000;

/// What a first pass over a gzip'd tar found.
#[derive(Debug)]
pub enum Sniffed {
    /// Not a chart: go on with the image readers.
    NotChart,
    /// A chart: its Chart.yaml bytes.
    Chart { chart_yaml: Vec<u8> },
}

/// A reader of a tar stream that refuses a GNU long name, long link name or PAX header
/// larger than [`super::tarstream::MAX_HEADER`] before the tar crate reads it into memory:
/// it follows the 512-byte framing (each header's size field) as the bytes pass.
struct HeaderCap<R> {
    inner: R,
    header: [u8; 512],
    filled: usize,
    /// Bytes of member data (padded to 512) still to pass before the next header.
    data_left: u64,
}

impl<R: Read> HeaderCap<R> {
    fn new(inner: R) -> HeaderCap<R> {
        HeaderCap { inner, header: [0; 512], filled: 0, data_left: 0 }
    }

    fn size_field(h: &[u8; 512]) -> u64 {
        let f = &h[124..136];
        if f[0] & 0x80 != 0 {
            // base-256
            return f[4..].iter().fold(0u64, |n, b| n.saturating_mul(256).saturating_add(u64::from(*b)));
        }
        let s = String::from_utf8_lossy(f);
        u64::from_str_radix(s.trim_matches(|c: char| c == '\0' || c == ' '), 8).unwrap_or(0)
    }
}

impl<R: Read> Read for HeaderCap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            if self.data_left > 0 {
                let k = usize::try_from(self.data_left).unwrap_or(usize::MAX).min(rest.len());
                self.data_left -= k as u64;
                rest = &rest[k..];
                continue;
            }
            let k = (512 - self.filled).min(rest.len());
            self.header[self.filled..self.filled + k].copy_from_slice(&rest[..k]);
            self.filled += k;
            rest = &rest[k..];
            if self.filled == 512 {
                self.filled = 0;
                let size = Self::size_field(&self.header);
                if matches!(self.header[156], b'L' | b'K' | b'x' | b'g') && size > super::tarstream::MAX_HEADER {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "a long name or PAX header of {size} bytes, over the {} KiB limit",
                            super::tarstream::MAX_HEADER >> 10
                        ),
                    ));
                }
                self.data_left = size.div_ceil(512) * 512;
            }
        }
        Ok(n)
    }
}

/// Reads `path` once and decides whether it is a Helm chart. `Ok(NotChart)` as soon as
/// a member lies outside the first member's top directory; an error for a chart (every
/// member under one directory) that is hostile or lacks Chart.yaml.
pub fn sniff(path: &Path) -> Result<Sniffed> {
    let label = path.display().to_string();
    let Ok(f) = crate::store::files::open_input_file(path) else { return Ok(Sniffed::NotChart) };
    let compressed = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut head = [0u8; 2];
    let mut r = std::io::BufReader::new(f);
    if r.read_exact(&mut head).is_err() || head != [0x1f, 0x8b] {
        return Ok(Sniffed::NotChart);
    }
    let chained = std::io::Cursor::new(head.to_vec()).chain(r);
    let gz = flate2::read::MultiGzDecoder::new(chained);
    // Helm's own limit on what a chart may decompress to.
    let limited = gz.take(MAX_DECOMPRESSED + 1);
    // The tar crate reads a GNU long name or a PAX header whole: capped first, as image
    // archives are (a 90 MiB long name in a 92 KB chart cost 337 MB).
    let mut ar = tar::Archive::new(HeaderCap::new(limited));
    let entries = match ar.entries() {
        Ok(e) => e,
        Err(_) => return Ok(Sniffed::NotChart),
    };
    let mut top: Option<String> = None;
    let mut chart_yaml: Option<Vec<u8>> = None;
    for (i, e) in entries.enumerate() {
        let mut e = match e {
            Ok(e) => e,
            Err(err) => {
                if top.is_none() {
                    return Ok(Sniffed::NotChart);
                }
                return Err(too_big_or_corrupt(&label, compressed, &err.to_string()));
            }
        };
        let raw = e.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).to_string();
        let first = name.trim_start_matches("./").split('/').next().unwrap_or("").to_string();
        if i == 0 {
            // A top-level file, or an image archive's blobs/: not a chart.
            let is_dir_member = name.trim_end_matches('/').contains('/') || e.header().entry_type().is_dir();
            if !is_dir_member || first.is_empty() || first == "blobs" || first == ".." || first.starts_with('/') {
                return Ok(Sniffed::NotChart);
            }
            top = Some(first.clone());
        }
        let t = top.as_deref().expect("set on the first member");
        let seen_chart = chart_yaml.is_some();
        if first != t && !seen_chart {
            return Ok(Sniffed::NotChart);
        }
        // From here on it is a chart (or claims to be): hostile names are refused.
        if let Some(why) = bad_member_name(&raw) {
            return Err(Error::bad_input(
                &label,
                format!("a Helm chart whose member `{}` {why}; refused", name.escape_debug()),
            ));
        }
        if first != t {
            return Err(Error::bad_input(
                &label,
                format!("a Helm chart must hold one top directory, but `{name}` lies outside `{t}/`; refused"),
            ));
        }
        let et = e.header().entry_type();
        if (et.is_symlink() || et.is_hard_link())
            && let Some(target) = e.link_name_bytes().map(|l| l.into_owned())
            && link_escapes(&name, &target, et.is_hard_link())
        {
            return Err(Error::bad_input(
                &label,
                format!(
                    "a Helm chart whose member `{name}` links to `{}`, outside the chart; refused",
                    String::from_utf8_lossy(&target)
                ),
            ));
        }
        if name.trim_start_matches("./") == format!("{t}/Chart.yaml") && et.is_file() {
            if e.header().size().unwrap_or(u64::MAX) > MAX_CHART_YAML {
                return Err(Error::bad_input(
                    &label,
                    format!("{t}/Chart.yaml is larger than {MAX_CHART_YAML} bytes; refused"),
                ));
            }
            let mut b = Vec::new();
            (&mut e)
                .take(MAX_CHART_YAML + 1)
                .read_to_end(&mut b)
                .map_err(|err| too_big_or_corrupt(&label, compressed, &err.to_string()))?;
            chart_yaml = Some(b);
        }
    }
    // The whole stream was read (within the limit): was the limit hit?
    let consumed = ar.into_inner().inner.limit();
    if consumed == 0 {
        return Err(too_big_or_corrupt(&label, compressed, "limit reached"));
    }
    let Some(t) = top else { return Ok(Sniffed::NotChart) };
    match chart_yaml {
        Some(chart_yaml) => Ok(Sniffed::Chart { chart_yaml }),
        None => Err(Error::bad_input(
            &label,
            format!(
                "a gzip'd tar whose members all lie under `{t}/` (a Helm chart's shape), but it has no \
             {t}/Chart.yaml: not a Helm chart wharf can store (`helm package` writes Chart.yaml into every chart)"
            ),
        )),
    }
}

fn too_big_or_corrupt(label: &str, compressed: u64, detail: &str) -> Error {
    Error::bad_input(
        label,
        format!(
            "a Helm chart that decompresses beyond {} MiB (Helm's own limit; {compressed} bytes compressed) or \
         is corrupt ({detail}); refused as a decompression bomb or a broken archive",
            MAX_DECOMPRESSED >> 20
        ),
    )
}

/// True when a link in the chart points outside its top directory: an absolute
/// target, or one whose `..` climb above it (a symbolic link is relative to its own
/// directory, a hard link to the archive root).
fn link_escapes(member: &str, target: &[u8], hard: bool) -> bool {
    if target.starts_with(b"/") || target.contains(&0) || target.contains(&b'\\') {
        return true;
    }
    let target = String::from_utf8_lossy(target);
    let mut parts: Vec<&str> = if hard {
        Vec::new()
    } else {
        let m = member.trim_start_matches("./").trim_end_matches('/');
        let mut p: Vec<&str> = m.split('/').collect();
        p.pop();
        p
    };
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return true;
                }
            }
            c => parts.push(c),
        }
    }
    // The first component is the chart's top directory: a path that left it escapes.
    parts.is_empty() || (!hard && member.trim_start_matches("./").split('/').next() != parts.first().copied())
}

/// Why a member name (or link target) of a chart is refused, if it is.
fn bad_member_name(raw: &[u8]) -> Option<&'static str> {
    if raw.contains(&0) {
        return Some("contains NUL");
    }
    if raw.contains(&b'\\') {
        return Some("contains a backslash");
    }
    if raw.starts_with(b"/") {
        return Some("is absolute");
    }
    if raw.split(|b| *b == b'/').any(|c| c == b"..") {
        return Some("climbs out with `..`");
    }
    None
}

/// A YAML node, scalars kept as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Text, and whether it was plain (unquoted: subject to null/bool/number resolution).
    Scalar(String, bool),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

enum Frame {
    Seq(Vec<Node>, usize),
    /// Entries, the key waiting for its value, the anchor.
    Map(Vec<(Node, Node)>, Option<Node>, usize),
}

struct Builder {
    stack: Vec<Frame>,
    anchors: BTreeMap<usize, Node>,
    root: Option<Node>,
    nodes: usize,
    error: Option<String>,
}

fn node_count(n: &Node) -> usize {
    match n {
        Node::Scalar(..) => 1,
        Node::Seq(v) => 1 + v.iter().map(node_count).sum::<usize>(),
        Node::Map(v) => 1 + v.iter().map(|(k, x)| node_count(k) + node_count(x)).sum::<usize>(),
    }
}

impl Builder {
    fn push_value(&mut self, n: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, n.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(n);
                }
            }
            Some(Frame::Seq(v, _)) => v.push(n),
            Some(Frame::Map(v, pending, _)) => match pending.take() {
                Some(k) => v.push((k, n)),
                None => *pending = Some(n),
            },
        }
    }
}

impl yaml_rust2::parser::MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: yaml_rust2::parser::Event, _mark: yaml_rust2::scanner::Marker) {
        use yaml_rust2::parser::Event;
        if self.error.is_some() {
            return;
        }
        self.nodes += 1;
        if self.nodes > MAX_YAML_NODES {
            self.error = Some(format!("more than {MAX_YAML_NODES} YAML nodes"));
            return;
        }
        match ev {
            Event::Scalar(s, style, anchor, _) => {
                let plain = matches!(style, yaml_rust2::scanner::TScalarStyle::Plain);
                self.push_value(Node::Scalar(s, plain), anchor)
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq(Vec::new(), anchor)),
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map(Vec::new(), None, anchor)),
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq(v, anchor)) => self.push_value(Node::Seq(v), anchor),
                Some(Frame::Map(v, _, anchor)) => self.push_value(Node::Map(v), anchor),
                None => {}
            },
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(n) => {
                    self.nodes += node_count(&n);
                    if self.nodes > MAX_YAML_NODES {
                        self.error = Some(format!("aliases expand to more than {MAX_YAML_NODES} YAML nodes"));
                        return;
                    }
                    self.push_value(n, 0)
                }
                None => self.error = Some("an alias to an unknown anchor".into()),
            },
            _ => {}
        }
    }
}

/// Parses one YAML document into a [`Node`] tree.
pub fn parse_yaml(text: &str) -> std::result::Result<Node, String> {
    let mut b = Builder { stack: Vec::new(), anchors: BTreeMap::new(), root: None, nodes: 0, error: None };
    let mut p = yaml_rust2::parser::Parser::new_from_str(text);
    p.load(&mut b, false).map_err(|e| e.to_string())?;
    if let Some(e) = b.error {
        return Err(e);
    }
    Ok(b.root.unwrap_or(Node::Map(Vec::new())))
}

impl Node {
    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(v) => v.iter().rev().find(|(k, _)| matches!(k, Node::Scalar(s, _) if s == key)).map(|(_, v)| v),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Node::Scalar(s, true) if s.is_empty() || s == "~" || s == "null" || s == "Null" || s == "NULL")
    }

    /// JSON under the YAML 1.2 core schema (plain scalars resolve to null, booleans and
    /// numbers); maps with keys sorted (as Go marshals `map[string]interface{}`).
    fn to_json(&self) -> Value {
        match self {
            Node::Scalar(s, true) => {
                if self.is_null() {
                    Value::Null
                } else if matches!(s.as_str(), "true" | "True" | "TRUE") {
                    Value::Bool(true)
                } else if matches!(s.as_str(), "false" | "False" | "FALSE") {
                    Value::Bool(false)
                } else if let Ok(i) = s.parse::<i64>() {
                    json!(i)
                } else if let Some(f) = s.parse::<f64>().ok().filter(|f| f.is_finite()) {
                    json!(f)
                } else {
                    Value::String(s.clone())
                }
            }
            Node::Scalar(s, false) => Value::String(s.clone()),
            Node::Seq(v) => Value::Array(v.iter().map(Node::to_json).collect()),
            Node::Map(v) => {
                let mut sorted: Vec<(String, Value)> =
                    v.iter().map(|(k, x)| (k.text().unwrap_or_default(), x.to_json())).collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                sorted.dedup_by(|a, b| a.0 == b.0);
                Value::Object(sorted.into_iter().collect())
            }
        }
    }

    /// The text of a scalar (as written), `None` for a collection or null.
    fn text(&self) -> Option<String> {
        match self {
            Node::Scalar(_, _) if self.is_null() => None,
            Node::Scalar(s, _) => Some(s.clone()),
            _ => None,
        }
    }
}

/// Helm's `sanitizeString`: whitespace becomes a space, unprintable characters go.
fn sanitize(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some(' ')
            } else if c.is_control() {
                None
            } else {
                Some(c)
            }
        })
        .collect()
}

/// The chart metadata, as `helm push` stores it.
#[derive(Debug, Clone)]
pub struct ChartMeta {
    pub name: String,
    pub version: String,
    /// The JSON of Helm's `chart.Metadata`.
    pub config: Map<String, Value>,
}

fn field_err(field: &str, what: &str) -> String {
    format!("Chart.yaml: `{field}` {what}")
}

fn string_field(n: &Node, field: &str) -> std::result::Result<Option<String>, String> {
    match n.get(field) {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(v @ Node::Scalar(..)) => Ok(v.text().map(|s| sanitize(&s)).filter(|s| !s.is_empty())),
        Some(_) => Err(field_err(field, "must be a string")),
    }
}

fn string_list(n: &Node, field: &str) -> std::result::Result<Vec<String>, String> {
    match n.get(field) {
        None => Ok(Vec::new()),
        Some(v) if v.is_null() => Ok(Vec::new()),
        Some(Node::Seq(items)) => items
            .iter()
            .map(|i| i.text().map(|s| sanitize(&s)).ok_or_else(|| field_err(field, "must be a list of strings")))
            .collect(),
        Some(_) => Err(field_err(field, "must be a list of strings")),
    }
}

/// True for a SemVer 2 version as Helm (Masterminds semver) accepts it: an optional `v`,
/// `MAJOR[.MINOR[.PATCH]]`, an optional `-PRERELEASE` and `+BUILD` of `[0-9A-Za-z.-]`.
pub fn is_semver(v: &str) -> bool {
    let v = v.strip_prefix('v').unwrap_or(v);
    let (core, build) = match v.split_once('+') {
        Some((c, b)) => (c, Some(b)),
        None => (v, None),
    };
    let (nums, pre) = match core.split_once('-') {
        Some((n, p)) => (n, Some(p)),
        None => (core, None),
    };
    let ident_ok = |s: &str| {
        !s.is_empty() && s.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    };
    let parts: Vec<&str> = nums.split('.').collect();
    (1..=3).contains(&parts.len())
        && parts.iter().all(|p| !p.is_empty() && p.len() <= 20 && p.chars().all(|c| c.is_ascii_digit()))
        && pre.is_none_or(ident_ok)
        && build.is_none_or(ident_ok)
}

/// Reads Chart.yaml into Helm's metadata, with Helm's checks (apiVersion, name, version
/// required; name a single path component; version SemVer; type application/library).
pub fn chart_meta(bytes: &[u8]) -> std::result::Result<ChartMeta, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "Chart.yaml is not UTF-8".to_string())?;
    let n = parse_yaml(text).map_err(|e| format!("Chart.yaml is not valid YAML: {e}"))?;
    if !matches!(n, Node::Map(_)) {
        return Err("Chart.yaml is not a YAML mapping".into());
    }
    let mut c = Map::new();
    let put_str = |c: &mut Map<String, Value>, f: &str| -> std::result::Result<Option<String>, String> {
        let v = string_field(&n, f)?;
        if let Some(s) = &v {
            c.insert(f.to_string(), Value::String(s.clone()));
        }
        Ok(v)
    };
    let name = put_str(&mut c, "name")?.ok_or("Chart.yaml has no `name` (chart.metadata.name is required)")?;
    if name == "." || name == ".." || name.contains('/') || name.contains('\\') {
        return Err(format!("Chart.yaml: the name `{name}` is invalid (it must be one path component)"));
    }
    put_str(&mut c, "home")?;
    let sources = string_list(&n, "sources")?;
    if !sources.is_empty() {
        c.insert("sources".into(), json!(sources));
    }
    let version =
        put_str(&mut c, "version")?.ok_or("Chart.yaml has no `version` (chart.metadata.version is required)")?;
    if !is_semver(&version) {
        return Err(format!("Chart.yaml: the version `{version}` is not SemVer 2 (e.g. 1.2.3, 1.2.3-rc.1+build.5)"));
    }
    put_str(&mut c, "description")?;
    let keywords = string_list(&n, "keywords")?;
    if !keywords.is_empty() {
        c.insert("keywords".into(), json!(keywords));
    }
    if let Some(m) = n.get("maintainers").filter(|m| !m.is_null()) {
        let Node::Seq(items) = m else { return Err(field_err("maintainers", "must be a list")) };
        let mut out = Vec::new();
        for i in items {
            if i.is_null() || !matches!(i, Node::Map(_)) {
                return Err("Chart.yaml: maintainers must not contain empty or null nodes".into());
            }
            let mut o = Map::new();
            for f in ["name", "email", "url"] {
                if let Some(s) = string_field(i, f)? {
                    o.insert(f.into(), Value::String(s));
                }
            }
            out.push(Value::Object(o));
        }
        if !out.is_empty() {
            c.insert("maintainers".into(), Value::Array(out));
        }
    }
    put_str(&mut c, "icon")?;
    put_str(&mut c, "apiVersion")?.ok_or("Chart.yaml has no `apiVersion` (chart.metadata.apiVersion is required)")?;
    put_str(&mut c, "condition")?;
    put_str(&mut c, "tags")?;
    put_str(&mut c, "appVersion")?;
    match n.get("deprecated") {
        Some(Node::Scalar(s, true)) if s == "true" => {
            c.insert("deprecated".into(), Value::Bool(true));
        }
        Some(Node::Scalar(s, true)) if s == "false" => {}
        Some(v) if v.is_null() => {}
        None => {}
        Some(_) => return Err(field_err("deprecated", "must be true or false")),
    }
    if let Some(a) = n.get("annotations").filter(|a| !a.is_null()) {
        let Node::Map(items) = a else { return Err(field_err("annotations", "must be a mapping of strings")) };
        let mut m: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in items {
            let (Some(k), false) = (k.text(), matches!(v, Node::Seq(_) | Node::Map(_))) else {
                return Err(field_err("annotations", "must be a mapping of strings"));
            };
            m.insert(k, v.text().unwrap_or_default());
        }
        if !m.is_empty() {
            c.insert("annotations".into(), json!(m));
        }
    }
    put_str(&mut c, "kubeVersion")?;
    if let Some(d) = n.get("dependencies").filter(|d| !d.is_null()) {
        let Node::Seq(items) = d else { return Err(field_err("dependencies", "must be a list")) };
        let mut out = Vec::new();
        for i in items {
            if i.is_null() || !matches!(i, Node::Map(_)) {
                return Err("Chart.yaml: dependencies must not contain empty or null nodes".into());
            }
            let mut o = Map::new();
            o.insert("name".into(), Value::String(string_field(i, "name")?.unwrap_or_default()));
            if let Some(v) = string_field(i, "version")? {
                o.insert("version".into(), Value::String(v));
            }
            o.insert("repository".into(), Value::String(string_field(i, "repository")?.unwrap_or_default()));
            if let Some(v) = string_field(i, "condition")? {
                o.insert("condition".into(), Value::String(v));
            }
            let tags = string_list(i, "tags")?;
            if !tags.is_empty() {
                o.insert("tags".into(), json!(tags));
            }
            if matches!(i.get("enabled"), Some(Node::Scalar(s, true)) if s == "true") {
                o.insert("enabled".into(), Value::Bool(true));
            }
            for f in ["import-values", "export-values"] {
                if let Some(Node::Seq(v)) = i.get(f)
                    && !v.is_empty()
                {
                    o.insert(f.into(), Value::Array(v.iter().map(Node::to_json).collect()));
                }
            }
            if let Some(v) = string_field(i, "alias")? {
                o.insert("alias".into(), Value::String(v));
            }
            out.push(Value::Object(o));
        }
        if !out.is_empty() {
            c.insert("dependencies".into(), Value::Array(out));
        }
    }
    if let Some(t) = put_str(&mut c, "type")?
        && t != "application"
        && t != "library"
    {
        return Err(format!("Chart.yaml: type `{t}` must be application or library"));
    }
    Ok(ChartMeta { name, version, config: c })
}

/// Helm's `escapeNonASCII`: characters beyond ASCII as `\uXXXX` (UTF-16 units).
fn escape_non_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// The manifest annotations `helm push` writes.
pub fn annotations(meta: &ChartMeta, created: &str) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    let mut add = |k: &str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
            a.insert(k.to_string(), escape_non_ascii(v));
        }
    };
    let s = |f: &str| meta.config.get(f).and_then(|v| v.as_str()).map(str::to_string);
    add("org.opencontainers.image.description", s("description").as_deref());
    add("org.opencontainers.image.title", Some(&meta.name));
    add("org.opencontainers.image.version", Some(&meta.version));
    add("org.opencontainers.image.url", s("home").as_deref());
    add("org.opencontainers.image.created", Some(created));
    let first_source = meta.config.get("sources").and_then(|v| v.get(0)).and_then(|v| v.as_str());
    add("org.opencontainers.image.source", first_source);
    if let Some(Value::Array(ms)) = meta.config.get("maintainers") {
        let authors: Vec<String> = ms
            .iter()
            .map(|m| {
                let mut s = m.get("name").and_then(|v| v.as_str()).unwrap_or("").to_string();
                if let Some(e) = m.get("email").and_then(|v| v.as_str()) {
                    s.push_str(&format!(" ({e})"));
                }
                s
            })
            .collect();
        add("org.opencontainers.image.authors", Some(&authors.join(", ")));
    }
    if let Some(Value::Object(ann)) = meta.config.get("annotations") {
        for (k, v) in ann {
            if k == "org.opencontainers.image.version" || k == "org.opencontainers.image.title" {
                continue;
            }
            a.insert(k.clone(), escape_non_ascii(v.as_str().unwrap_or("")));
        }
    }
    a
}

/// `NAME:VERSION` as `helm push` names a chart: `+` becomes `_`.
pub fn names(meta: &ChartMeta, label: &str) -> Result<Name> {
    let repo = RepoName::parse(&meta.name).map_err(|e| {
        Error::bad_input(label, format!(
            "the chart name `{}` is not a valid repository name ({e}); pass --repo NAME to store it under another name",
            meta.name
        ))
    })?;
    let tag_text = meta.version.replace('+', "_");
    let tag = Tag::parse(&tag_text).map_err(|e| {
        Error::bad_input(
            label,
            format!("the chart version `{}` does not make a valid tag ({e}); pass --tag T", meta.version),
        )
    })?;
    Ok(Name { foreign: Some(ForeignName { host: None, repo, tag: Some(tag.clone()), digest: None }), tag: Some(tag) })
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct HelmManifest<'a> {
    schema_version: u32,
    config: &'a Descriptor,
    layers: &'a [Descriptor],
    annotations: &'a BTreeMap<String, String>,
}

/// A chart's companion file (`CHART.tgz.prov`), read without following a symbolic link
/// (a link there could point at any secret of the user's, which would be stored and
/// exported back as the provenance layer): `None` when absent; a link or anything but a
/// regular file is refused.
fn read_companion(path: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
    use std::os::unix::fs::OpenOptionsExt;
    let refuse = |what: &str| {
        Error::bad_input(
            path.display().to_string(),
            format!("is {what}; wharf reads a chart's provenance file only as a regular file, never through a link"),
        )
    };
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::Io { action: "stat", path: path.to_path_buf(), source: e }),
        Ok(m) if m.file_type().is_symlink() => return Err(refuse("a symbolic link")),
        Ok(m) if !m.is_file() => return Err(refuse("not a regular file")),
        Ok(_) => {}
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|_| refuse("not a regular file it can open without following a link"))?;
    let meta = f.metadata().map_err(Error::io("stat", path))?;
    if !meta.is_file() {
        return Err(refuse("not a regular file"));
    }
    if meta.len() > limit {
        return Err(Error::TooLarge { what: path.display().to_string(), limit });
    }
    let mut out = Vec::new();
    f.take(limit + 1).read_to_end(&mut out).map_err(Error::io("read", path))?;
    if out.len() as u64 > limit {
        return Err(Error::TooLarge { what: path.display().to_string(), limit });
    }
    Ok(Some(out))
}

/// Receives a chart (and its `.prov`, when present beside it) into the staging area and
/// builds the manifest `helm push` would.
pub fn read(path: &Path, chart_yaml: &[u8], sink: &mut Sink<'_>) -> Result<(Found, Vec<String>)> {
    let label = path.display().to_string();
    let meta = chart_meta(chart_yaml).map_err(|e| Error::bad_input(&label, format!("not a valid Helm chart: {e}")))?;
    let name = names(&meta, &label)?;
    let mut notes = Vec::new();
    let f = crate::store::files::open_input_file(path)?;
    let file_meta = f.metadata().map_err(Error::io("stat", path))?;
    let size = file_meta.len();
    let created = file_meta
        .modified()
        .map(|t| chrono::DateTime::<chrono::Utc>::from(t).format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    let mut r = std::io::BufReader::with_capacity(1 << 20, f);
    let chart = sink.receive(&mut r, size, None, &label)?;
    let config_bytes = serde_json::to_vec(&Value::Object(meta.config.clone())).expect("config serialises");
    let config = sink.put(&config_bytes)?;
    let mut blobs: BTreeMap<Digest, Blob> = BTreeMap::new();
    let mut layers = vec![Descriptor::new(CHART_MEDIA_TYPE, chart.digest.clone(), chart.size)];
    blobs.insert(chart.digest.clone(), chart);
    let mut prov_path = path.as_os_str().to_owned();
    prov_path.push(".prov");
    let prov_path = std::path::PathBuf::from(prov_path);
    if let Some(bytes) = read_companion(&prov_path, MAX_PROV)? {
        let prov = sink.put(&bytes)?;
        layers.push(Descriptor::new(PROV_MEDIA_TYPE, prov.digest.clone(), prov.size));
        blobs.insert(prov.digest.clone(), prov);
        notes.push(format!("stored the provenance file {} as a layer", prov_path.display()));
    }
    layers.sort_by(|a, b| a.digest.cmp(&b.digest));
    let config_desc = Descriptor::new(CONFIG_MEDIA_TYPE, config.digest.clone(), config.size);
    blobs.insert(config.digest.clone(), config);
    let ann = annotations(&meta, &created);
    let manifest = serde_json::to_vec(&HelmManifest {
        schema_version: 2,
        config: &config_desc,
        layers: &layers,
        annotations: &ann,
    })
    .expect("manifest serialises");
    let m = sink.put(&manifest)?;
    let root = Descriptor::new(crate::model::media::OCI_MANIFEST, m.digest.clone(), m.size);
    blobs.insert(m.digest.clone(), m);
    Ok((Found { names: vec![name], root, blobs, platforms: Vec::new(), origin: Origin::Chart }, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_table() {
        for ok in ["1.2.3", "0.1.0", "v1.2.3", "1.2", "1", "1.2.3-rc.1", "1.2.3+build.5", "1.0.0-alpha+001"] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in ["", "latest", "1.2.3.4", "1..2", "1.2.3-", "1.2.3+", "a.b.c", "1.2.3-rc_1", "1.2.3 "] {
            assert!(!is_semver(bad), "{bad}");
        }
    }

    #[test]
    fn config_is_helm_metadata_in_helm_order() {
        let y = br#"
apiVersion: v2
name: demo
description: "A demo\tchart"
type: application
version: 1.2.3+build.1
appVersion: 1.10
home: https://example.com
sources: [https://git.example.com/demo]
keywords: [a, b]
maintainers:
  - name: Ada
    email: ada@example.com
annotations:
  category: Demo
  org.opencontainers.image.title: ignored
dependencies:
  - name: redis
    version: ">=1.0"
    repository: https://charts.example.com
    import-values: [data]
"#;
        let m = chart_meta(y).unwrap();
        let keys: Vec<&str> = m.config.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "name",
                "home",
                "sources",
                "version",
                "description",
                "keywords",
                "maintainers",
                "apiVersion",
                "appVersion",
                "annotations",
                "dependencies",
                "type"
            ]
        );
        assert_eq!(m.config["appVersion"], "1.10", "kept as written, not a float");
        assert_eq!(m.config["description"], "A demo chart", "sanitised as Helm does");
        assert_eq!(
            m.config["dependencies"][0],
            json!({"name": "redis", "version": ">=1.0", "repository": "https://charts.example.com", "import-values": ["data"]})
        );
        let a = annotations(&m, "2026-01-01T00:00:00Z");
        assert_eq!(a["org.opencontainers.image.title"], "demo");
        assert_eq!(a["org.opencontainers.image.version"], "1.2.3+build.1");
        assert_eq!(a["org.opencontainers.image.authors"], "Ada (ada@example.com)");
        assert_eq!(a["org.opencontainers.image.source"], "https://git.example.com/demo");
        assert_eq!(a["org.opencontainers.image.url"], "https://example.com");
        assert_eq!(a["category"], "Demo");
        let n = names(&m, "x").unwrap();
        assert_eq!(n.tag.unwrap().as_str(), "1.2.3_build.1");
    }

    #[test]
    fn bad_charts_are_refused_with_the_reason() {
        let cases: &[(&str, &str, &str)] = &[
            ("no name", "apiVersion: v2\nversion: 1.0.0\n", "no `name`"),
            ("no version", "apiVersion: v2\nname: x\n", "no `version`"),
            ("bad version", "apiVersion: v2\nname: x\nversion: latest\n", "not SemVer"),
            ("no apiVersion", "name: x\nversion: 1.0.0\n", "apiVersion"),
            ("name with slash", "apiVersion: v2\nname: a/b\nversion: 1.0.0\n", "invalid"),
            ("bad type", "apiVersion: v2\nname: x\nversion: 1.0.0\ntype: other\n", "application or library"),
            ("not a mapping", "- a\n- b\n", "not a YAML mapping"),
            ("not yaml", "name: [unclosed\n", "not valid YAML"),
        ];
        for (name, y, want) in cases {
            let e = chart_meta(y.as_bytes()).unwrap_err();
            assert!(e.contains(want), "{name}: {e}");
        }
        let upper = chart_meta(b"apiVersion: v2\nname: MyChart\nversion: 1.0.0\n").unwrap();
        assert!(names(&upper, "x").is_err(), "an uppercase name is not a repository name");
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut y = String::from("apiVersion: v2\nname: x\nversion: 1.0.0\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            y.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
                p = i - 1
            ));
        }
        let e = chart_meta(y.as_bytes()).unwrap_err();
        assert!(e.contains("YAML nodes"), "{e}");
    }

    #[test]
    fn non_ascii_is_escaped_as_helm_does() {
        assert_eq!(escape_non_ascii("café 🚀"), "caf\\u00e9 \\ud83d\\ude80");
    }
}
