//! cosign signatures (docs/SIGNATURES.md) against an independent implementation of the
//! spec: tests/it/cosign_py.py, on Python's `cryptography` and `pynacl`, makes keys,
//! signs `.sig` manifests, writes cosign's encrypted key and verifies what wharf signed
//! (served by distribution 2.8). Under CI=true a missing Python module fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::common::{Reg, in_ci, testdata};
use super::registry_support::{Auth, Distribution};

/// `python3` with `cryptography` and `nacl`, or `None` (with a note) outside CI.
fn python() -> Option<PathBuf> {
    let ok = Command::new("python3")
        .args(["-c", "import cryptography, nacl"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return Some(PathBuf::from("python3"));
    }
    if in_ci() {
        panic!(
            "python3 with cryptography and pynacl is required under CI=true (apt-get install -y python3-cryptography python3-nacl)"
        );
    }
    eprintln!("NOT RUN: python3 with cryptography and pynacl is not installed; this signature test did not run");
    None
}

/// Runs the Python side; panics with its output unless it exits `want`.
#[track_caller]
fn py(args: &[&str], want: i32) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/cosign_py.py");
    let o = Command::new("python3").arg(script).args(args).output().expect("python3 runs");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        o.status.code(),
        Some(want),
        "cosign_py.py {args:?}\nstdout:\n{out}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A registry holding `hello:latest`, its digest, and a directory for keys and layouts.
fn hello() -> (Reg, String, tempfile::TempDir) {
    let reg = Reg::new();
    reg.wharf(&["import", s(&testdata("hello.oci-archive.tar"))]).ok();
    let digest = tag_digest(&reg, "hello", "latest");
    (reg, digest, tempfile::tempdir().unwrap())
}

fn tag_digest(reg: &Reg, repo: &str, tag: &str) -> String {
    let v = reg.json(&["tags", repo]);
    v["tags"].as_array().unwrap().iter().find(|t| t["name"] == tag).unwrap_or_else(|| panic!("{repo}:{tag} absent"))
        ["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

fn keygen(dir: &Path, alg: &str) -> (PathBuf, PathBuf) {
    py(&["keygen", alg, s(dir)], 0);
    (dir.join(format!("{alg}.key")), dir.join(format!("{alg}.pub")))
}

/// Python signs `image` (as `identity`) into a layout; wharf imports it into `hello`.
fn python_sign_into(reg: &Reg, key: &Path, image: &str, identity: &str, dir: &Path, extra: &[&str]) {
    let out = dir.join(format!("sig-{}", rand_name()));
    let mut args = vec!["sign-layout", s(key), image, identity, s(&out)];
    args.extend_from_slice(extra);
    py(&args, 0);
    reg.wharf(&["import", "--repo", "hello", "--force", s(&out)]).ok();
}

fn rand_name() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}

/// verify --key PUB --require-signed: its exit code and the (kind, message) of each
/// signature finding.
fn verify_signed(reg: &Reg, public: &Path) -> (i32, Vec<(String, String)>) {
    let r = reg.wharf(&["--json", "verify", "--key", s(public), "--require-signed"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    let kinds = ["unsigned", "bad_signature", "wrong_digest", "identity_mismatch"];
    let found = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| kinds.contains(&f["kind"].as_str().unwrap()))
        .map(|f| (f["kind"].as_str().unwrap().to_string(), f["message"].as_str().unwrap().to_string()))
        .collect();
    (r.code, found)
}

#[test]
fn python_signed_p256_rsa_ed25519_verify_in_wharf() {
    if python().is_none() {
        return;
    }
    for alg in ["p256", "rsa", "ed25519"] {
        let (reg, image, dir) = hello();
        let (key, public) = keygen(dir.path(), alg);
        let (code, found) = verify_signed(&reg, &public);
        assert_eq!((code, found.len()), (1, 1), "{alg}: unsigned before: {found:?}");
        assert_eq!(found[0].0, "unsigned", "{alg}");
        python_sign_into(&reg, &key, &image, "hello", dir.path(), &[]);
        assert_eq!(verify_signed(&reg, &public), (0, vec![]), "{alg}: python's signature verifies in wharf");
        // Another key of the same algorithm does not.
        let other = tempfile::tempdir().unwrap();
        let (_, other_pub) = keygen(other.path(), alg);
        let (code, found) = verify_signed(&reg, &other_pub);
        assert_eq!(code, 1, "{alg}");
        assert_eq!(found[0].0, "bad_signature", "{alg}: {found:?}");
    }
}

#[test]
fn unsigned_is_info_without_require_signed() {
    if python().is_none() {
        return;
    }
    let (reg, _, dir) = hello();
    let (_, public) = keygen(dir.path(), "p256");
    let v = reg.json(&["verify", "--key", s(&public)]);
    let f = &v["findings"].as_array().unwrap()[0];
    assert_eq!((f["kind"].as_str(), f["severity"].as_str()), (Some("unsigned"), Some("info")), "{v}");
    assert_eq!(v["counts"]["errors"], 0, "{v}");
}

#[test]
fn wharf_signed_pushed_to_distribution_verifies_in_python_and_pulls_through_the_gate() {
    if python().is_none() {
        return;
    }
    let Some(d) = Distribution::start(Auth::None) else { return };
    let (reg, image, dir) = hello();
    let (key, public) = keygen(dir.path(), "p256");
    let v = reg.json(&["sign", "hello:latest", "--key", s(&key), "--annotation", "build=42"]);
    assert_eq!(v["signed"][0]["digest"], image.as_str(), "{v}");
    assert_eq!(v["signed"][0]["signatures"], 1, "{v}");
    // Signing again with the same key adds nothing (ECDSA here is deterministic).
    let again = reg.json(&["sign", "hello:latest", "--key", s(&key), "--annotation", "build=42"]);
    assert_eq!(again["signed"][0]["created"], false, "{again}");
    reg.wharf(&["push", "hello", "--to", &d.host, "--plain-http"]).ok();
    let out = py(&["verify-http", &d.host, "hello", &image, s(&public)], 0);
    assert!(out.starts_with("verified"), "{out}");
    // Python refuses it under another key: its check is a real one.
    let other = tempfile::tempdir().unwrap();
    let (_, other_pub) = keygen(other.path(), "p256");
    py(&["verify-http", &d.host, "hello", &image, s(&other_pub)], 1);
    // The .sig comes with the pull; the gate lets it in; verify --key passes.
    let mirror = Reg::new();
    mirror.wharf(&["pull", &format!("{}/hello:latest", d.host), "--plain-http", "--require-signed", s(&public)]).ok();
    assert_eq!(verify_signed(&mirror, &public), (0, vec![]));
    // With another key the gate refuses, and the registry is byte-identical.
    let strict = Reg::new();
    let before = strict.snapshot();
    let r =
        strict.wharf(&["pull", &format!("{}/hello:latest", d.host), "--plain-http", "--require-signed", s(&other_pub)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no valid signature"), "{}", r.stderr);
    assert_eq!(strict.snapshot(), before, "a refused pull writes nothing");
}

#[test]
fn python_encrypted_cosign_key_signs_and_a_wrong_passphrase_is_clear() {
    if python().is_none() {
        return;
    }
    let (reg, _, dir) = hello();
    let (key, public) = keygen(dir.path(), "p256");
    let enc = dir.path().join("cosign.key");
    py(&["encrypt", s(&key), "s3cret", s(&enc)], 0);
    let before = reg.snapshot();
    let bad = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["--root", s(&reg.root), "sign", "hello:latest", "--key", s(&enc)])
        .env("COSIGN_PASSWORD", "wrong")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("passphrase does not decrypt"), "{err}");
    assert_eq!(reg.snapshot(), before, "a refused sign writes nothing");
    let none = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["--root", s(&reg.root), "sign", "hello:latest", "--key", s(&enc)])
        .env_remove("COSIGN_PASSWORD")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("set COSIGN_PASSWORD"));
    let good = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["--root", s(&reg.root), "sign", "hello:latest", "--key", s(&enc)])
        .env("COSIGN_PASSWORD", "s3cret")
        .output()
        .unwrap();
    assert_eq!(good.status.code(), Some(0), "{}", String::from_utf8_lossy(&good.stderr));
    assert_eq!(verify_signed(&reg, &public), (0, vec![]));
}

