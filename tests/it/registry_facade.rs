//! pull, push, add and attach through the library (`wharf::Registry`), not the CLI,
//! against distribution 2.8: digests round-trip, the connection options (credentials, CA
//! file, plain HTTP) reach the client, and refusals are errors a caller can match by
//! `kind()` with the registry left unchanged.

use std::path::Path;

use wharf::reports::PushStatus;
use wharf::{
    AddOptions, ArtifactFile, AttachOptions, Credentials, Digest, LockOptions, PullOptions, PushOptions, Reference,
    Registry, RemoteOptions, VerifyOptions,
};

use super::common::{snapshot, testdata};
use super::registry_support::{Auth, Distribution, sha, tiny_image, write_layout};

fn r(s: &str) -> Reference {
    s.parse().unwrap()
}

/// A bare repository (push takes every tag of it).
fn repo(s: &str) -> Reference {
    Reference::parse_loose(s).unwrap()
}

fn plain() -> RemoteOptions {
    RemoteOptions { plain_http: true, ..Default::default() }
}

/// An auth file that holds no credentials, so that no test reads the user's own.
fn empty_authfile(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("auth.json");
    std::fs::write(&p, br#"{"auths":{}}"#).unwrap();
    p
}

fn tag_digest(reg: &Registry, repo: &str, tag: &str) -> Digest {
    let tags = reg.tags(&repo.parse().unwrap()).unwrap().tags;
    tags.into_iter().find(|t| t.name == tag).unwrap_or_else(|| panic!("{repo}:{tag} absent")).digest
}

/// A registry (in `dir`) holding `tiny_image(seed)` as `repo:tag`, imported through the
/// facade; returns the manifest's bytes.
fn with_tiny(reg: &Registry, dir: &Path, seed: &str, repo: &str, tag: &str) -> Vec<u8> {
    let (m, c, l) = tiny_image(seed);
    let layout = dir.join(format!("layout-{seed}"));
    write_layout(&layout, &[&c, &l], &[("application/vnd.oci.image.manifest.v1+json", &m, Some(tag))]);
    let opts = wharf::ImportOptions { repo: Some(repo.parse().unwrap()), ..Default::default() };
    reg.import(&layout, &opts).unwrap();
    m
}

#[test]
fn facade_push_then_pull_round_trips_digests_and_referrers() {
    let Some(d) = Distribution::start(Auth::None) else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = Registry::init(dir.path().join("src")).unwrap();
    let imported = src
        .import(
            testdata("hello.oci-archive.tar"),
            &wharf::ImportOptions { repo: Some("team/app".parse().unwrap()), ..Default::default() },
        )
        .unwrap();
    let app = imported.images[0].digest.clone();
    // An SBOM attached to the image, and a tagged artifact of its own (the build
    // system's staging: files and SBOMs next to the image).
    let sbom = dir.path().join("sbom.spdx.json");
    std::fs::write(&sbom, br#"{"spdxVersion":"SPDX-2.3","name":"app"}"#).unwrap();
    let attached = src
        .attach(
            &r("team/app:latest"),
            "application/spdx+json",
            &[ArtifactFile::new(&sbom).with_media_type("application/spdx+json")],
            &AttachOptions::default(),
        )
        .unwrap();
    assert!(attached.created);
    assert_eq!(attached.subject, app);
    let notes = dir.path().join("NOTES.md");
    std::fs::write(&notes, b"# build 7\n").unwrap();
    let added = src.add(&r("team/notes:7"), &[ArtifactFile::new(&notes)], &AddOptions::default()).unwrap();
    assert_eq!(added.files[0].title, "NOTES.md");
    assert_eq!(added.files[0].media_type, "application/octet-stream");
    assert_eq!(added.files[0].digest.to_string(), sha(b"# build 7\n"));

    let to = format!("{}/mirror", d.host);
    let opts = PushOptions { remote: plain(), ..Default::default() };
    // A dry run plans and sends nothing: the real push after it still uploads.
    let plan = src.push(&[repo("team/app"), r("team/notes:7")], &to, &PushOptions { dry_run: true, ..opts.clone() });
    let plan = plan.unwrap();
    assert!(plan.dry_run);
    assert!(plan.uploaded_blobs > 0, "{plan:?}");
    let pushed = src.push(&[repo("team/app"), r("team/notes:7")], &to, &opts).unwrap();
    assert_eq!(pushed.registry, d.host);
    assert_eq!(pushed.uploaded_blobs, plan.uploaded_blobs, "{pushed:?}");
    assert!(pushed.uploaded_bytes > 0);
    let got: Vec<(&str, &str, &Digest, PushStatus)> =
        pushed.tags.iter().map(|t| (t.source.as_str(), t.destination.as_str(), &t.digest, t.status)).collect();
    let app_dest = format!("{}/mirror/team/app:latest", d.host);
    let notes_dest = format!("{}/mirror/team/notes:7", d.host);
    assert_eq!(
        got,
        [
            ("team/app:latest", app_dest.as_str(), &app, PushStatus::Pushed),
            ("team/notes:7", notes_dest.as_str(), &added.digest, PushStatus::Pushed)
        ]
    );
    assert_eq!(pushed.tags[0].referrers, std::slice::from_ref(&attached.digest));
    // Pushing again sends nothing.
    let again = src.push(&[repo("team/app"), r("team/notes:7")], &to, &opts).unwrap();
    assert_eq!((again.uploaded_blobs, again.uploaded_bytes, again.manifests_pushed), (0, 0, 0), "{again:?}");
    assert!(again.tags.iter().all(|t| t.status == PushStatus::Skipped), "{again:?}");

    // Pull back into a fresh registry: the same digests, the referrer with its subject.
    let dst = Registry::init(dir.path().join("dst")).unwrap();
    let popts = PullOptions { remote: plain(), ..Default::default() };
    let p = dst.pull(&format!("{}/mirror/team/app:latest", d.host), &popts).unwrap();
    assert!(p.downloaded_blobs > 0, "{p:?}");
    assert_eq!(p.images.len(), 1);
    assert_eq!(p.images[0].digest, app);
    assert_eq!(p.images[0].repository.as_str(), "mirror/team/app");
    assert_eq!(p.images[0].referrers, std::slice::from_ref(&attached.digest));
    assert_eq!(tag_digest(&dst, "mirror/team/app", "latest"), app);
    let shown = dst.show(&r("mirror/team/app:latest")).unwrap();
    assert_eq!(shown.referrers.iter().map(|x| &x.digest).collect::<Vec<_>>(), [&attached.digest]);
    // The artifact, renamed and retagged on the way in.
    let named = PullOptions { repo: Some("staged/notes".parse().unwrap()), tags: vec!["b7".parse().unwrap()], ..popts };
    let p = dst.pull(&format!("{}/mirror/team/notes:7", d.host), &named).unwrap();
    assert_eq!(p.images[0].digest, added.digest);
    assert_eq!(tag_digest(&dst, "staged/notes", "b7"), added.digest);
    let v = dst.verify(&VerifyOptions::default()).unwrap();
    assert!(v.is_clean(), "{:?}", v.findings);
    // Pulling again downloads nothing.
    let p =
        dst.pull(&format!("{}/mirror/team/app:latest", d.host), &PullOptions { remote: plain(), ..Default::default() });
    let p = p.unwrap();
    assert_eq!(p.downloaded_blobs, 0, "{p:?}");
    assert!(p.reused_blobs > 0, "{p:?}");
}

#[test]
fn facade_pull_into_write_locked_tag_is_refused_and_root_unchanged() {
    let Some(d) = Distribution::start(Auth::None) else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = Registry::init(dir.path().join("src")).unwrap();
    with_tiny(&src, dir.path(), "one", "app", "1");
    let two = with_tiny(&src, dir.path(), "two", "app", "2");
    src.push(&[repo("app")], &d.host, &PushOptions { remote: plain(), ..Default::default() }).unwrap();

    let dst = Registry::init(dir.path().join("dst")).unwrap();
    let popts = PullOptions { remote: plain(), ..Default::default() };
    dst.pull(&format!("{}/app:1", d.host), &popts).unwrap();
    dst.lock(&r("app:1"), &LockOptions::locked()).unwrap();
    let before = snapshot(dst.root());
    let forced = PullOptions { tags: vec!["1".parse().unwrap()], force: true, ..popts };
    let e = dst.pull(&format!("{}/app:2", d.host), &forced).unwrap_err();
    assert_eq!(e.kind(), "lock_refused", "{e}");
    assert!(e.to_string().contains("write_enabled"), "{e}");
    assert_eq!(snapshot(dst.root()), before);
    // Unlocked, the same pull moves the tag.
    dst.lock(&r("app:1"), &LockOptions::unlocked()).unwrap();
    dst.pull(&format!("{}/app:2", d.host), &forced).unwrap();
    assert_eq!(tag_digest(&dst, "app", "1").to_string(), sha(&two));
}

#[test]
fn facade_push_of_read_disabled_content_is_refused_and_sends_nothing() {
    let Some(d) = Distribution::start(Auth::None) else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = Registry::init(dir.path().join("src")).unwrap();
    with_tiny(&src, dir.path(), "secret", "app", "1");
    src.lock(&r("app:1"), &LockOptions { read_enabled: Some(false), ..Default::default() }).unwrap();
    let before = snapshot(src.root());
    let opts = PushOptions { remote: plain(), ..Default::default() };
    let e = src.push(&[r("app:1")], &d.host, &opts).unwrap_err();
    assert_eq!(e.kind(), "lock_refused", "{e}");
    assert!(e.to_string().contains("read_enabled"), "{e}");
    assert_eq!(snapshot(src.root()), before);
    // Nothing reached the registry: pulling the tag fails, and leaves the puller as it was.
    let dst = Registry::init(dir.path().join("dst")).unwrap();
    let empty = snapshot(dst.root());
    let e = dst.pull(&format!("{}/app:1", d.host), &PullOptions { remote: plain(), ..Default::default() });
    let e = e.unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
    assert_eq!(snapshot(dst.root()), empty);
}

#[test]
fn facade_remote_options_carry_credentials_and_ca_file() {
    let Some(d) = Distribution::start(Auth::TlsBasic { user: "alice".into(), password: "s3cret".into() }) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = Registry::init(dir.path().join("src")).unwrap();
    let m = with_tiny(&src, dir.path(), "tls", "team/app", "1");
    let authfile = empty_authfile(dir.path());
    let ca = d.ca_file.clone().unwrap();
    let good = RemoteOptions {
        credentials: Some(Credentials::new("alice", "s3cret")),
        ca_file: Some(ca.clone()),
        authfile: Some(authfile.clone()),
        ..Default::default()
    };
    assert!(!format!("{:?}", good).contains("s3cret"), "Debug shows the password");
    let pushed = src.push(&[r("team/app:1")], &d.host, &PushOptions { remote: good.clone(), ..Default::default() });
    assert_eq!(pushed.unwrap().tags[0].digest.to_string(), sha(&m));

    let dst = Registry::init(dir.path().join("dst")).unwrap();
    let empty = snapshot(dst.root());
    let source = format!("{}/team/app:1", d.host);
    // Without credentials (and none in the auth file): refused by the registry.
    let anon = RemoteOptions { credentials: None, ..good.clone() };
    let e = dst.pull(&source, &PullOptions { remote: anon, ..Default::default() }).unwrap_err();
    assert!(matches!(e, wharf::Error::RemoteDenied { status: 401, .. }), "{e:?}");
    assert_eq!(e.kind(), "remote_denied", "{e}");
    assert!(e.to_string().contains("401"), "{e}");
    // Without the CA file the certificate is not trusted.
    let no_ca = RemoteOptions { ca_file: None, ..good.clone() };
    let e = dst.pull(&source, &PullOptions { remote: no_ca.clone(), ..Default::default() }).unwrap_err();
    assert_eq!(e.kind(), "remote", "{e}");
    assert!(e.to_string().contains("TLS"), "{e}");
    assert_eq!(snapshot(dst.root()), empty);
    // ... unless verification is off.
    let insecure = RemoteOptions { tls_insecure: true, ..no_ca };
    let p = dst.pull(&source, &PullOptions { remote: insecure, ..Default::default() }).unwrap();
    assert_eq!(p.images[0].digest.to_string(), sha(&m));
    let p = dst.pull(&source, &PullOptions { remote: good, ..Default::default() }).unwrap();
    assert_eq!(p.downloaded_blobs, 0, "{p:?}");
}

#[test]
fn facade_remote_and_artifact_usage_errors_are_typed_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::init(dir.path().join("reg")).unwrap();
    reg.import(testdata("hello.oci-archive.tar"), &Default::default()).unwrap();
    let before = snapshot(reg.root());
    let opts = PushOptions::default();
    // No server is contacted for any of these.
    let cases = [
        ("push to a URL", reg.push(&[repo("hello")], "http://127.0.0.1:9/x", &opts).map(|_| ())),
        ("push, nothing named", reg.push(&[], "127.0.0.1:9", &opts).map(|_| ())),
        (
            "push, refs and all",
            reg.push(&[repo("hello")], "127.0.0.1:9", &PushOptions { all: true, ..opts.clone() }).map(|_| ()),
        ),
        ("pull a bad tag", reg.pull("127.0.0.1:9/app:bad tag!", &PullOptions::default()).map(|_| ())),
        (
            "pull all tags of a tag",
            reg.pull("127.0.0.1:9/hello:latest", &PullOptions { all_tags: true, ..Default::default() }).map(|_| ()),
        ),
    ];
    for (what, res) in cases {
        let e = res.expect_err(what);
        assert!(matches!(e.kind(), "usage" | "bad_reference"), "{what}: {} {e}", e.kind());
    }
    let file = dir.path().join("sbom.json");
    std::fs::write(&file, b"{}").unwrap();
    let bad_type = [ArtifactFile::new(&file).with_media_type("not a media type")];
    let e = reg.attach(&r("hello:latest"), "application/spdx+json", &bad_type, &Default::default()).unwrap_err();
    assert_eq!(e.kind(), "usage", "{e}");
    assert!(e.to_string().contains("not a media type"), "{e}");
    let e = reg.attach(&r("hello:latest"), "", &[ArtifactFile::new(&file)], &Default::default()).unwrap_err();
    assert_eq!(e.kind(), "usage", "{e}");
    let by_digest: Reference = format!("hello@{}", sha(b"x")).parse().unwrap();
    let e = reg.add(&by_digest, &[ArtifactFile::new(&file)], &Default::default()).unwrap_err();
    assert_eq!(e.kind(), "usage", "{e}");
    // A tag on another manifest moves only with force; a write-locked repository takes nothing.
    let e = reg.add(&r("hello:latest"), &[ArtifactFile::new(&file)], &Default::default()).unwrap_err();
    assert_eq!(e.kind(), "tag_exists", "{e}");
    assert_eq!(snapshot(reg.root()), before);
    reg.lock(&repo("hello"), &LockOptions { write_enabled: Some(false), ..Default::default() }).unwrap();
    let locked = snapshot(reg.root());
    let e = reg.attach(&r("hello:latest"), "application/spdx+json", &[ArtifactFile::new(&file)], &Default::default());
    assert_eq!(e.unwrap_err().kind(), "lock_refused");
    let e = reg.add(&r("hello:notes"), &[ArtifactFile::new(&file)], &AddOptions { force: true, ..Default::default() });
    assert_eq!(e.unwrap_err().kind(), "lock_refused");
    assert_eq!(snapshot(reg.root()), locked);
}
