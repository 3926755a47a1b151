//! The fuzz targets' regression inputs (fuzz/README.md): every file under
//! tests/fuzz-regressions/<target>/ goes through the same `wharf::fuzzing` entry point
//! the fuzzer calls, and must give a clean `Ok` or `Err`, never a panic (the entry points
//! also assert their properties: round trips, safe repository names, purge selecting only
//! what its filters match). Inputs found by a fuzzer are named after the defect they pin;
//! the `handmade-*` inputs (tests/fuzz-regressions/make-handmade.py) are hostile inputs
//! whose refusal is pinned to a specific error below.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use wharf::fuzzing;

type Outcome = Result<String, String>;

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions").join(target);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    assert!(!out.is_empty(), "{} holds no regression inputs", dir.display());
    out
}

/// Runs every input of `target`; returns each file name with its outcome (`Err` carries
/// the error's Debug form, which names its kind). Fails listing every input that panicked.
fn run_all(target: &str, f: impl Fn(&[u8]) -> Outcome) -> Vec<(String, Outcome)> {
    let mut panicked = Vec::new();
    let mut out = Vec::new();
    for p in inputs(target) {
        let data = std::fs::read(&p).unwrap();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        match catch_unwind(AssertUnwindSafe(|| f(&data))) {
            Ok(o) => out.push((name, o)),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panicked.push(format!("{name}: {msg}"));
            }
        }
    }
    assert!(panicked.is_empty(), "{target}: inputs that panicked:\n{}", panicked.join("\n"));
    out
}

/// Each `(file, fragment)`: that input is refused, and its error's Debug form contains
/// `fragment` (the variant and the words that say what was wrong).
fn assert_refused(target: &str, got: &[(String, Outcome)], expected: &[(&str, &str)]) {
    for (file, fragment) in expected {
        let (_, outcome) = got
            .iter()
            .find(|(n, _)| n == &format!("handmade-{file}"))
            .unwrap_or_else(|| panic!("{target}: no input handmade-{file}"));
        match outcome {
            Err(e) => assert!(e.contains(fragment), "{target}/{file}: expected an error with `{fragment}`, got {e}"),
            Ok(v) => panic!("{target}/{file}: expected a refusal with `{fragment}`, got Ok({v})"),
        }
    }
}

fn debug<T: std::fmt::Debug, E: std::fmt::Debug>(r: Result<T, E>) -> Outcome {
    r.map(|v| format!("{v:?}")).map_err(|e| format!("{e:?}"))
}

#[test]
fn fuzz_regressions_import_tar() {
    let got = run_all("import_tar", |d| debug(fuzzing::import_archive(d).map(|r| r.images.len())));
    assert_refused(
        "import_tar",
        &got,
        &[
            ("empty-source", "BadInput { input: \"/"),
            ("empty-source", "the source is empty (0 bytes)"),
            ("zero-blocks", "the archive has no members (an empty tar)"),
            ("not-an-archive", "not a tar archive, nor gzip, zstd, xz or bzip2"),
            ("traversal-member.tar", "member `../evil` is a path with `..` components; refused (hostile archive)"),
            ("absolute-member.tar", "member `/etc/evil` is an absolute path; refused (hostile archive)"),
            ("index-not-json.tar", "index.json is not a valid OCI index"),
            ("manifest-json-null.tar", "BadInput {"),
            ("index-names-missing-blob.tar", "BadInput {"),
            ("gzip-of-garbage.gz", "BadInput {"),
            ("truncated-gzip.gz", "BadInput {"),
        ],
    );
}

#[test]
fn fuzz_regressions_import_layout() {
    let got = run_all("import_layout", |d| debug(fuzzing::import_layout(d).map(|r| r.images.len())));
    let ok: Vec<&str> = got.iter().filter(|(_, o)| o.is_ok()).map(|(n, _)| n.as_str()).collect();
    // A manifest declared OCI that also carries schema 1 `fsLayers` is read as what it
    // declares: the extra field is ignored, never followed (issue 8 defect 6), so it
    // imports like any OCI manifest.
    for valid in ["handmade-valid-image", "handmade-valid-index", "handmade-manifest-with-fslayers"] {
        assert!(ok.contains(&valid), "{valid} imports: {got:?}");
    }
    assert_refused(
        "import_layout",
        &got,
        &[
            ("manifest-not-json", "BadInput {"),
            ("config-missing", "BadInput {"),
            ("layer-size-lies", "SizeMismatch"),
            ("index-with-fslayers", "nothing to import: no image in the source(s)"),
        ],
    );
}

