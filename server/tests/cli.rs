//! The command line: help, refusals with one readable line, aliases.

mod common;

use std::process::{Command, Output};

fn nocturne(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    Command::new(common::binary())
        .args(args)
        .current_dir(dir.path())
        .env_remove("NOCTURNE_SECRET")
        .envs(envs.iter().copied())
        .output()
        .expect("run nocturne")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn help_lists_every_command() {
    let output = nocturne(&["--help"], &[]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "node", "agent", "encrypt", "decrypt"] {
        assert!(help.contains(command), "--help lacks {command}:\n{help}");
    }
    for sub in [
        &["node", "--help"][..],
        &["agent", "--help"],
        &["encrypt", "--help"],
    ] {
        assert!(nocturne(sub, &[]).status.success(), "{sub:?}");
    }
}

#[test]
fn unbuilt_commands_say_so_and_fail() {
    for args in [
        &["node", "connect", "--max-storage", "10GB"][..],
        &["node", "status"],
        &["agent", "setup"],
        &["encrypt", "-i", "x"],
        &["decrypt", "-i", "x"],
    ] {
        let output = nocturne(args, &[]);
        assert!(!output.status.success(), "{args:?} must fail");
        assert!(output.stdout.is_empty(), "{args:?} printed output");
        let err = stderr(&output);
        assert!(err.contains("not implemented"), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    }
}

#[test]
fn bad_settings_fail_with_one_line_and_no_secret_echo() {
    let output = nocturne(
        &["serve"],
        &[("NOCTURNE_SECRET", "tooshortvalue"), ("PORT", "0")],
    );
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("NOCTURNE_SECRET must be at least"), "{err}");
    assert!(!err.contains("tooshortvalue"), "secret echoed: {err}");

    let output = nocturne(&["serve"], &[("PORT", "eighty")]);
    assert_eq!(output.status.code(), Some(2), "usage error");
    assert!(stderr(&output).contains("PORT"), "{}", stderr(&output));
}

#[test]
fn the_old_binary_names_still_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("nocturne-node");
    std::os::unix::fs::symlink(common::binary(), &link).expect("symlink");
    let output = Command::new(&link)
        .arg("status")
        .output()
        .expect("run alias");
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("`nocturne node` is not implemented"),
        "{}",
        stderr(&output)
    );
}
