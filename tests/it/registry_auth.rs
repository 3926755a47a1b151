//! pull and push against distribution 2.8 with TLS from a test CA and htpasswd basic
//! auth, and with Bearer tokens from a token server in the test; credential lookup
//! through auth files; the 401 and TLS error messages.

use base64::Engine as _;

use super::common::{Reg, run_tool, tool};
use super::registry_support::{Auth, Distribution, sha, tiny_image, write_layout};

fn image_reg(seed: &str, repo: &str) -> (Reg, Vec<u8>) {
    let reg = Reg::new();
    let (m, c, l) = tiny_image(seed);
    let dir = tempfile::tempdir().unwrap();
    write_layout(dir.path(), &[&c, &l], &[("application/vnd.oci.image.manifest.v1+json", &m, Some("1"))]);
    reg.wharf(&["import", dir.path().to_str().unwrap(), "--repo", repo]).ok();
    (reg, m)
}

#[test]
fn tls_basic_auth_push_and_pull() {
    let Some(d) = Distribution::start(Auth::TlsBasic { user: "alice".into(), password: "s3cret".into() }) else {
        return;
    };
    let ca = d.ca_file.as_ref().unwrap().to_str().unwrap().to_string();
    let (reg, m) = image_reg("tls", "team/app");
    let v = reg.json(&["push", "team/app", "--to", &d.host, "--ca-file", &ca, "--creds", "alice:s3cret"]);
    assert_eq!(v["tags"][0]["status"], "pushed", "{v}");
    assert_eq!(v["tags"][0]["digest"], sha(&m));
    if let Some(skopeo) = tool("skopeo") {
        let (code, out, err) = run_tool(
            &skopeo,
            &[
                "inspect",
                "--raw",
                "--tls-verify=false",
                "--creds",
                "alice:s3cret",
                &format!("docker://{}/team/app:1", d.host),
            ],
        );
        assert_eq!(code, 0, "{err}");
        assert_eq!(sha(out.as_bytes()), sha(&m));
    }
    // Credentials from an auth file ($REGISTRY_AUTH_FILE), TLS checked against the CA.
    let dir = tempfile::tempdir().unwrap();
    let auth = dir.path().join("auth.json");
    let enc = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
    std::fs::write(&auth, format!(r#"{{"auths":{{"{}":{{"auth":"{enc}"}}}}}}"#, d.host)).unwrap();
    let back = Reg::new();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["--root", back.root.to_str().unwrap(), "--json", "pull", "--ca-file", &ca])
        .arg(format!("{}/team/app:1", d.host))
        .env("REGISTRY_AUTH_FILE", &auth)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // --authfile and --tls-verify=false work too.
    let other = Reg::new();
    other.json(&[
        "pull",
        "--tls-verify=false",
        "--authfile",
        auth.to_str().unwrap(),
        &format!("{}/team/app:1", d.host),
    ]);
    other.wharf(&["verify"]).ok();
}

#[test]
fn unauthorized_names_registry_and_where_credentials_were_looked_for() {
    let Some(d) = Distribution::start(Auth::TlsBasic { user: "alice".into(), password: "s3cret".into() }) else {
        return;
    };
    let ca = d.ca_file.as_ref().unwrap().to_str().unwrap().to_string();
    let (reg, _) = image_reg("denied", "app");
    let before = reg.snapshot();
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["--root", reg.root.to_str().unwrap(), "push", "app", "--to", &d.host, "--ca-file", &ca])
        .env("HOME", home.path())
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("registry {}", d.host)) && err.contains("401"), "{err}");
    assert!(err.contains("$REGISTRY_AUTH_FILE") && err.contains(".docker/config.json"), "{err}");
    assert!(err.contains("--creds"), "{err}");
    // Wrong credentials: the message says where they came from.
    let r = reg.wharf(&["push", "app", "--to", &d.host, "--ca-file", &ca, "--creds", "alice:wrong"]).code(2);
    assert!(r.stderr.contains("401") && r.stderr.contains("--creds"), "{}", r.stderr);
    // Pull with bad credentials leaves the root as it was.
    let r = reg.wharf(&["pull", "--ca-file", &ca, "--creds", "alice:wrong", &format!("{}/app:1", d.host)]).code(2);
    assert!(r.stderr.contains(&d.host), "{}", r.stderr);
    assert_eq!(reg.snapshot(), before);
}