#[test]
fn attack_signature_of_another_image_copied_onto_this_sig() {
    if python().is_none() {
        return;
    }
    let (reg, image, dir) = hello();
    let (key, public) = keygen(dir.path(), "p256");
    let other = format!("sha256:{}", "ab".repeat(32));
    python_sign_into(&reg, &key, &image, "hello", dir.path(), &["--payload-digest", &other]);
    let (code, found) = verify_signed(&reg, &public);
    assert_eq!(code, 1);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "wrong_digest");
    assert!(found[0].1.contains(&other), "{found:?}");
}

#[test]
fn attack_right_digest_signed_by_another_key() {
    if python().is_none() {
        return;
    }
    let (reg, image, dir) = hello();
    let (_, public) = keygen(dir.path(), "p256");
    let mallory = tempfile::tempdir().unwrap();
    let (mallory_key, _) = keygen(mallory.path(), "p256");
    python_sign_into(&reg, &mallory_key, &image, "hello", dir.path(), &[]);
    let (code, found) = verify_signed(&reg, &public);
    assert_eq!(code, 1);
    assert_eq!(found[0].0, "bad_signature", "{found:?}");
    assert!(found[0].1.contains("layers[0]"), "names the layer: {found:?}");
}

#[test]
fn attack_truncated_or_garbage_signature() {
    if python().is_none() {
        return;
    }
    for kind in ["truncated", "garbage"] {
        let (reg, image, dir) = hello();
        let (key, public) = keygen(dir.path(), "p256");
        python_sign_into(&reg, &key, &image, "hello", dir.path(), &["--sig", kind]);
        let (code, found) = verify_signed(&reg, &public);
        assert_eq!(code, 1, "{kind}");
        assert_eq!(found[0].0, "bad_signature", "{kind}: {found:?}");
    }
}