#[test]
fn fuzz_regressions_document() {
    let got = run_all("document", |d| debug(fuzzing::document(d)));
    assert_refused(
        "document",
        &got,
        &[
            ("empty-object.json", "Unrecognised"),
            ("not-json", "Json(\"expected ident"),
            ("deep-arrays.json", "Json(\"invalid type: sequence"),
            ("deep-unknown-field.json", "Unrecognised"),
            ("deep-manifests.json", "Json(\"invalid type: sequence, expected an OCI descriptor"),
            ("bad-blobsum.json", "Json("),
            ("huge-size.json", "Json("),
        ],
    );
}

#[test]
fn fuzz_regressions_reference() {
    let got = run_all("reference", |d| debug(fuzzing::reference(d)));
    assert_refused(
        "reference",
        &got,
        &[
            ("traversal", "BadRepo(\"../x\")"),
            ("host-with-port", "HasHost("),
            ("bare-repo", "Incomplete(\"alpine\")"),
            ("sha512-digest", "UnsupportedAlgorithm"),
            ("not-utf8", "BadRepo("),
            ("overlong-tag", "BadTag("),
        ],
    );
}

#[test]
fn fuzz_regressions_purge_filter() {
    let got = run_all("purge_filter", |d| debug(fuzzing::purge_filters(d).map(|r| r.total_tags)));
    assert_refused(
        "purge_filter",
        &got,
        &[
            ("no-colon", "NoColon(\"noColon\")"),
            ("bad-tag-regex", "BadRegex { filter: \"app:(\", part: \"tag\""),
            ("huge-repetition", "part: \"repository\""),
            ("ago-not-a-duration", "Duration(\"30x\")"),
            ("both-untagged-flags", "--untagged and --untagged-only exclude each other"),
            ("ago-overflow", "--ago"),
        ],
    );
}

#[test]
fn fuzz_regressions_state_file() {
    let got = run_all("state_file", |d| debug(fuzzing::state_file(d)));
    assert_refused(
        "state_file",
        &got,
        &[
            ("sidecar-not-json", "not valid JSON"),
            ("sidecar-future-version", "SidecarVersion { path: "),
            ("sidecar-wrong-shape", "not a valid sidecar"),
            ("registry-not-json", "not valid JSON"),
            ("registry-future-version", "RegistryVersion { path: "),
            ("registry-wrong-shape", "not a valid registry config"),
        ],
    );
}

/// Found by the `reference` target: `--as-of -1-11-1` (or `+10000-01-01`) was accepted and
/// recorded times that print outside RFC 3339 and cannot be given back to `--as-of`.
#[test]
fn as_of_year_outside_rfc3339_is_a_usage_error() {
    let reg = crate::common::Reg::new();
    let before = reg.snapshot();
    for bad in ["-1-11-1", "+10000-01-01"] {
        reg.wharf(&[&format!("--as-of={bad}"), "repos"]).code(2).stderr_has("is not a timestamp");
    }
    assert_eq!(reg.snapshot(), before, "a refused --as-of changes nothing");
    reg.wharf(&["--as-of=0000-01-01", "repos"]).ok();
}

#[test]
fn fuzz_regressions_remote_answer() {
    let got = run_all("remote_answer", |d| debug(fuzzing::remote_answer(d)));
    assert_refused(
        "remote_answer",
        &got,
        &[
            ("link-unterminated", "not a Link"),
            ("tag-list-wrong-types", "not a tag list"),
            ("referrers-bad-descriptor", "not a referrers answer"),
        ],
    );
}

#[test]
fn fuzz_regressions_inventory() {
    let got = run_all("inventory", |d| debug(fuzzing::inventory(d)));
    assert_refused(
        "inventory",
        &got,
        &[
            ("zeros", "wharf_inventory_version"),
            ("version-string", "wharf_inventory_version"),
            ("not-json", "wharf_inventory_version"),
            ("bad-digest", "not a valid inventory"),
        ],
    );
}