#[test]
fn tls_failure_names_ca_file_and_tls_verify() {
    let Some(d) = Distribution::start(Auth::TlsBasic { user: "alice".into(), password: "s3cret".into() }) else {
        return;
    };
    let reg = Reg::new();
    let before = reg.snapshot();
    let r = reg.wharf(&["pull", "--creds", "alice:s3cret", &format!("{}/app:1", d.host)]).code(2);
    assert!(
        r.stderr.contains("TLS") && r.stderr.contains("--ca-file") && r.stderr.contains("--tls-verify=false"),
        "{}",
        r.stderr
    );
    assert_eq!(reg.snapshot(), before);
}

#[test]
fn bearer_token_flow_against_distribution() {
    let Some(d) = Distribution::start(Auth::Token { user: "bob".into(), password: "tok-pw".into() }) else {
        return;
    };
    let (reg, m) = image_reg("bearer", "team/tok");
    let v = reg.json(&["push", "team/tok", "--to", &d.host, "--plain-http", "--creds", "bob:tok-pw"]);
    assert_eq!(v["tags"][0]["status"], "pushed", "{v}\n{}", d.log());
    let back = Reg::new();
    back.json(&["pull", "--plain-http", "--creds", "bob:tok-pw", &format!("{}/team/tok:1", d.host)]);
    let t = back.json(&["tags", "team/tok"]);
    assert_eq!(t["tags"][0]["digest"], sha(&m));
    // Without credentials the token server refuses: 401, naming the registry.
    let home = tempfile::tempdir().unwrap();
    let missing = home.path().join("none.json");
    let r = back
        .wharf(&["pull", "--plain-http", "--authfile", missing.to_str().unwrap(), &format!("{}/team/tok:1", d.host)])
        .code(2);
    assert!(r.stderr.contains("--authfile") && r.stderr.contains("no such file"), "{}", r.stderr);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["--root", back.root.to_str().unwrap(), "pull", "--plain-http", "--force"])
        .arg(format!("{}/team/tok:1", d.host))
        .env("HOME", home.path())
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("registry {}", d.host)) && err.contains("401"), "{err}");
}

