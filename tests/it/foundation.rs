//! The foundation commands: init, repos, tags, tag, untag, on registries wharf made and
//! on layouts other tools made.

use crate::common::*;

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
    assert_eq!(u["remaining_tags"], serde_json::json!([]));
    assert!(wharf_tags(&reg, "team/app").is_empty());
}

#[test]
fn bad_reference_is_usage_error_and_changes_nothing() {
    let reg = Reg::new();
    let before = reg.snapshot();
    reg.wharf(&["untag", "Bad:1"]).code(2).stderr_has("is not a repository name");
    reg.wharf(&["untag", "ok:-x"]).code(2).stderr_has("is not a tag");
    assert_eq!(before, reg.snapshot());
}
