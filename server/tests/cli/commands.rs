//! The command line: help, refusals with one readable line, aliases.
//!
//! Every run has a clean environment (only PATH) and a time limit, so a
//! regression that made a command serve forever fails instead of hanging.

use std::{path::Path, process::Output, time::Duration};

use tokio::process::Command;

const LIMIT: Duration = Duration::from_secs(30);

async fn run(program: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let child = Command::new(program)
        .args(args)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(envs.iter().copied())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(LIMIT, child)
        .await
        .unwrap_or_else(|_| panic!("`nocturne {}` did not finish", args.join(" ")))
        .expect("run nocturne")
}

async fn nocturne(args: &[&str], envs: &[(&str, &str)]) -> Output {
    run(&crate::common::binary(), args, envs).await
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn help_lists_every_command() {
    let output = nocturne(&["--help"], &[]).await;
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "node", "agent", "encrypt", "decrypt"] {
        assert!(help.contains(command), "--help lacks {command}:\n{help}");
    }
    for sub in [
        &["node", "--help"][..],
        &["agent", "--help"],
        &["encrypt", "--help"],
        &["serve", "--help"],
    ] {
        assert!(nocturne(sub, &[]).await.status.success(), "{sub:?}");
    }
}

/// `agent setup` needs its label; clap says so (usage errors exit 2).
#[tokio::test]
async fn agent_setup_needs_a_label() {
    let output = nocturne(&["agent", "setup"], &[]).await;
    assert_eq!(output.status.code(), Some(2), "a usage error");
    assert!(output.stdout.is_empty(), "agent setup printed output");
    assert!(stderr(&output).contains("--label"), "{}", stderr(&output));
}

/// Revocation commands with bad input: one line, non-zero, no panic.
#[tokio::test]
async fn agent_revocation_commands_refuse_bad_input_in_one_line() {
    let someone = "ab".repeat(32);
    for (args, says) in [
        (
            &[
                "agent",
                "revoke-vote",
                "--operator",
                "nothex",
                "--key",
                "none.key",
            ][..],
            "not an operator id",
        ),
        (
            &[
                "agent",
                "revoke-vote",
                "--operator",
                someone.as_str(),
                "--key",
                "none.key",
                "--data-dir",
                "nowhere",
            ],
            "no operator key",
        ),
        (
            &[
                "agent",
                "revoke",
                "--operator",
                someone.as_str(),
                "--votes",
                "missing.json",
                "--data-dir",
                "nowhere",
            ],
            "no network known",
        ),
    ] {
        let output = nocturne(args, &[]).await;
        assert!(!output.status.success(), "{args:?} must fail");
        let err = stderr(&output);
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// The node's commands without a node, or without what a node needs: one
/// readable line and a non-zero exit, never a panic.
#[tokio::test]
async fn node_commands_without_a_node_fail_with_one_line() {
    for (args, says) in [
        (
            &["node", "status", "--data-dir", "no-such-node"][..],
            "no node is running",
        ),
        (
            &["node", "disconnect", "--data-dir", "no-such-node"],
            "no node is running",
        ),
        (
            &[
                "node",
                "connect",
                "--max-storage",
                "10GB",
                "--data-dir",
                "n",
            ],
            "needs a tracker",
        ),
        (
            &[
                "node",
                "connect",
                "--max-storage",
                "lots",
                "--tracker",
                "/ip4/127.0.0.1/tcp/1",
            ],
            "not a size",
        ),
        (
            &[
                "node",
                "connect",
                "--max-storage",
                "1GB",
                "--tracker",
                "nowhere at all",
                "--data-dir",
                "n",
            ],
            "--tracker",
        ),
    ] {
        let output = nocturne(args, &[]).await;
        assert!(!output.status.success(), "{args:?} must fail");
        assert!(output.stdout.is_empty(), "{args:?} printed output");
        let err = stderr(&output);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn server_settings_do_not_break_other_commands() {
    let output = nocturne(
        &["node", "status", "--data-dir", "no-such-node"],
        &[
            ("PORT", "eighty"),
            ("NOCTURNE_TRUST_PROXY", "maybe"),
            ("NOCTURNE_MESH", "sideways"),
        ],
    )
    .await;
    assert!(
        stderr(&output).contains("no node is running"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn bad_settings_fail_with_one_line_and_no_secret_echo() {
    let output = nocturne(&[], &[("NOCTURNE_SECRET", "tooshortvalue"), ("PORT", "0")]).await;
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("NOCTURNE_SECRET must be at least"), "{err}");
    assert!(!err.contains("tooshortvalue"), "secret echoed: {err}");

    let output = nocturne(&["serve"], &[("PORT", "eighty")]).await;
    assert_eq!(output.status.code(), Some(2), "usage error");
    assert!(stderr(&output).contains("PORT"), "{}", stderr(&output));
}

#[tokio::test]
async fn the_old_binary_names_still_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("nocturne-node");
    std::os::unix::fs::symlink(crate::common::binary(), &link).expect("symlink");
    let output = run(&link, &["status", "--data-dir", "no-such-node"], &[]).await;
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("no node is running on no-such-node"),
        "{}",
        stderr(&output)
    );
    // Its help speaks of `nocturne node`, which is what it runs (it once
    // read `nocturne-node node …`).
    let help = run(&link, &["--help"], &[]).await;
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Usage: nocturne node"), "{text}");
    assert!(!text.contains("nocturne-node node"), "{text}");
}

/// `nocturne --help` says where the server's options are: they work
/// without `serve`, and the top-level help does not list them.
#[tokio::test]
async fn the_top_level_help_points_at_the_servers_options() {
    let help = run(&crate::common::binary(), &["--help"], &[]).await;
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("nocturne serve --help"), "{text}");
}
