//! The README's section "Test your routing in CI" runs: its test file is the one in
//! `examples/routing-tests`, its commands exit as it says, and the diff it shows is the one
//! the command prints.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The fenced blocks (language, text) of the README section titled `title`.
fn blocks(title: &str) -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(workspace().join("README.md")).expect("README.md");
    let start = readme
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("no section {title:?}"));
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut out = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if let Some(lang) = line.strip_prefix("```") {
            let mut text = String::new();
            for l in lines.by_ref() {
                if l.starts_with("```") {
                    break;
                }
                text.push_str(l);
                text.push('\n');
            }
            out.push((lang.to_owned(), text));
        }
    }
    out
}

/// The README shows `examples/routing-tests/shop.yaml` as it is.
#[test]
fn readme_test_file_is_the_example_file() {
    let yaml = blocks("Test your routing in CI")
        .into_iter()
        .find(|(lang, _)| lang == "yaml")
        .expect("a yaml block")
        .1;
    let file = std::fs::read_to_string(workspace().join("examples/routing-tests/shop.yaml"))
        .expect("the example test file");
    assert_eq!(yaml, file);
}

/// Every command of the README's `sh` block runs from the workspace root with the exit
/// status it states (`# exit N`, else 0); the diff prints what the README shows.
#[test]
fn readme_commands_run_as_shown() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_meshctl"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let all = blocks("Test your routing in CI");
    let sh = &all
        .iter()
        .find(|(lang, _)| lang == "sh")
        .expect("a sh block")
        .1;
    let shown = &all
        .iter()
        .find(|(lang, _)| lang == "text")
        .expect("a text block")
        .1;
    let mut ran = 0;
    for line in sh.lines().filter(|l| !l.trim().is_empty()) {
        let (command, want) = match line.split_once("# exit ") {
            Some((c, n)) => (c.trim(), n.trim().parse::<i32>().unwrap()),
            None => (line.trim(), 0),
        };
        let o = Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(workspace())
            .env("PATH", &path)
            .output()
            .expect("sh");
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            o.status.code(),
            Some(want),
            "{command}\n{stdout}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        if command.contains("meshctl diff") {
            for l in shown.lines().filter(|l| *l != "...") {
                assert!(stdout.lines().any(|s| s == l), "{l:?} not in:\n{stdout}");
            }
            assert!(
                stdout.starts_with(&shown[..shown.find("...").unwrap()]),
                "{stdout}"
            );
        }
        if command.ends_with("examples/routing-tests") {
            assert_eq!(stdout, "3 passed, 0 failed (9 requests)\n");
        }
        ran += 1;
    }
    assert_eq!(ran, 3);
}
