//! `wharf completions` and `wharf man`: generated from the same definitions that parse
//! the command line, checked by the shells and by man(1)'s own formatter where present.

use std::process::Command;

use crate::common::{Reg, tool};

const COMMANDS: &[&str] = &[
    "init",
    "import",
    "export",
    "repos",
    "tags",
    "manifests",
    "show",
    "referrers",
    "tag",
    "untag",
    "delete",
    "update",
    "lock",
    "unlock",
    "verify",
    "gc",
    "purge",
    "sweep",
    "config",
    "deleted",
    "restore",
    "completions",
    "man",
];

#[test]
fn completions_for_every_shell_name_every_command() {
    let reg = Reg::uninit();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = reg.wharf(&["completions", shell]).ok();
        for c in COMMANDS {
            assert!(run.stdout.contains(c), "{shell} completion lacks {c}");
        }
    }
    reg.wharf(&["completions", "tcsh"]).code(2).stderr_has("invalid value 'tcsh'");
}

#[test]
fn bash_completion_script_parses_and_completes_subcommands() {
    let Some(bash) = tool("bash") else { return };
    let reg = Reg::uninit();
    let script = reg.wharf(&["completions", "bash"]).ok().stdout;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wharf.bash");
    std::fs::write(&file, &script).unwrap();
    // Source the script, then ask it to complete `wharf swe` as bash itself would.
    let probe = format!(
        "source {}; COMP_WORDS=(wharf swe); COMP_CWORD=1; COMP_LINE='wharf swe'; COMP_POINT=9; _wharf wharf swe wharf; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let out = Command::new(bash).args(["-c", &probe]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let words: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    assert_eq!(words, vec!["sweep".to_string()]);
}

#[test]
fn man_writes_one_page_per_command() {
    let reg = Reg::uninit();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let report = reg.json(&["man", "-o", out.to_str().unwrap()]);
    let pages: Vec<String> =
        report["pages"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect();
    assert!(pages.contains(&"wharf.1".to_string()));
    assert!(pages.contains(&"wharf-config-retention.1".to_string()));
    for c in COMMANDS {
        let page = format!("wharf-{c}.1");
        assert!(pages.contains(&page), "no page {page}");
        let text = std::fs::read_to_string(out.join(&page)).unwrap();
        assert!(text.contains(".TH"), "{page} is not a man page");
    }
    // The tag page carries the examples and the positional descriptions.
    let tag = std::fs::read_to_string(out.join("wharf-tag.1")).unwrap();
    assert!(tag.contains("wharf tag team/app:1.4 team/app:stable"), "{tag}");
    assert!(tag.contains("The manifest to tag"), "{tag}");
}
