//! The foundation commands: init, repos, tags, manifests, show, referrers, tag, untag,
//! update, lock, unlock, on registries wharf made, on layouts made by hand, and on
//! layouts other tools made; bad input; the default root; the registry lock.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::common::*;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// An OCI layout written by hand, byte by byte, as another tool might.
pub struct Hand {
    pub dir: PathBuf,
    entries: Vec<Value>,
}

/// A child of a hand-made index: blob, media type, (os, architecture).
pub type IndexChild<'a> = (&'a Blob, &'a str, Option<(&'a str, &'a str)>);

/// A written blob: digest and size.
#[derive(Clone, Debug)]
pub struct Blob {
    pub digest: String,
    pub size: u64,
}

impl Hand {
    pub fn new(dir: &Path) -> Hand {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let h = Hand { dir: dir.to_path_buf(), entries: Vec::new() };
        h.write_index();
        h
    }

    pub fn blob(&self, bytes: &[u8]) -> Blob {
        use sha2::Digest as _;
        let hex = hex::encode(sha2::Sha256::digest(bytes));
        std::fs::write(self.dir.join("blobs/sha256").join(&hex), bytes).unwrap();
        Blob { digest: format!("sha256:{hex}"), size: bytes.len() as u64 }
    }

    /// A one-layer linux/amd64 image whose config says `created` (when given).
    pub fn image(&self, seed: &str, created: Option<&str>) -> Blob {
        let mut tar = tar::Builder::new(Vec::new());
        let data = seed.as_bytes();
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, "seed.txt", data).unwrap();
        let layer_bytes = tar.into_inner().unwrap();
        let layer = self.blob(&layer_bytes);
        let mut config = json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer.digest]},
            "config": {}
        });
        if let Some(c) = created {
            config["created"] = json!(c);
        }
        let config = self.blob(&serde_json::to_vec(&config).unwrap());
        self.manifest(&config, OCI_CONFIG, &[layer], None, None)
    }

    /// An image manifest (or an artifact with `artifact_type` and `subject`).
    pub fn manifest(
        &self,
        config: &Blob,
        config_type: &str,
        layers: &[Blob],
        subject: Option<(&Blob, &str)>,
        artifact_type: Option<&str>,
    ) -> Blob {
        let mut m = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": config_type, "digest": config.digest, "size": config.size},
            "layers": layers.iter().map(|l| json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": l.digest, "size": l.size
            })).collect::<Vec<_>>(),
        });
        if let Some((s, mt)) = subject {
            m["subject"] = json!({"mediaType": mt, "digest": s.digest, "size": s.size});
        }
        if let Some(a) = artifact_type {
            m["artifactType"] = json!(a);
        }
        self.blob(&serde_json::to_vec(&m).unwrap())
    }

    /// An index over `children` (each with its platform, when given).
    pub fn index(&self, children: &[IndexChild<'_>]) -> Blob {
        let manifests: Vec<Value> = children
            .iter()
            .map(|(b, mt, platform)| {
                let mut d = json!({"mediaType": mt, "digest": b.digest, "size": b.size});
                if let Some((os, arch)) = platform {
                    d["platform"] = json!({"os": os, "architecture": arch});
                }
                d
            })
            .collect();
        self.blob(
            &serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})).unwrap(),
        )
    }

    /// Adds an index.json entry (tagged when `tag` is given) and rewrites index.json.
    pub fn entry(&mut self, b: &Blob, media_type: &str, tag: Option<&str>, created: Option<&str>) -> &mut Hand {
        let mut annotations = serde_json::Map::new();
        if let Some(t) = tag {
            annotations.insert("org.opencontainers.image.ref.name".into(), json!(t));
        }
        if let Some(c) = created {
            annotations.insert("org.opencontainers.image.created".into(), json!(c));
        }
        let mut d = json!({"mediaType": media_type, "digest": b.digest, "size": b.size});
        if !annotations.is_empty() {
            d["annotations"] = Value::Object(annotations);
        }
        self.entries.push(d);
        self.write_index();
        self
    }

    fn write_index(&self) {
        let idx = json!({"schemaVersion": 2, "manifests": self.entries});
        std::fs::write(self.dir.join("index.json"), serde_json::to_vec(&idx).unwrap()).unwrap();
    }
}