#[test]
fn attack_sig_whose_payload_or_subject_names_another_repository_or_image() {
    if python().is_none() {
        return;
    }
    let (reg, image, dir) = hello();
    let (key, public) = keygen(dir.path(), "p256");
    python_sign_into(&reg, &key, &image, "127.0.0.1:5000/other/repo", dir.path(), &[]);
    let (code, found) = verify_signed(&reg, &public);
    assert_eq!(code, 1);
    assert_eq!(found[0].0, "identity_mismatch", "{found:?}");
    assert!(found[0].1.contains("other/repo"), "{found:?}");
    // A valid payload for this image, but the manifest's subject is another manifest.
    let (reg, image, dir) = hello();
    let (key, public) = keygen(dir.path(), "p256");
    let other = format!("sha256:{}", "cd".repeat(32));
    python_sign_into(&reg, &key, &image, "hello", dir.path(), &["--subject", &other]);
    let (code, found) = verify_signed(&reg, &public);
    assert_eq!(code, 1);
    assert_eq!(found[0].0, "wrong_digest", "{found:?}");
}

#[test]
fn attack_huge_payload_layer_is_capped() {
    if python().is_none() {
        return;
    }
    let (reg, image, dir) = hello();
    let (key, public) = keygen(dir.path(), "p256");
    // A validly signed payload of 200 KiB: over the 64 KiB cap, never read.
    python_sign_into(&reg, &key, &image, "hello", dir.path(), &["--pad", "204800"]);
    let (code, found) = verify_signed(&reg, &public);
    assert_eq!(code, 1);
    assert_eq!(found[0].0, "bad_signature", "{found:?}");
    assert!(found[0].1.contains("over the limit"), "{found:?}");
}

#[test]
fn attack_key_file_that_is_not_a_key() {
    if python().is_none() {
        return;
    }
    let (reg, _, dir) = hello();
    let (key, public) = keygen(dir.path(), "p256");
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "this is not a key\n").unwrap();
    let before = reg.snapshot();
    for args in [
        vec!["verify", "--key", s(&junk)],
        vec!["verify", "--key", s(&key)],
        vec!["sign", "hello:latest", "--key", s(&junk)],
        vec!["sign", "hello:latest", "--key", s(&public)],
    ] {
        let r = reg.wharf(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("key") || r.stderr.contains("PEM"), "{args:?}: {}", r.stderr);
    }
    assert_eq!(reg.snapshot(), before);
}

