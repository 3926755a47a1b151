//! Snapshots of whole outputs: every local command's human and `--json` output on the
//! shipped testdata, run in one fixed story with fixed times (`--as-of`), with the
//! temporary root filtered out. A change to any output shows as a diff of the whole
//! document, not as a substring that happened to survive.
//!
//! To accept an intended change: `INSTA_UPDATE=always cargo test --test it snapshots`,
//! then review the diff of `tests/it/snapshots/` before committing it.

use crate::common::{Reg, testdata};

/// One command's run: the command line, the exit code and both streams, as one text.
fn transcript(reg: &Reg, args: &[&str]) -> String {
    let run = reg.wharf(args);
    format!("$ wharf {}\n[exit {}]\n--- stdout\n{}--- stderr\n{}", args.join(" "), run.code, run.stdout, run.stderr)
}

/// Runs `args` twice, for human and for `--json` output, and snapshots both under `name`.
fn snap(reg: &Reg, name: &str, args: &[&str]) {
    let mut json = vec!["--json"];
    json.extend_from_slice(args);
    let text = format!("{}\n{}", transcript(reg, args), transcript(reg, &json));
    let root = regex_escape(&reg.dir.path().display().to_string());
    insta::with_settings!({
        filters => vec![
            (root.as_str(), "[TMP]"),
            // Timings and what depends on the machine (verify's rate and thread count).
            (r"in [0-9.]+s \([^)]*\)", "in [TIME] ([RATE], [THREADS])"),
            (r#""seconds": [0-9.eE+-]+"#, r#""seconds": [TIME]"#),
            (r#""bytes_per_second": [0-9.eE+-]+"#, r#""bytes_per_second": [RATE]"#),
            (r#""threads": [0-9]+"#, r#""threads": [THREADS]"#),
            (r#""jobs": [0-9]+"#, r#""jobs": [THREADS]"#),
        ],
        prepend_module_to_snapshot => false,
        snapshot_path => "snapshots",
    }, {
        insta::assert_snapshot!(name, text);
    });
}

/// Runs a command whose output is not snapshotted (a step of the story), expecting success.
fn step(reg: &Reg, args: &[&str]) {
    reg.wharf(args).ok();
}

fn regex_escape(s: &str) -> String {
    s.chars().fold(String::new(), |mut out, c| {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

const T0: &str = "2026-01-01T00:00:00Z";
const T1: &str = "2026-01-02T00:00:00Z";
const T2: &str = "2026-03-01T00:00:00Z";

/// The read-only commands first, on a registry of the two shipped samples; then the
/// writes, each previewed (`--dry-run`) where it has one. Writes run once (human), and
/// the state they leave is snapshotted by the listing that follows.
#[test]
fn every_local_command_human_and_json() {
    let reg = Reg::new();
    let docker = testdata("hello.docker-archive.tar");
    let oci = testdata("hello.oci-archive.tar");
    let notes = reg.dir.path().join("notes.txt");
    std::fs::write(&notes, b"release notes\n").unwrap();
    let notes = notes.to_str().unwrap();

    step(&reg, &["--as-of", T0, "import", docker.to_str().unwrap()]);
    step(&reg, &["--as-of", T0, "import", oci.to_str().unwrap(), "--repo", "team/app", "--tag", "1.0", "--tag", "1.1"]);
    step(&reg, &["--as-of", T0, "add", "files/notes:1", notes]);
    step(&reg, &["--as-of", T0, "attach", "team/app:1.0", notes, "--artifact-type", "text/plain"]);

    snap(&reg, "repos", &["--as-of", T1, "repos"]);
    snap(&reg, "tags", &["--as-of", T1, "tags", "team/app"]);
    snap(&reg, "manifests", &["--as-of", T1, "manifests", "team/app"]);
    snap(&reg, "show", &["--as-of", T1, "show", "team/app:1.0"]);
    snap(&reg, "show_artifact", &["--as-of", T1, "show", "files/notes:1"]);
    snap(&reg, "referrers", &["--as-of", T1, "referrers", "team/app:1.0"]);
    snap(&reg, "verify", &["--as-of", T1, "verify"]);
    snap(&reg, "inventory", &["--as-of", T1, "inventory"]);
    snap(&reg, "config_show", &["--as-of", T1, "config"]);

    snap(&reg, "tag_refused", &["--as-of", T1, "tag", "library/hello:latest", "team/app:1.1"]);
    step(&reg, &["--as-of", T1, "tag", "team/app:1.0", "team/app:stable"]);
    step(&reg, &["--as-of", T1, "lock", "team/app:stable"]);
    snap(&reg, "untag_locked", &["--as-of", T1, "untag", "team/app:stable"]);
    snap(&reg, "delete_dry", &["--as-of", T1, "delete", "library/hello:latest", "--dry-run"]);
    snap(&reg, "purge_dry", &["--as-of", T2, "purge", "--filter", "team/.*:.*", "--ago", "1d", "--dry-run"]);
    step(&reg, &["--as-of", T1, "config", "soft-delete", "--days", "7"]);
    step(&reg, &["--as-of", T1, "untag", "team/app:1.1"]);
    step(&reg, &["--as-of", T1, "delete", "files/notes:1"]);
    snap(&reg, "deleted", &["--as-of", T1, "deleted"]);
    snap(&reg, "tags_after", &["--as-of", T1, "tags", "team/app"]);
    snap(&reg, "sweep_dry", &["--as-of", T2, "sweep", "--dry-run"]);
    snap(&reg, "gc_dry", &["--as-of", T2, "gc", "--dry-run", "--grace", "0s"]);
    snap(&reg, "errors_bad_reference", &["--as-of", T1, "show", "Team/App:1.0"]);
    snap(&reg, "errors_not_found", &["--as-of", T1, "show", "team/app:9.9"]);
}