/// A registry with repository `app` made by hand: manifest A tagged `a`, B tagged `b`.
pub fn app_registry() -> (Reg, Blob, Blob) {
    let reg = Reg::new();
    let mut h = Hand::new(&reg.root.join("app"));
    let a = h.image("a", Some("2026-01-01T00:00:00Z"));
    let b = h.image("b", Some("2026-01-02T00:00:00Z"));
    h.entry(&a, OCI_MANIFEST, Some("a"), None).entry(&b, OCI_MANIFEST, Some("b"), None);
    (reg, a, b)
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

fn index_json(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap()
}

#[test]
fn adopted_layout_is_listed() {
    let Some(src) = fixture("regclient/testrepo") else { return };
    let reg = Reg::new();
    reg.adopt_layout(&src, "testrepo");
    let repos = reg.json(&["repos"]);
    assert_eq!(repos["repositories"][0]["name"], "testrepo");
    let tags = wharf_tags(&reg, "testrepo");
    assert!(tags.contains(&"v1".to_string()) && tags.contains(&"b1".to_string()), "{tags:?}");
}

#[test]
fn tag_then_untag_keeps_the_manifest() {
    let Some(src) = fixture("regclient/testrepo") else { return };
    let reg = Reg::new();
    reg.adopt_layout(&src, "testrepo");
    let t = reg.json(&["tag", "testrepo:v1", "team/app:1"]);
    assert_eq!(t["change"], "created");
    assert_eq!(wharf_tags(&reg, "team/app"), vec!["1"]);
    let u = reg.json(&["untag", "team/app:1"]);
    assert_eq!(u["remaining_tags"], json!([]));
    assert!(wharf_tags(&reg, "team/app").is_empty());
    let m = reg.json(&["manifests", "team/app"]);
    assert_eq!(m["manifests"].as_array().unwrap().len(), 1, "the manifest stays, untagged");
    assert_eq!(m["manifests"][0]["digest"], t["digest"]);
}

#[test]
fn bad_reference_is_usage_error_and_changes_nothing() {
    let (reg, _, _) = app_registry();
    reg.json(&["tags", "app"]); // let the sidecar be written by nobody: reads write nothing
    let before = reg.snapshot();
    reg.wharf(&["untag", "Bad:1"]).code(2).stderr_has("is not a repository name");
    reg.wharf(&["untag", "ok:-x"]).code(2).stderr_has("is not a tag");
    reg.wharf(&["untag", "app"]).code(2).stderr_has("names no tag or digest");
    reg.wharf(&["show", "app@sha256:abc"]).code(2).stderr_has("is not a digest");
    reg.wharf(&["show", "app@md5:abc"]).code(2).stderr_has("is not a digest");
    reg.wharf(&["referrers", "app"]).code(2).stderr_has("names no tag or digest");
    reg.wharf(&["manifests", "App"]).code(2).stderr_has("is not a repository name");
    reg.wharf(&["manifests", "app", "--orderby", "size"]).code(2).stderr_has("expected time_asc or time_desc");
    reg.wharf(&["update", "app:a", "--write-enabled", "maybe"]).code(2);
    reg.wharf(&["update", "app:a"]).code(2).stderr_has("nothing to update");
    reg.wharf(&["lock", "localhost:5000/app:a"]).code(2).stderr_has("registry host");
    reg.wharf(&["tag", "app:a", "app"]).code(2).stderr_has("names no tag");
    reg.wharf(&["show", "app:nope"]).code(2).stderr_has("tag `app:nope` does not exist");
    reg.wharf(&["show", "nope:a"]).code(2).stderr_has("repository `nope` does not exist");
    reg.wharf(&["--as-of", "yesterday", "tags", "app"]).code(2).stderr_has("is not a timestamp");
    let json_err = reg.wharf(&["--json", "show", "app:nope"]).code(2).json();
    assert_eq!(json_err["error"]["exit_code"], 2);
    assert_eq!(before, reg.snapshot());
}

/// The `--json` error document carries a stable `kind` a script can match on, one per
/// class of failure, next to the message and the exit code.
#[test]
fn json_errors_carry_a_stable_kind() {
    let reg = Reg::new();
    reg.wharf(&["import", testdata("hello.oci-archive.tar").to_str().unwrap()]).ok();
    reg.wharf(&["lock", "hello:latest"]).ok();
    let junk = reg.dir.path().join("junk.tar");
    std::fs::write(&junk, b"not an archive at all").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["show", "hello:nope"], "tag_not_found"),
        (&["show", "nope:a"], "repository_not_found"),
        (&["show", "Hello:a"], "bad_reference"),
        (&["untag", "hello:latest"], "lock_refused"),
        (&["--as-of", "yesterday", "tags", "hello"], "usage"),
        (&["purge", "--filter", "hello:(", "--dry-run"], "bad_filter"),
        (&["manifests", "hello", "--top", "0"], "usage"),
        (&["import", junk.to_str().unwrap()], "bad_input"),
        (&["init"], "already_a_registry"),
    ];
    let before = reg.snapshot();
    for (args, kind) in cases {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let v = reg.wharf(&full).code(2).json();
        assert_eq!(v["error"]["kind"], *kind, "{args:?}: {v:#}");
        assert_eq!(v["error"]["exit_code"], 2);
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{v:#}");
    }
    assert_eq!(before, reg.snapshot());
}

/// Sets index.json's modification time to 2026-01-01T00:00:00Z, as if another tool had
/// last written it then (so that `--as-of` later than that is when wharf first sees it).
pub fn age_index(dir: &Path) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600);
    std::fs::File::options().write(true).open(dir.join("index.json")).unwrap().set_modified(t).unwrap();
}

#[test]
fn adoption_backfills_times_and_records_sources() {
    // Registry times of what another tool wrote are when wharf first observed it (never
    // earlier than index.json's mtime); the image's build time (annotation, else config
    // `created`) is shown apart as image_created (issue 8, defect 17).
    let reg = Reg::new();
    let mut h = Hand::new(&reg.root.join("adopt"));
    let by_annotation = h.image("x", Some("2020-01-01T00:00:00Z"));
    let by_config = h.image("y", Some("2021-06-01T12:00:00Z"));
    let no_time = h.image("z", None);
    let untagged = h.image("u", Some("2019-01-01T00:00:00Z"));
    h.entry(&by_annotation, OCI_MANIFEST, Some("ann"), Some("2022-02-02T02:02:02Z"))
        .entry(&by_config, OCI_MANIFEST, Some("cfg"), None)
        .entry(&no_time, OCI_MANIFEST, Some("none"), None)
        .entry(&untagged, OCI_MANIFEST, None, None);
    age_index(&reg.root.join("adopt"));
    let m = reg.json(&["--as-of", "2026-03-01T00:00:00Z", "manifests", "adopt"]);
    let mut rows: Vec<(String, String, String, Value, Value)> = m["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["tags"].as_array().unwrap().first().and_then(|t| t.as_str()).unwrap_or("").to_string(),
                r["created"].as_str().unwrap().to_string(),
                r["created_source"].as_str().unwrap().to_string(),
                r.get("untagged_at").cloned().unwrap_or(Value::Null),
                r.get("image_created").cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    rows.sort_by(|x, y| x.0.cmp(&y.0));
    let seen = "2026-03-01T00:00:00Z";
    let row =
        |tag: &str, untagged: Value, image: Value| (tag.to_string(), seen.into(), "observed".into(), untagged, image);
    assert_eq!(
        rows,
        vec![
            row("", json!(seen), json!("2019-01-01T00:00:00Z")),
            row("ann", Value::Null, json!("2022-02-02T02:02:02Z")),
            row("cfg", Value::Null, json!("2021-06-01T12:00:00Z")),
            row("none", Value::Null, Value::Null),
        ]
    );
    let s = reg.json(&["--as-of", "2026-03-01T00:00:00Z", "show", &format!("adopt@{}", untagged.digest)]);
    assert_eq!(s["untagged_source"], "observed");
    let human = reg.wharf(&["--as-of", "2026-03-01T00:00:00Z", "show", "adopt:ann"]).ok().stdout;
    assert!(human.contains("created:     2026-03-01T00:00:00Z (from observed)\n"), "{human}");
    assert!(human.contains("image created: 2022-02-02T02:02:02Z"), "{human}");
    assert!(human.contains("  tag ann     write_enabled=true"), "{human}");
    // Never earlier than index.json's mtime, even with an earlier --as-of.
    let t = reg.json(&["--as-of", "2025-06-01T00:00:00Z", "tags", "adopt"]);
    let tags: Vec<(&str, &str, &str, Option<&str>)> = t["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap(),
                t["updated"].as_str().unwrap(),
                t["created_source"].as_str().unwrap(),
                t.get("image_created").and_then(|v| v.as_str()),
            )
        })
        .collect();
    let mtime = "2026-01-01T00:00:00Z";
    assert_eq!(
        tags,
        vec![
            ("ann", mtime, "observed", Some("2022-02-02T02:02:02Z")),
            ("cfg", mtime, "observed", Some("2021-06-01T12:00:00Z")),
            ("none", mtime, "observed", None)
        ]
    );
    // The first write records the observed times; later loads keep them.
    reg.json(&["--as-of", "2026-03-01T00:00:00Z", "unlock", "adopt"]);
    let t = reg.json(&["--as-of", "2026-05-01T00:00:00Z", "tags", "adopt"]);
    assert_eq!(t["tags"][0]["updated"], seen);
}