/// The issue's acceptance run: several repositories (multi-arch indexes, Docker
/// manifests, images with referrers) to distribution over TLS with basic auth; skopeo
/// reads every tag with wharf's digest; pulling everything back into a fresh root gives
/// the same tags and digests, the referrers, a clean verify, and layouts skopeo and umoci
/// read.
#[test]
fn tls_basic_round_trip_of_a_whole_registry() {
    let Some(src) = super::lifecycle_util::with_testrepo() else { return };
    let Some(d) = Distribution::start(Auth::TlsBasic { user: "alice".into(), password: "s3cret".into() }) else {
        return;
    };
    let ca = d.ca_file.as_ref().unwrap().to_str().unwrap().to_string();
    let (m, c, l) = tiny_image("plain-image");
    let dir = tempfile::tempdir().unwrap();
    write_layout(dir.path(), &[&c, &l], &[("application/vnd.oci.image.manifest.v1+json", &m, Some("1.0"))]);
    src.wharf(&["import", dir.path().to_str().unwrap(), "--repo", "team/app"]).ok();
    let creds = ["--ca-file", &ca, "--creds", "alice:s3cret"];
    let mut args = vec!["push", "--all", "--to", &d.host];
    args.extend_from_slice(&creds);
    let v = src.json(&args);
    assert!(v["tags"].as_array().unwrap().iter().all(|t| t["status"] != "skipped"), "{v}");
    let tags_of = |reg: &Reg, repo: &str| -> Vec<(String, String)> {
        let t = reg.json(&["tags", repo]);
        t["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["name"].as_str().unwrap().to_string(), t["digest"].as_str().unwrap().to_string()))
            .filter(|(n, _)| !(n.starts_with("sha256-") && n.len() == 71))
            .collect()
    };
    let want_testrepo = tags_of(&src, "testrepo");
    if let Some(skopeo) = tool("skopeo") {
        for (t, digest) in want_testrepo.iter().chain(tags_of(&src, "team/app").iter()) {
            let repo = if t == "1.0" { "team/app" } else { "testrepo" };
            let (code, out, err) = run_tool(
                &skopeo,
                &[
                    "inspect",
                    "--raw",
                    "--tls-verify=false",
                    "--creds",
                    "alice:s3cret",
                    &format!("docker://{}/{repo}:{t}", d.host),
                ],
            );
            assert_eq!(code, 0, "{t}: {err}");
            assert_eq!(&sha(out.as_bytes()), digest, "{t}");
        }
    }
    // Everything back into a fresh root.
    let dst = Reg::new();
    let mut args = vec!["pull", "--all-tags"];
    args.extend_from_slice(&creds);
    let a = format!("{}/testrepo", d.host);
    let b = format!("{}/team/app", d.host);
    args.push(&a);
    args.push(&b);
    dst.json(&args);
    assert_eq!(tags_of(&dst, "testrepo"), want_testrepo);
    assert_eq!(tags_of(&dst, "team/app"), tags_of(&src, "team/app"));
    for t in ["v1", "v2", "v3"] {
        let r = |reg: &Reg| -> Vec<String> {
            let v = reg.json(&["referrers", &format!("testrepo:{t}")]);
            v["referrers"].as_array().unwrap().iter().map(|r| r["digest"].as_str().unwrap().to_string()).collect()
        };
        assert_eq!(r(&dst), r(&src), "referrers of {t}");
    }
    dst.wharf(&["verify"]).ok();
    if let Some(skopeo) = tool("skopeo") {
        let (code, _, err) =
            run_tool(&skopeo, &["inspect", &format!("oci:{}:1.0", dst.root.join("team/app").display())]);
        assert_eq!(code, 0, "{err}");
    }
    if let Some(umoci) = tool("umoci") {
        let (code, _, err) =
            run_tool(&umoci, &["stat", "--image", &format!("{}:1.0", dst.root.join("team/app").display())]);
        assert_eq!(code, 0, "{err}");
    }
    // A second push uploads nothing.
    let mut args = vec!["push", "--all", "--to", &d.host];
    args.extend_from_slice(&creds);
    let again = src.json(&args);
    assert_eq!(again["uploaded_bytes"], 0, "{again}");
}

/// `--password-stdin`, and a `credHelpers` entry run as `docker-credential-NAME get`
/// (found through ~/.docker/config.json when nothing else is given).
#[test]
fn credentials_from_stdin_and_from_a_helper() {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let Some(d) = Distribution::start(Auth::TlsBasic { user: "carol".into(), password: "pw-9".into() }) else {
        return;
    };
    let ca = d.ca_file.as_ref().unwrap().to_str().unwrap().to_string();
    let (reg, m) = image_reg("helpers", "app");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["--root", reg.root.to_str().unwrap(), "--json", "push", "app", "--to", &d.host, "--ca-file", &ca])
        .args(["--creds", "carol", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"pw-9\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A helper program on PATH, named by credHelpers in ~/.docker/config.json.
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-wharftest");
    let seen = home.path().join("helper-saw");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\ncat > {}\necho '{{\"ServerURL\":\"x\",\"Username\":\"carol\",\"Secret\":\"pw-9\"}}'\n",
            seen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(home.path().join(".docker")).unwrap();
    std::fs::write(
        home.path().join(".docker/config.json"),
        format!(r#"{{"credHelpers":{{"{}":"wharftest"}}}}"#, d.host),
    )
    .unwrap();
    let back = Reg::new();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["--root", back.root.to_str().unwrap(), "--json", "pull", "--ca-file", &ca])
        .arg(format!("{}/app:1", d.host))
        .env("HOME", home.path())
        .env("PATH", path)
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), d.host, "the helper is asked for the host");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["images"][0]["digest"], sha(&m));
}
