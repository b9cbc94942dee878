//! `valwatch check-config`: the example is accepted, and bad files are refused with the file,
//! the key and the problem named.

use std::process::Command;

use crate::support::{binary, repo_file};

fn check(path: &std::path::Path) -> (bool, String) {
    let output = Command::new(binary())
        .arg("check-config")
        .arg(path)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

fn check_text(text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).expect("write");
    check(&path)
}

#[test]
fn the_annotated_example_is_valid() {
    let (ok, text) = check(&repo_file("examples/valwatch.toml"));
    assert!(ok, "{text}");
    assert!(text.contains("ok: 1 ethereum network(s)"), "{text}");
    assert_eq!(text.lines().count(), 1, "one-line summary expected: {text}");
}

#[test]
fn an_unknown_key_is_named_with_its_file_and_line() {
    let (ok, text) = check_text("[server]\nlisten = \"127.0.0.1:9615\"\nlisten_adress = 1\n");
    assert!(!ok);
    assert!(text.contains("bad.toml"), "{text}");
    assert!(text.contains("unknown field `listen_adress`"), "{text}");
    assert!(text.contains("line 3"), "{text}");
}

#[test]
fn a_bad_endpoint_is_named_by_its_path() {
    let (ok, text) = check_text(
        "[[cosmos]]\nname = \"hub\"\nrpc = [\"http://127.0.0.1:26657\", \"127.0.0.1:26657\"]\n",
    );
    assert!(!ok);
    assert!(text.contains("key `cosmos[0].rpc[1]`"), "{text}");
}

#[test]
fn duplicate_chain_names_and_bad_values_are_refused() {
    let (ok, text) = check_text(
        "[[ethereum]]\nname = \"x\"\nbeacon = [\"http://a:1\"]\n[[cosmos]]\nname = \"x\"\nrpc = [\"http://b:1\"]\n",
    );
    assert!(!ok);
    assert!(
        text.contains("key `cosmos[0].name`") && text.contains("already used"),
        "{text}"
    );
    let (ok, text) = check_text("[server]\nsave_interval_seconds = 0\n");
    assert!(!ok);
    assert!(text.contains("server.save_interval_seconds"), "{text}");
    let (ok, text) = check_text("[server]\nlisten = \"not-an-address\"\n");
    assert!(!ok && text.contains("listen"), "{text}");
}

#[test]
fn a_missing_file_is_named() {
    let (ok, text) = check(std::path::Path::new("/nonexistent/valwatch.toml"));
    assert!(!ok);
    assert!(text.contains("/nonexistent/valwatch.toml"), "{text}");
}

#[test]
fn version_and_help_work_on_every_subcommand() {
    for args in [
        &["--version"][..],
        &["--help"],
        &["run", "--help"],
        &["check-config", "--help"],
    ] {
        let output = Command::new(binary()).args(args).output().expect("run");
        assert!(output.status.success(), "{args:?}");
        assert!(!output.stdout.is_empty(), "{args:?}");
    }
}