#[test]
fn manifests_orderby_and_top() {
    // `created` is when the manifest came into the repository: a is adopted first (the
    // unlock writes the sidecar), b added by another tool later.
    let reg = Reg::new();
    let mut h = Hand::new(&reg.root.join("app"));
    let a = h.image("a", Some("2026-01-02T00:00:00Z"));
    let b = h.image("b", Some("2026-01-01T00:00:00Z"));
    h.entry(&a, OCI_MANIFEST, Some("a"), None);
    reg.json(&["unlock", "app"]);
    h.entry(&b, OCI_MANIFEST, Some("b"), None);
    let asc = reg.json(&["manifests", "app"]);
    assert_eq!(asc["orderby"], "time_asc");
    let digests = |v: &Value| -> Vec<String> {
        v["manifests"].as_array().unwrap().iter().map(|m| m["digest"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(digests(&asc), vec![a.digest.clone(), b.digest.clone()]);
    let desc = reg.json(&["manifests", "app", "--orderby", "time_desc"]);
    assert_eq!(digests(&desc), vec![b.digest.clone(), a.digest.clone()]);
    let top = reg.json(&["manifests", "app", "--orderby", "time_desc", "--top", "1"]);
    assert_eq!(digests(&top), vec![b.digest.clone()]);
    assert_eq!(top["manifests"][0]["tags"], json!(["b"]));
    assert_eq!(top["manifests"][0]["size"], b.size);
    let human = reg.wharf(&["manifests", "app"]).ok().stdout;
    assert!(human.starts_with("DIGEST") && human.contains(&a.digest) && human.contains("  a\n"), "{human}");
}

#[test]
fn tag_move_leaves_old_manifest_untagged_with_time() {
    let (reg, a, b) = app_registry();
    reg.wharf(&["tag", "app:b", "app:a"]).code(2).stderr_has("pass --force");
    let t = reg.json(&["--as-of", "2026-05-05T05:05:05Z", "tag", "app:b", "app:a", "--force"]);
    assert_eq!(t["change"], "moved");
    assert_eq!(t["from"], a.digest.as_str());
    assert_eq!(t["digest"], b.digest.as_str());
    let s = reg.json(&["show", &format!("app@{}", a.digest)]);
    assert_eq!(s["tags"], json!([]));
    assert_eq!(s["untagged_at"], "2026-05-05T05:05:05Z");
    assert_eq!(s["untagged_source"], "wharf");
    let idx = index_json(&reg.root.join("app"));
    let entries = idx["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "a, b (both on B) and A untagged: {idx}");
    let untagged: Vec<&Value> = entries.iter().filter(|e| e.get("annotations").is_none()).collect();
    assert_eq!(untagged.len(), 1);
    assert_eq!(untagged[0]["digest"], a.digest.as_str());
    assert_eq!(strs(&reg.json(&["show", "app:a"])["tags"]), vec!["a", "b"]);
    // Tagging the untagged manifest again clears untagged_at and its untagged entry.
    reg.json(&["tag", &format!("app@{}", a.digest), "app:again"]);
    let s = reg.json(&["show", &format!("app@{}", a.digest)]);
    assert!(s.get("untagged_at").is_none(), "{s}");
    assert_eq!(index_json(&reg.root.join("app"))["manifests"].as_array().unwrap().len(), 3);
}

#[test]
fn untag_of_duplicate_ref_names_keeps_every_manifest() {
    // Regression: a foreign index.json with one ref.name on two entries lost the second
    // manifest from index.json on untag.
    let reg = Reg::new();
    let mut h = Hand::new(&reg.root.join("dup"));
    let x = h.image("x", None);
    let y = h.image("y", None);
    h.entry(&x, OCI_MANIFEST, Some("t"), None).entry(&y, OCI_MANIFEST, Some("t"), None);
    reg.json(&["untag", "dup:t"]);
    let m = reg.json(&["manifests", "dup"]);
    let mut got: Vec<String> =
        m["manifests"].as_array().unwrap().iter().map(|r| r["digest"].as_str().unwrap().to_string()).collect();
    got.sort();
    let mut want = vec![x.digest.clone(), y.digest.clone()];
    want.sort();
    assert_eq!(got, want);
    assert!(m["manifests"].as_array().unwrap().iter().all(|r| r["untagged_at"].is_string()));
}

#[test]
fn cross_repo_tag_refused_changes_nothing() {
    // Regression: a refused cross-repository tag (existing tag without --force) linked
    // the blobs into the target repository before refusing.
    let (reg, _, _) = app_registry();
    reg.json(&["tag", "app:b", "other:x"]);
    let before = reg.snapshot();
    reg.wharf(&["tag", "app:a", "other:x"]).code(2).stderr_has("pass --force");
    assert_eq!(before, reg.snapshot());
    reg.json(&["lock", "other"]);
    let before = reg.snapshot();
    reg.wharf(&["tag", "app:a", "other:y"]).code(2).stderr_has(
        "the repository other has write_enabled = false; lift it with `wharf update other --write-enabled true`",
    );
    assert_eq!(before, reg.snapshot());
}

/// The lock semantics table of DESIGN.md §3 and docs/CLI.md.
#[test]
fn lock_semantics_table() {
    // (case, update args, operation, Ok or the expected refusal text)
    type Case<'a> = (&'a str, &'a [&'a str], &'a [&'a str], Option<&'a str>);
    let cases: &[Case<'_>] = &[
        (
            "repo write off: untag",
            &["app", "--write-enabled", "false"],
            &["untag", "app:a"],
            Some("the repository app has write_enabled = false; lift it with `wharf update app --write-enabled true`"),
        ),
        (
            "repo write off: new tag",
            &["app", "--write-enabled", "false"],
            &["tag", "app:a", "app:c"],
            Some("the repository app has write_enabled = false"),
        ),
        (
            "repo delete off: untag",
            &["app", "--delete-enabled", "false"],
            &["untag", "app:a"],
            Some(
                "the repository app has delete_enabled = false; lift it with `wharf update app --delete-enabled true`",
            ),
        ),
        ("repo delete off: new tag", &["app", "--delete-enabled", "false"], &["tag", "app:a", "app:c"], None),
        ("repo read off: untag", &["app", "--read-enabled", "false"], &["untag", "app:a"], None),
        (
            "repo read off: copy out",
            &["app", "--read-enabled", "false"],
            &["tag", "app:a", "other:x"],
            Some("the repository app has read_enabled = false"),
        ),
        (
            "tag write off: untag",
            &["app:a", "--write-enabled", "false"],
            &["untag", "app:a"],
            Some("the tag app:a has write_enabled = false; lift it with `wharf update app:a --write-enabled true`"),
        ),
        (
            "tag write off: re-point",
            &["app:a", "--write-enabled", "false"],
            &["tag", "app:b", "app:a", "--force"],
            Some("the tag app:a has write_enabled = false"),
        ),
        ("tag write off: other tag", &["app:a", "--write-enabled", "false"], &["untag", "app:b"], None),
        ("tag write off: another tag on it", &["app:a", "--write-enabled", "false"], &["tag", "app:a", "app:c"], None),
        (
            "tag delete off: untag",
            &["app:a", "--delete-enabled", "false"],
            &["untag", "app:a"],
            Some("the tag app:a has delete_enabled = false"),
        ),
        (
            "tag delete off: re-point",
            &["app:a", "--delete-enabled", "false"],
            &["tag", "app:b", "app:a", "--force"],
            None,
        ),
        (
            "tag read off: copy out",
            &["app:a", "--read-enabled", "false"],
            &["tag", "app:a", "other:x"],
            Some("the tag app:a has read_enabled = false"),
        ),
        ("tag list off: untag", &["app:a", "--list-enabled", "false"], &["untag", "app:a"], None),
        (
            "manifest write off: untag",
            &["@A", "--write-enabled", "false"],
            &["untag", "app:a"],
            Some("the manifest app@sha256:"),
        ),
        (
            "manifest write off: move tag away",
            &["@A", "--write-enabled", "false"],
            &["tag", "app:b", "app:a", "--force"],
            Some("has write_enabled = false"),
        ),
        (
            "manifest delete off: move tag away",
            &["@A", "--delete-enabled", "false"],
            &["tag", "app:b", "app:a", "--force"],
            Some("has delete_enabled = false"),
        ),
        ("manifest write off: add a tag", &["@A", "--write-enabled", "false"], &["tag", "app:a", "app:c"], None),
        (
            "manifest write off: move a tag onto it",
            &["@A", "--write-enabled", "false"],
            &["tag", "app:a", "app:b", "--force"],
            None,
        ),
        (
            "manifest read off: copy out",
            &["@A", "--read-enabled", "false"],
            &["tag", "app:a", "other:x"],
            Some("has read_enabled = false"),
        ),
        (
            "manifest read off: copy by digest",
            &["@A", "--read-enabled", "false"],
            &["tag", "@A", "other:x"],
            Some("has read_enabled = false"),
        ),
        ("manifest lock: other manifest free", &["@A", "--write-enabled", "false"], &["untag", "app:b"], None),
    ];
    for (name, update, op, want) in cases {
        let (reg, a, _) = app_registry();
        let fill = |s: &&str| if *s == "@A" { format!("app@{}", a.digest) } else { s.to_string() };
        let update: Vec<String> = update.iter().map(fill).collect();
        let op: Vec<String> = op.iter().map(fill).collect();
        let mut args = vec!["update"];
        args.extend(update.iter().map(String::as_str));
        reg.wharf(&args).ok();
        let before = reg.snapshot();
        let run = reg.wharf(&op.iter().map(String::as_str).collect::<Vec<_>>());
        match want {
            None => assert_eq!(run.code, 0, "case {name}: {}", run.stderr),
            Some(msg) => {
                assert_eq!(run.code, 2, "case {name}: expected refusal, got {run:?}");
                assert!(run.stderr.contains(msg), "case {name}: stderr lacks {msg:?}: {}", run.stderr);
                assert!(run.stderr.contains("is locked"), "case {name}: {}", run.stderr);
                assert_eq!(before, reg.snapshot(), "case {name}: a refusal changed the registry");
            }
        }
    }
}

#[test]
fn update_lock_unlock_each_object() {
    let (reg, a, b) = app_registry();
    let u = reg.json(&["lock", "app:a"]);
    assert_eq!(
        (u["object"].as_str(), u["target"].as_str(), u["changed"].as_bool()),
        (Some("tag"), Some("app:a"), Some(true))
    );
    assert_eq!(
        u["after"],
        json!({"write_enabled": false, "delete_enabled": false, "read_enabled": true, "list_enabled": true})
    );
    assert_eq!(reg.json(&["lock", "app:a"])["changed"], false);
    let u = reg.json(&["unlock", "app:a"]);
    assert_eq!(u["after"]["write_enabled"], true);
    assert_eq!(u["after"]["delete_enabled"], true);
    let u = reg.json(&["update", &format!("app@{}", a.digest), "--read-enabled", "false"]);
    assert_eq!(u["object"], "manifest");
    assert_eq!(reg.json(&["show", "app:a"])["locks"]["manifest"]["read_enabled"], false);
    let u = reg.json(&["update", "app", "--list-enabled", "false", "--delete-enabled", "false"]);
    assert_eq!(u["object"], "repository");
    assert_eq!(u["after"]["list_enabled"], false);
    // REPO:TAG@DIGEST names the tag, pinned to the digest.
    let u = reg.json(&["lock", &format!("app:b@{}", b.digest)]);
    assert_eq!(u["object"], "tag");
    let before = reg.snapshot();
    reg.wharf(&["lock", &format!("app:a@{}", b.digest)]).code(2).stderr_has("points at");
    reg.wharf(&["lock", "app:zzz"]).code(2).stderr_has("does not exist");
    reg.wharf(&["lock", &format!("app@{}", "sha256:".to_string() + &"0".repeat(64))])
        .code(2)
        .stderr_has("is not in the repository");
    assert_eq!(before, reg.snapshot());
    let side: Value = serde_json::from_slice(&std::fs::read(reg.root.join("app/wharf-meta.json")).unwrap()).unwrap();
    assert_eq!(side["repository"]["locks"]["list_enabled"], false);
    assert_eq!(side["tags"]["b"]["locks"]["write_enabled"], false);
    let human = reg.wharf(&["unlock", "app:b"]).ok().stdout;
    assert!(human.starts_with("updated tag app:b: write_enabled=true"), "{human}");
}

#[test]
fn list_disabled_hides_from_listings_only() {
    let (reg, a, _) = app_registry();
    reg.json(&["update", "app:b", "--list-enabled", "false"]);
    assert_eq!(wharf_tags(&reg, "app"), vec!["a"]);
    reg.json(&["update", &format!("app@{}", a.digest), "--list-enabled", "false"]);
    assert!(wharf_tags(&reg, "app").is_empty(), "a hidden manifest hides its tags");
    let m = reg.json(&["manifests", "app"]);
    assert_eq!(m["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(m["manifests"][0]["tags"], json!([]), "the hidden tag b is not listed on its manifest");
    reg.json(&["update", "app", "--list-enabled", "false"]);
    assert_eq!(reg.json(&["repos"])["repositories"], json!([]));
    // Explicit references still work.
    assert_eq!(reg.json(&["show", "app:a"])["digest"], a.digest.as_str());
    reg.json(&["tag", "app:a", "app:c"]);
}

#[test]
fn show_describes_an_index_its_children_and_referrers() {
    let Some(src) = fixture("regclient/testrepo") else { return };
    let reg = Reg::new();
    reg.adopt_layout(&src, "testrepo");
    let s = reg.json(&["show", "testrepo:v2"]);
    let v2 = "sha256:dfae8f425735a5e3a72e40d6609e03079995511d48157c74d54801ff4430491e";
    assert_eq!(s["digest"], v2);
    assert_eq!(s["kind"], "index");
    assert_eq!(s["media_type"], OCI_INDEX);
    assert_eq!(s["size"], 934);
    assert_eq!(s["top_level"], true);
    assert_eq!(strs(&s["platforms"]), vec!["linux/amd64", "linux/arm64", "linux/arm/v7"]);
    assert_eq!(strs(&s["tags"]), vec!["v2"]);
    assert_eq!(s["children"].as_array().unwrap().len(), 3);
    assert!(s["children"].as_array().unwrap().iter().all(|c| c["role"] == "manifest" && c["present"] == true));
    let referrers: Vec<&str> =
        s["referrers"].as_array().unwrap().iter().map(|r| r["digest"].as_str().unwrap()).collect();
    assert_eq!(
        referrers,
        vec![
            "sha256:0484e93c23cddf24a8400547119558312023295af241d4cd1eaf1b27145c5026",
            "sha256:741132f956e196c3858dab17e50ea977056f2f1ce1ad2900f11f4c8ff2d4203b"
        ]
    );
    assert!(s["created"].is_string() && s["created_source"].is_string());
    assert_eq!(s["locks"]["tags"]["v2"]["write_enabled"], true);
    // A platform manifest inside the index, by digest: not top-level, with its parent.
    let child = s["children"][0]["digest"].as_str().unwrap().to_string();
    let c = reg.json(&["show", &format!("testrepo@{child}")]);
    assert_eq!(c["top_level"], false);
    assert_eq!(c["kind"], "manifest");
    assert_eq!(strs(&c["platforms"]), vec!["linux/amd64"]);
    assert!(strs(&c["parents"]).contains(&v2.to_string()));
    assert!(c["children"].as_array().unwrap().iter().any(|x| x["role"] == "config"));
    // Pinned reference.
    reg.json(&["show", &format!("testrepo:v2@{v2}")]);
    reg.wharf(&["show", &format!("testrepo:v1@{v2}")]).code(2).stderr_has("points at");
    let human = reg.wharf(&["show", "testrepo:v2"]).ok().stdout;
    assert!(human.contains("platforms:   linux/amd64, linux/arm64, linux/arm/v7"), "{human}");
    assert!(human.contains("referrers:"), "{human}");
}

#[test]
fn referrers_by_subject_and_by_tag_schema() {
    let Some(src) = fixture("regclient/testrepo") else { return };
    let reg = Reg::new();
    reg.adopt_layout(&src, "testrepo");
    let r = reg.json(&["referrers", "testrepo:v2"]);
    let rows: Vec<(String, String, Value)> = r["referrers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["digest"].as_str().unwrap()[..15].to_string(),
                x["artifact_type"].as_str().unwrap().to_string(),
                x["found_by"].clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("sha256:0484e93c".into(), "application/example.sbom".into(), json!(["subject", "tag_schema"])),
            ("sha256:741132f9".into(), "application/example.signature".into(), json!(["subject", "tag_schema"])),
        ]
    );
    // A manifest with no referrers.
    assert_eq!(reg.json(&["referrers", "testrepo:b1"])["referrers"], json!([]));

    // Hand-made: one referrer by subject only, one listed only in a tag-schema index
    // (and absent from the layout).
    let reg = Reg::new();
    let mut h = Hand::new(&reg.root.join("art"));
    let img = h.image("img", None);
    let empty = h.blob(b"{}");
    let payload = h.blob(b"sbom");
    let sbom = h.manifest(
        &empty,
        "application/vnd.oci.empty.v1+json",
        &[payload],
        Some((&img, OCI_MANIFEST)),
        Some("application/spdx+json"),
    );
    let ghost = Blob { digest: format!("sha256:{}", "e".repeat(64)), size: 10 };
    let schema_idx = h.index(&[(&ghost, OCI_MANIFEST, None)]);
    let tag_schema = format!("sha256-{}", img.digest.trim_start_matches("sha256:"));
    h.entry(&img, OCI_MANIFEST, Some("v1"), None).entry(&sbom, OCI_MANIFEST, None, None).entry(
        &schema_idx,
        OCI_INDEX,
        Some(&tag_schema),
        None,
    );
    let r = reg.json(&["referrers", &format!("art@{}", img.digest)]);
    let got: Vec<(String, Value, Value)> = r["referrers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["digest"].as_str().unwrap().to_string(), x["found_by"].clone(), x["present"].clone()))
        .collect();
    let mut want = vec![
        (sbom.digest.clone(), json!(["subject"]), json!(true)),
        (ghost.digest.clone(), json!(["tag_schema"]), json!(false)),
    ];
    want.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(got, want);
    assert_eq!(reg.json(&["show", "art:v1"])["referrers"].as_array().unwrap().len(), 2);
}

#[test]
fn broken_inputs_are_clear_errors_and_change_nothing() {
    // Broken index.json.
    let (reg, _, _) = app_registry();
    std::fs::write(reg.root.join("app/index.json"), b"{\"schemaVersion\": 2, \"manifests\": [").unwrap();
    let before = reg.snapshot();
    for args in [&["tags", "app"][..], &["manifests", "app"], &["show", "app:a"], &["lock", "app"], &["untag", "app:a"]]
    {
        reg.wharf(args).code(2).stderr_has("app/index.json: not a valid OCI index").stderr_has("restore it");
    }
    // `repos` lists the others and names the broken one: exit 1 (issue 8, E20).
    reg.wharf(&["repos"]).code(1).stderr_has("app/index.json: not a valid OCI index").stderr_has("restore it");
    assert_eq!(before, reg.snapshot());
    // Missing index.json.
    std::fs::remove_file(reg.root.join("app/index.json")).unwrap();
    let before = reg.snapshot();
    reg.wharf(&["tags", "app"]).code(2).stderr_has("index.json: missing");
    assert_eq!(before, reg.snapshot());

    // A sidecar of an unknown version.
    let (reg, _, _) = app_registry();
    reg.json(&["lock", "app:a"]);
    let side = reg.root.join("app/wharf-meta.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&side).unwrap()).unwrap();
    v["wharf_meta_version"] = json!(99);
    std::fs::write(&side, serde_json::to_vec(&v).unwrap()).unwrap();
    let before = reg.snapshot();
    for args in [&["tags", "app"][..], &["untag", "app:b"], &["unlock", "app:a"], &["tag", "app:a", "app:z"]] {
        reg.wharf(args)
            .code(2)
            .stderr_has("sidecar format version 99 is not supported")
            .stderr_has("upgrade wharf, or move the file aside");
    }
    assert_eq!(before, reg.snapshot());

    // A sidecar that is not JSON at all.
    std::fs::write(&side, b"{").unwrap();
    let before = reg.snapshot();
    reg.wharf(&["tags", "app"]).code(2).stderr_has("wharf-meta.json: not valid JSON").stderr_has("move it aside");
    assert_eq!(before, reg.snapshot());
    // Moved aside, the metadata is rebuilt from index.json (the lock is lost, not the tags).
    std::fs::remove_file(&side).unwrap();
    assert_eq!(wharf_tags(&reg, "app"), vec!["a", "b"]);

    // A registry.json of an unknown version.
    let (reg, _, _) = app_registry();
    std::fs::write(reg.root.join(".wharf/registry.json"), br#"{"wharf_registry_version": 7}"#).unwrap();
    let before = reg.snapshot();
    reg.wharf(&["repos"]).code(2).stderr_has("registry format version 7 is not supported");
    assert_eq!(before, reg.snapshot());

    // Neither a registry nor a layout (existing, and absent).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README"), b"hello").unwrap();
    let before = snapshot(dir.path());
    for args in [&["repos"][..], &["tags", "x"], &["lock", "x:y"], &["untag", "x:y"]] {
        wharf_at(dir.path(), args)
            .code(2)
            .stderr_has("is neither a wharf registry nor an OCI image layout")
            .stderr_has("init");
    }
    assert_eq!(before, snapshot(dir.path()));
    let absent = dir.path().join("absent");
    wharf_at(&absent, &["repos"]).code(2).stderr_has("is neither a wharf registry");
    assert!(!absent.exists());
}

#[test]
fn plain_layout_is_a_one_repository_registry() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mylayout");
    let mut h = Hand::new(&root);
    let a = h.image("a", Some("2026-01-01T00:00:00Z"));
    h.entry(&a, OCI_MANIFEST, Some("v1"), None);
    let before = snapshot(&root);
    let repos = wharf_json(&root, &["repos"]);
    assert_eq!(repos["repositories"][0]["name"], "mylayout");
    assert_eq!(wharf_json(&root, &["tags", "mylayout"])["tags"][0]["name"], "v1");
    let m = wharf_json(&root, &["manifests", "mylayout"]);
    assert_eq!(m["manifests"][0]["created_source"], "observed");
    assert_eq!(m["manifests"][0]["image_created"], "2026-01-01T00:00:00Z");
    wharf_json(&root, &["show", "mylayout:v1"]);
    wharf_json(&root, &["referrers", "mylayout:v1"]);
    assert_eq!(before, snapshot(&root), "readers leave a plain layout untouched (no .wharf/, no sidecar)");
    wharf_at(&root, &["tags", "other"])
        .code(2)
        .stderr_has("is a single OCI layout whose repository is named `mylayout`");
    wharf_json(&root, &["lock", "mylayout:v1"]);
    assert!(root.join(".wharf").is_dir() && root.join("wharf-meta.json").is_file(), "writers create .wharf/");
    wharf_at(&root, &["untag", "mylayout:v1"]).code(2).stderr_has("is locked");
    wharf_at(&root, &["init"]).code(2).stderr_has("is an OCI image layout");
}

fn wharf_json(root: &Path, args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    wharf_at(root, &a).ok().json()
}

/// Runs wharf with no --root, in an environment of our choosing.
fn wharf_env(args: &[&str], env: &[(&str, &Path)]) -> Run {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"));
    c.args(args).env_remove("WHARF_ROOT").env_remove("XDG_DATA_HOME");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
    }
}

#[test]
fn default_root_follows_design() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // HOME alone: ~/.local/share/wharf.
    let r = wharf_env(&["--json", "init"], &[("HOME", h)]).ok().json();
    assert_eq!(r["root"], h.join(".local/share/wharf").display().to_string());
    assert!(h.join(".local/share/wharf/.wharf/registry.json").is_file());
    // XDG_DATA_HOME wins over HOME.
    let xdg = h.join("xdg");
    wharf_env(&["init"], &[("HOME", h), ("XDG_DATA_HOME", &xdg)]).ok();
    assert!(xdg.join("wharf/.wharf/registry.json").is_file());
    // $WHARF_ROOT wins over both; --root over $WHARF_ROOT.
    let wr = h.join("wr");
    wharf_env(&["init"], &[("HOME", h), ("XDG_DATA_HOME", &xdg), ("WHARF_ROOT", &wr)]).ok();
    assert!(wr.join(".wharf/registry.json").is_file());
    let explicit = h.join("explicit");
    let explicit_s = explicit.display().to_string();
    wharf_env(&["--root", &explicit_s, "init"], &[("HOME", h), ("WHARF_ROOT", &wr)]).ok();
    assert!(explicit.join(".wharf/registry.json").is_file());
    // An empty $WHARF_ROOT counts as unset.
    let empty = std::path::PathBuf::new();
    let r = wharf_env(&["--json", "repos"], &[("HOME", h), ("WHARF_ROOT", &empty)]).ok().json();
    assert_eq!(r["repositories"], json!([]));
    // The default root is used by every command.
    assert_eq!(wharf_env(&["--json", "repos"], &[("HOME", h)]).ok().json()["repositories"], json!([]));
}

/// Holds `.wharf/lock` of `root` exclusively with util-linux flock until dropped.
struct Holder(std::process::Child);

impl Holder {
    fn hold(root: &Path, secs: u32) -> Holder {
        let ready = root.join(".wharf/holder-ready");
        // The shell execs into `sleep`, so the child we kill is the one holding fd 9.
        let child = std::process::Command::new("sh")
            .arg("-c")
            .arg(r#"exec 9>>"$1" && flock -x 9 && touch "$2" && exec sleep "$3""#)
            .arg("sh")
            .arg(root.join(".wharf/lock"))
            .arg(&ready)
            .arg(secs.to_string())
            .spawn()
            .expect("sh");
        let mut child = child;
        while !ready.exists() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the lock holder exited early: {status}");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::fs::remove_file(&ready).unwrap();
        Holder(child)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn no_wait_fails_fast_and_waiting_is_announced() {
    let Some(_) = tool("flock") else { return };
    let (reg, _, _) = app_registry();
    reg.json(&["tags", "app"]);
    let before = reg.snapshot();
    {
        let _h = Holder::hold(&reg.root, 30);
        reg.wharf(&["--no-wait", "tags", "app"])
            .code(2)
            .stderr_has("is held by another process and --no-wait was given");
        reg.wharf(&["--no-wait", "untag", "app:a"]).code(2).stderr_has(".wharf/lock");
    }
    assert_eq!(before, reg.snapshot());
    // A writer that waits: announced on stderr, then done once the holder lets go.
    let h = Holder::hold(&reg.root, 1);
    let r = reg.wharf(&["untag", "app:a"]).ok().stderr_has("waiting for lock on");
    assert!(r.stdout.contains("untagged app:a"));
    drop(h);
    assert_eq!(wharf_tags(&reg, "app"), vec!["b"]);
}

#[test]
fn referrers_of_an_absent_subject_are_listed() {
    let Some(src) = fixture("regclient/external") else { return };
    let reg = Reg::new();
    reg.adopt_layout(&src, "external");
    let v2 = "sha256:dfae8f425735a5e3a72e40d6609e03079995511d48157c74d54801ff4430491e";
    let r = reg.json(&["referrers", &format!("external@{v2}")]);
    assert_eq!(r["subject_present"], false);
    let rows: Vec<(String, Value)> = r["referrers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["tags"][0].as_str().unwrap_or("").to_string(), x["found_by"].clone()))
        .collect();
    assert_eq!(
        rows.iter().map(|(t, _)| t.as_str()).filter(|t| !t.is_empty()).collect::<Vec<_>>(),
        vec!["a3", "a4"],
        "{r}"
    );
    assert!(rows.iter().all(|(_, f)| f.as_array().unwrap().contains(&json!("tag_schema"))), "{r}");
    // By tag, an absent tag is still an error.
    reg.wharf(&["referrers", "external:nope"]).code(2).stderr_has("does not exist");
}

#[test]
fn a_platform_manifest_can_be_tagged_by_digest() {
    let Some(src) = fixture("regclient/testrepo") else { return };
    let reg = Reg::new();
    reg.adopt_layout(&src, "testrepo");
    let s = reg.json(&["show", "testrepo:v2"]);
    let child = s["children"][1]["digest"].as_str().unwrap().to_string();
    let t = reg.json(&["tag", &format!("testrepo@{child}"), "testrepo:arm64"]);
    assert_eq!(t["change"], "created");
    let shown = reg.json(&["show", "testrepo:arm64"]);
    assert_eq!((shown["digest"].as_str(), shown["top_level"].as_bool()), (Some(child.as_str()), Some(true)));
    assert_eq!(strs(&shown["platforms"]), vec!["linux/arm64"]);
    reg.json(&["tag", &format!("testrepo@{child}"), "plat/only:arm64"]);
    assert_eq!(wharf_tags(&reg, "plat/only"), vec!["arm64"]);
    // The parent index's read lock covers its platform manifests.
    let v2 = s["digest"].as_str().unwrap();
    let other = s["children"][0]["digest"].as_str().unwrap();
    let before = reg.snapshot();
    reg.wharf(&["lock", &format!("testrepo@{other}")]).code(2).stderr_has("lock the index instead");
    assert_eq!(before, reg.snapshot());
    reg.json(&["update", &format!("testrepo@{v2}"), "--read-enabled", "false"]);
    let before = reg.snapshot();
    reg.wharf(&["tag", &format!("testrepo@{other}"), "plat/only:amd64"]).code(2).stderr_has("read_enabled = false");
    assert_eq!(before, reg.snapshot());
}

#[test]
fn a_moved_tag_keeps_its_created_time_and_source() {
    // Regression: moving a backfilled tag kept its created time but relabelled its source
    // as `wharf`.
    let (reg, _, b) = app_registry();
    age_index(&reg.root.join("app"));
    reg.json(&["--as-of", "2026-03-01T00:00:00Z", "unlock", "app"]);
    reg.json(&["--as-of", "2026-04-04T00:00:00Z", "tag", "app:b", "app:a", "--force"]);
    let side: Value = serde_json::from_slice(&std::fs::read(reg.root.join("app/wharf-meta.json")).unwrap()).unwrap();
    let a = &side["tags"]["a"];
    assert_eq!(a["digest"], b.digest.as_str());
    assert_eq!((a["created"].as_str(), a["created_source"].as_str()), (Some("2026-03-01T00:00:00Z"), Some("observed")));
    assert_eq!(a["updated"], "2026-04-04T00:00:00Z");
    let t = reg.json(&["tags", "app"]);
    assert_eq!(t["tags"][0]["created"], "2026-03-01T00:00:00Z");
    assert_eq!(t["tags"][0]["updated"], "2026-04-04T00:00:00Z");
    assert_eq!(t["tags"][0]["image_created"], "2026-01-02T00:00:00Z", "b's build time, shown apart");
}

#[test]
fn a_repository_is_never_created_inside_a_blob_store() {
    // Regression: `app/blobs` and `app/blobs/sha256` are valid repository names, and
    // tagging into them wrote index.json into app's blob store.
    let (reg, _, _) = app_registry();
    let before = reg.snapshot();
    for target in ["app/blobs:x", "app/blobs/sha256:x", "blobs:x"] {
        reg.wharf(&["tag", "app:a", target]).code(2).stderr_has("has a component `blobs`");
    }
    assert_eq!(before, reg.snapshot());
}

#[test]
fn show_of_a_manifest_whose_blob_is_missing_says_so() {
    let (reg, a, _) = app_registry();
    std::fs::remove_file(reg.root.join("app/blobs/sha256").join(a.digest.trim_start_matches("sha256:"))).unwrap();
    let before = reg.snapshot();
    reg.wharf(&["show", "app:a"])
        .code(2)
        .stderr_has("whose blob")
        .stderr_has("is missing")
        .stderr_has("wharf verify app");
    assert_eq!(reg.wharf(&["--json", "show", "app:a"]).code(2).json()["error"]["kind"], "blob_missing");
    // Listing still works: the entry is in index.json.
    assert_eq!(wharf_tags(&reg, "app"), vec!["a", "b"]);
    assert_eq!(before, reg.snapshot());
}

#[test]
fn a_new_repository_is_complete_before_it_is_a_layout() {
    let (reg, a, _) = app_registry();
    reg.json(&["tag", "app:a", "fresh/repo:v"]);
    let dir = reg.root.join("fresh/repo");
    for f in ["oci-layout", "index.json", "wharf-meta.json"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    assert_eq!(index_json(&dir)["manifests"][0]["digest"], a.digest.as_str());
    // A half-made repository (no oci-layout yet) is not listed and is finished by the
    // next write.
    std::fs::create_dir_all(reg.root.join("half/blobs/sha256")).unwrap();
    std::fs::write(reg.root.join("half/index.json"), br#"{"schemaVersion":2,"manifests":[]}"#).unwrap();
    let names: Vec<String> = reg.json(&["repos"])["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["app", "fresh/repo"]);
    reg.json(&["tag", "app:a", "half:v"]);
    assert_eq!(wharf_tags(&reg, "half"), vec!["v"]);
}

#[test]
fn repos_lists_nested_layouts_and_skips_what_is_not_a_repository() {
    let reg = Reg::new();
    for dir in ["team", "team/app", "a/b/c", ".hidden/x", "team/app/blobs/inner", "Bad", "not-a-repo/sub"] {
        let mut h = Hand::new(&reg.root.join(dir));
        let img = h.image(dir, None);
        h.entry(&img, OCI_MANIFEST, Some("v1"), None);
    }
    std::fs::remove_file(reg.root.join("not-a-repo/sub/oci-layout")).unwrap();
    std::fs::create_dir_all(reg.root.join("empty/dir")).unwrap();
    let names: Vec<String> = reg.json(&["repos"])["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["a/b/c", "team", "team/app"]);
    assert_eq!(wharf_tags(&reg, "a/b/c"), vec!["v1"]);
    reg.wharf(&["tags", "not-a-repo/sub"]).code(2).stderr_has("does not exist");
}

#[test]
fn version_1_sidecar_image_times_are_migrated() {
    // Regression (issue 8, defect 17): a version-1 sidecar recorded a reproducible
    // image's config time (1970) as its tag's registry time. Loading migrates it: the tag
    // is dated when this wharf first read it, the 1970 becomes image_created, and the
    // first write stores version 2.
    let (reg, a, _) = app_registry();
    age_index(&reg.root.join("app"));
    let epoch = "1970-01-01T00:00:00Z";
    let v1 = json!({
        "wharf_meta_version": 1,
        "repository": {"created": epoch, "updated": epoch},
        "tags": {"a": {"digest": a.digest, "created": epoch, "updated": epoch, "created_source": "config"}},
        "manifests": {a.digest.as_str(): {"created": epoch, "created_source": "config"}}
    });
    std::fs::write(reg.root.join("app/wharf-meta.json"), serde_json::to_vec(&v1).unwrap()).unwrap();
    let p = reg.json(&["--as-of", "2026-03-01T00:00:00Z", "purge", "--ago", "30d", "--filter", "app:a"]);
    assert_eq!(p["total_tags"], 0, "{p}");
    let side: Value = serde_json::from_slice(&std::fs::read(reg.root.join("app/wharf-meta.json")).unwrap()).unwrap();
    assert_eq!(side["wharf_meta_version"], 2);
    let t = &side["tags"]["a"];
    assert_eq!(
        (t["created"].as_str(), t["updated"].as_str()),
        (Some("2026-03-01T00:00:00Z"), Some("2026-03-01T00:00:00Z"))
    );
    assert_eq!(t["created_source"], "observed");
    assert_eq!(side["manifests"][a.digest.as_str()]["image_created"], epoch);
}

/// `-q` drops the summary of a command that changes things (and progress and notes), never
/// the data a listing was asked for, nor an error; `-v` says which root and how long.
#[test]
fn quiet_and_verbose_do_what_they_say() {
    let reg = Reg::new();
    let archive = testdata("hello.oci-archive.tar");
    let loud = reg.wharf(&["import", "--tag", "one", "--repo", "hello", archive.to_str().unwrap()]).ok();
    assert!(!loud.stdout.is_empty());
    let quiet = reg.wharf(&["-q", "import", "--tag", "two", "--repo", "hello", archive.to_str().unwrap()]).ok();
    assert_eq!(quiet.stdout, "", "a quiet import prints nothing");
    assert_eq!(quiet.stderr, "");
    let tags = reg.wharf(&["-q", "tags", "hello"]).ok();
    assert!(tags.stdout.contains("one") && tags.stdout.contains("two"), "{}", tags.stdout);
    let policies = reg.wharf(&["-q", "config"]).ok();
    assert!(!policies.stdout.is_empty(), "showing the policies is data");
    reg.wharf(&["-q", "untag", "hello:nope"]).code(2).stderr_has("does not exist");
    // --json is unaffected by -q: the report is the data.
    let v = reg.wharf(&["-q", "--json", "tag", "hello:one", "hello:three"]).ok().json();
    assert_eq!(v["target"], "hello:three", "{v:#}");
    let verbose = reg.wharf(&["-v", "tags", "hello"]).ok();
    assert!(verbose.stderr.contains(&format!("registry root: {}", reg.root.display())), "{}", verbose.stderr);
    assert!(verbose.stderr.contains("done in "), "{}", verbose.stderr);
    assert!(verbose.stdout.contains("three"), "{}", verbose.stdout);
}