#[test]
fn gate_refuses_unsigned_import_byte_identical_and_admits_signed() {
    if python().is_none() {
        return;
    }
    let (reg, image, dir) = hello();
    let (key, public) = keygen(dir.path(), "p256");
    let unsigned = dir.path().join("unsigned.tar");
    reg.wharf(&["export", "hello:latest", "-o", s(&unsigned)]).ok();
    reg.wharf(&["sign", "hello:latest", "--key", s(&key)]).ok();
    let signed = dir.path().join("signed.tar");
    let sig_ref = format!("hello:sha256-{}.sig", &image[7..]);
    reg.wharf(&["export", "hello:latest", &sig_ref, "-o", s(&signed)]).ok();

    let target = Reg::new();
    target.wharf(&["import", s(&testdata("hello.oci-archive.tar")), "--repo", "other"]).ok();
    let before = target.snapshot();
    let r = target.wharf(&["import", s(&unsigned), "--require-signed", s(&public)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no valid signature"), "{}", r.stderr);
    assert_eq!(target.snapshot(), before, "the refused import left the root byte-identical");
    // Signed by another key: refused the same way.
    let other = tempfile::tempdir().unwrap();
    let (_, other_pub) = keygen(other.path(), "p256");
    target.wharf(&["import", s(&signed), "--require-signed", s(&other_pub)]).code(2);
    assert_eq!(target.snapshot(), before);
    // The standing policy does the same without the flag.
    target.wharf(&["config", "signatures", "--require", "--key", s(&public), "--scope", "hel.*"]).ok();
    let policy = target.snapshot();
    target.wharf(&["import", s(&unsigned)]).code(2);
    assert_eq!(target.snapshot(), policy);
    // Out of scope: the policy does not apply.
    target.wharf(&["import", s(&unsigned), "--repo", "elsewhere"]).ok();
    // Signed by the key: admitted.
    target.wharf(&["import", s(&signed), "--require-signed", s(&public)]).ok();
    assert_eq!(tag_digest(&target, "hello", "latest"), image);
    target.wharf(&["config", "signatures", "--disable"]).ok();
    let v = target.json(&["config"]);
    assert_eq!(v["signatures"]["enabled"], false, "{v}");
}

#[test]
fn containers_policy_json_for_pull() {
    if python().is_none() {
        return;
    }
    let Some(d) = Distribution::start(Auth::None) else { return };
    let (reg, image, dir) = hello();
    let (key, public) = keygen(dir.path(), "p256");
    reg.wharf(&["sign", "hello:latest", "--key", s(&key)]).ok();
    reg.wharf(&["push", "hello", "--to", &d.host, "--plain-http"]).ok();
    let src = format!("{}/hello:latest", d.host);
    let write = |name: &str, body: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    let key_path = public.display().to_string();
    let key_data = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(&public).unwrap())
    };
    // wharf signs with the repository as the identity: matchRepository does not hold
    // (the pulled repository is HOST/hello), nor does the default rule; an identity rule
    // is really applied.
    let cases: Vec<(&str, String, i32)> = vec![
        ("accept", r#"{"default":[{"type":"insecureAcceptAnything"}]}"#.to_string(), 0),
        ("reject", r#"{"default":[{"type":"reject"}]}"#.to_string(), 2),
        (
            "scoped reject",
            format!(
                r#"{{"default":[{{"type":"insecureAcceptAnything"}}],"transports":{{"docker":{{"{}/hello":[{{"type":"reject"}}]}}}}}}"#,
                d.host
            ),
            2,
        ),
        (
            "keyPath, default identity",
            format!(r#"{{"default":[{{"type":"sigstoreSigned","keyPath":"{key_path}"}}]}}"#),
            2,
        ),
        (
            "keyData, matchRepository",
            format!(
                r#"{{"default":[{{"type":"sigstoreSigned","keyData":"{key_data}","signedIdentity":{{"type":"matchRepository"}}}}]}}"#
            ),
            2,
        ),
        ("signedBy", r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k"}]}"#.to_string(), 2),
    ];
    for (name, body, want) in cases {
        let file = write(&format!("{}.json", name.replace([' ', ','], "-")), body);
        let target = Reg::new();
        let before = target.snapshot();
        let r = target.wharf(&["pull", &src, "--plain-http", "--policy", s(&file)]);
        assert_eq!(r.code, want, "{name}: {}", r.stderr);
        if want == 2 {
            assert_eq!(target.snapshot(), before, "{name}: refused, nothing written");
        }
    }
    // Python signs with the pulled reference as the identity: matchRepository and the
    // default rule (matchRepoDigestOrExact, by tag: HOST/hello:latest) both hold.
    let other = Reg::new();
    other.wharf(&["import", s(&testdata("hello.oci-archive.tar"))]).ok();
    let identity = format!("{}/hello:latest", d.host);
    let out = dir.path().join("pysig");
    py(&["sign-layout", s(&key), &image, &identity, s(&out)], 0);
    other.wharf(&["import", "--repo", "hello", s(&out)]).ok();
    other.wharf(&["push", "hello", "--to", &format!("{}/py", d.host), "--plain-http"]).ok();
    let py_src = format!("{}/py/hello:latest", d.host);
    let py_identity = format!("{}/py/hello:latest", d.host);
    let _ = py_identity;
    for (name, rule) in [("default", ""), ("matchExact", r#","signedIdentity":{"type":"matchExact"}"#)] {
        let file = write(
            &format!("py-{name}.json"),
            format!(r#"{{"default":[{{"type":"sigstoreSigned","keyPath":"{key_path}"{rule}}}]}}"#),
        );
        let target = Reg::new();
        let r = target.wharf(&["pull", &py_src, "--plain-http", "--policy", s(&file)]);
        // Signed as HOST/hello:latest, pulled as HOST/py/hello:latest: refused.
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
    }
    // Pulled from the repository it was signed for: accepted.
    let file = write("py-ok.json", format!(r#"{{"default":[{{"type":"sigstoreSigned","keyPath":"{key_path}"}}]}}"#));
    other.wharf(&["push", "hello", "--to", &d.host, "--plain-http"]).ok();
    let target = Reg::new();
    target.wharf(&["pull", &src, "--plain-http", "--policy", s(&file)]).ok();
}
