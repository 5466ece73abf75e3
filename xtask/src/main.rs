//! `cargo xtask`: the two commands of the README, with nothing to install by
//! hand.
//!
//! - `cargo xtask run [-- <serve options>]`: installs the build tools if
//!   missing, builds the release binary with the site embedded, and runs it
//!   from the repository root (data under `data/`, http://localhost:8080).
//! - `cargo xtask test`: the same tools plus Chromium, then formatting,
//!   clippy for the server and for the WASM build, the release build, and
//!   every test (the browser test runs against that release binary).
//! - `cargo xtask build`: only the release build.
//! - `cargo xtask schema`: only the schema fuzzing of the JSON API (the
//!   last step of `test`), against the release binary already built.
//!
//! Tools it installs when absent or at the wrong version: the
//! `wasm32-unknown-unknown` target (rustup), cargo-leptos 0.3.10 and the
//! wasm-bindgen-cli matching `Cargo.lock` (cargo install), wasm-opt from
//! npm's `binaryen` (Debian's binaryen 108 produces WASM that breaks in the
//! browser) into `target/tools`, and for tests axe-core from npm (into the
//! same folder), TypeScript from npm (to type-check the workers' JavaScript)
//! schemathesis from PyPI (a virtualenv in `target/tools`, for the schema
//! fuzzing) and Debian's `chromium`, `chromium-driver` and
//! `fonts-wqy-microhei` (apt-get, when running as root).

#![expect(clippy::print_stdout, clippy::print_stderr, reason = "a console tool")]

use std::{
    env,
    ffi::OsString,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    time::Instant,
};

const CARGO_LEPTOS_VERSION: &str = "0.3.10";
const BINARYEN_VERSION: &str = "132.0.0";
/// Debian's `fonts-wqy-microhei`, for the browser tests' screenshots.
const CJK_FONT: &str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";
/// axe-core, injected into pages by the browser tests to check accessibility.
const AXE_VERSION: &str = "4.11.0";
/// TypeScript, which type-checks the site's hand-written JavaScript
/// (`// @ts-check` with JSDoc types; `tsconfig.json`), emitting nothing.
const TYPESCRIPT_VERSION: &str = "5.9.3";
const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The workers' module under `/pkg/`: `nocturne-worker.js` and
/// `nocturne-worker_bg.wasm` (see `build_worker_module`).
const WORKER_MODULE: &str = "nocturne-worker";
/// schemathesis from PyPI, the JSON API's schema fuzzer.
const SCHEMATHESIS_VERSION: &str = "4.32.5";
/// Seconds each schema-fuzzing run (without a session, with one) takes.
const SCHEMA_FUZZ_SECONDS: &str = "60";

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let mut args = env::args_os().skip(1);
    let task = args.next().and_then(|a| a.into_string().ok());
    let rest: Vec<OsString> = args.skip_while(|a| a == "--").collect();
    let started = Instant::now();
    let result = match task.as_deref() {
        Some("run") => run(&rest),
        Some("build") => tools().and_then(|t| build_release(&t)),
        Some("test") => test(),
        Some("schema") => tools().and_then(|t| schema_fuzz(&t.path)),
        _ => Err(
            "usage: cargo xtask <run|build|test|schema>\n  run   build the release binary and start it \
                  (options after -- go to `nocturne serve`)\n  build build the release binary\n  \
                  test  run formatting, clippy and every test"
                .into(),
        ),
    };
    match result {
        Ok(()) => {
            eprintln!("xtask: done in {:.0?}", started.elapsed());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (this crate's parent directory).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo() -> OsString {
    env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Runs `cmd` from the workspace root with `path` as PATH, failing on a
/// non-zero exit.
fn sh(cmd: &mut Command, path: &OsString) -> Result {
    cmd.current_dir(root()).env("PATH", path);
    eprintln!("xtask: $ {}", describe(cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {}: {e}", describe(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", describe(cmd)))
    }
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// The output of `program args`, if it runs and succeeds.
fn output_of(
    program: impl AsRef<std::ffi::OsStr>,
    args: &[&str],
    path: &OsString,
) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .env("PATH", path)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// PATH with the project's own tools first.
struct Tools {
    path: OsString,
}

fn tools() -> Result<Tools> {
    let tools_dir = root().join("target/tools");
    let npm_bin = tools_dir.join("node_modules/.bin");
    let mut dirs = vec![npm_bin.clone()];
    if let Some(home) = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
    {
        dirs.push(home.join("bin"));
    }
    dirs.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
    let path = env::join_paths(dirs).map_err(|e| format!("bad PATH: {e}"))?;

    // rustfmt and clippy (absent from rustup's minimal profile).
    for (tool, component) in [("cargo-fmt", "rustfmt"), ("cargo-clippy", "clippy")] {
        if output_of(tool, &["--version"], &path).is_none() {
            sh(
                Command::new("rustup").args(["component", "add", component]),
                &path,
            )?;
        }
    }

    // The WASM target.
    let installed =
        output_of("rustup", &["target", "list", "--installed"], &path).unwrap_or_default();
    if !installed.lines().any(|l| l.trim() == WASM_TARGET) {
        sh(
            Command::new("rustup").args(["target", "add", WASM_TARGET]),
            &path,
        )?;
    }

    // cargo-leptos, at the version known to install on this toolchain.
    let leptos = output_of("cargo-leptos", &["--version"], &path).unwrap_or_default();
    if !leptos.contains(CARGO_LEPTOS_VERSION) {
        sh(
            Command::new(cargo()).args([
                "install",
                "cargo-leptos",
                "--version",
                CARGO_LEPTOS_VERSION,
                "--locked",
            ]),
            &path,
        )?;
    }

    // wasm-bindgen-cli, exactly the version in Cargo.lock.
    let wanted = locked_version("wasm-bindgen")?;
    let have = output_of("wasm-bindgen", &["--version"], &path).unwrap_or_default();
    if !have.split_whitespace().any(|w| w == wanted) {
        sh(
            Command::new(cargo()).args([
                "install",
                "wasm-bindgen-cli",
                "--version",
                &wanted,
                "--locked",
            ]),
            &path,
        )?;
    }

    // wasm-opt from npm's binaryen, first on PATH for cargo-leptos.
    install_npm("binaryen", BINARYEN_VERSION, &path)?;
    Ok(Tools { path })
}

/// The npm packages the tests need, into `target/tools`: axe-core (the
/// browser tests read `node_modules/axe-core/axe.min.js`) and TypeScript.
fn install_test_packages(path: &OsString) -> Result {
    for (package, version) in [
        ("axe-core", AXE_VERSION),
        ("typescript", TYPESCRIPT_VERSION),
    ] {
        install_npm(package, version, path)?;
    }
    Ok(())
}

/// `package@version` from npm into `target/tools`, unless it is there.
fn install_npm(package: &str, version: &str, path: &OsString) -> Result {
    let tools_dir = root().join("target/tools");
    let manifest = tools_dir.join(format!("node_modules/{package}/package.json"));
    let have = std::fs::read_to_string(&manifest).unwrap_or_default();
    if have.contains(&format!("\"version\": \"{version}\"")) {
        return Ok(());
    }
    if output_of("npm", &["--version"], path).is_none() {
        ensure_debian_packages(&["nodejs", "npm"], path)?;
    }
    std::fs::create_dir_all(&tools_dir)
        .map_err(|e| format!("create {}: {e}", tools_dir.display()))?;
    sh(
        Command::new("npm").args([
            "install",
            "--no-audit",
            "--no-fund",
            "--prefix",
            &tools_dir.to_string_lossy(),
            &format!("{package}@{version}"),
        ]),
        path,
    )
}

/// The version of `package` recorded in Cargo.lock.
fn locked_version(package: &str) -> Result<String> {
    let lock = root().join("Cargo.lock");
    let text =
        std::fs::read_to_string(&lock).map_err(|e| format!("read {}: {e}", lock.display()))?;
    let needle = format!("name = \"{package}\"\nversion = \"");
    let start = text
        .find(&needle)
        .ok_or_else(|| format!("{package} is not in Cargo.lock"))?
        + needle.len();
    let end = text[start..]
        .find('"')
        .ok_or_else(|| "Cargo.lock is malformed".to_string())?;
    Ok(text[start..start + end].to_owned())
}

/// Installs Debian packages when running as root; otherwise says what to do.
fn ensure_debian_packages(packages: &[&str], path: &OsString) -> Result {
    let is_root = output_of("id", &["-u"], path).is_some_and(|id| id.trim() == "0");
    if !is_root || output_of("apt-get", &["--version"], path).is_none() {
        return Err(format!(
            "missing {}: install them (Debian: `sudo apt-get install {}`) and rerun",
            packages.join(", "),
            packages.join(" ")
        ));
    }
    sh(Command::new("apt-get").args(["update", "-qq"]), path)?;
    sh(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        path,
    )
}

/// Release build: the WASM bundle and site first, then the server, so the
/// server embeds the finished site (cargo-leptos would otherwise build both
/// at once and the binary could embed a stale one).
fn build_release(tools: &Tools) -> Result {
    sh(
        // `--split`: each page (`#[lazy_route]`) and the dashboard's
        // unlocked view (`#[lazy]`) become WASM chunks of their own.
        Command::new("cargo-leptos").args(["build", "--release", "--frontend-only", "--split"]),
        &tools.path,
    )?;
    build_worker_module(&tools.path)?;
    sh(
        Command::new("cargo-leptos").args(["build", "--release", "--server-only"]),
        &tools.path,
    )?;
    let binary = release_binary();
    let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "xtask: built {} ({:.1} MiB)",
        binary.display(),
        size as f64 / (1024.0 * 1024.0)
    );
    Ok(())
}

/// The Web Workers' own WASM (the `worker` crate) into the site, beside the
/// page's bundle: compiled with the same size-optimised profile and the
/// same wasm-opt flags cargo-leptos gives the page (`wasm-opt-features` in
/// `Cargo.toml`), so the two modules differ only in what they hold.
fn build_worker_module(path: &OsString) -> Result {
    sh(
        Command::new(cargo()).args([
            "build",
            "--package",
            "worker",
            "--lib",
            "--target",
            WASM_TARGET,
            "--profile",
            "wasm-release",
        ]),
        path,
    )?;
    let pkg = root().join("target/site/pkg");
    sh(
        Command::new("wasm-bindgen")
            .arg(root().join("target/wasm32-unknown-unknown/wasm-release/worker.wasm"))
            .args(["--target", "web", "--out-name", WORKER_MODULE, "--out-dir"])
            .arg(&pkg),
        path,
    )?;
    let wasm = pkg.join(format!("{WORKER_MODULE}_bg.wasm"));
    sh(
        Command::new("wasm-opt")
            .args([
                "-Oz",
                "--enable-bulk-memory",
                "--enable-nontrapping-float-to-int",
                "--enable-simd",
            ])
            .arg(&wasm)
            .arg("-o")
            .arg(&wasm),
        path,
    )
}

fn release_binary() -> PathBuf {
    root().join("target/release/nocturne")
}

fn run(args: &[OsString]) -> Result {
    let tools = tools()?;
    build_release(&tools)?;
    let binary = release_binary();
    eprintln!("xtask: starting {}", binary.display());
    use std::os::unix::process::CommandExt;
    // Replace this process, so Ctrl-C and SIGTERM reach the server directly.
    let err = Command::new(&binary)
        .arg("serve")
        .args(args)
        .current_dir(root())
        .exec();
    Err(format!("cannot start {}: {err}", binary.display()))
}

fn test() -> Result {
    let tools = tools()?;
    let browser_present = ["/usr/bin/chromium", "/usr/bin/chromedriver"]
        .iter()
        .all(|p| Path::new(p).exists());
    if !browser_present {
        ensure_debian_packages(&["chromium", "chromium-driver"], &tools.path)?;
    }
    // A font with CJK glyphs, so the screenshots of pages with such names
    // show them instead of empty boxes (the layout checks measure them too).
    if !Path::new(CJK_FONT).exists() {
        ensure_debian_packages(&["fonts-wqy-microhei"], &tools.path)?;
    }
    let path = &tools.path;
    install_test_packages(path)?;
    sh(
        Command::new(cargo()).args(["fmt", "--all", "--check"]),
        path,
    )?;
    // The server side: every crate but the WASM entry, ssr features.
    sh(
        Command::new(cargo()).args([
            "clippy",
            "--workspace",
            "--exclude",
            "frontend",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
        path,
    )?;
    // The browser side: the hydrate build for wasm32 (the app's components
    // as the browser runs them, through the frontend crate's features).
    sh(
        Command::new(cargo()).args([
            "clippy",
            "--package",
            "frontend",
            "--package",
            "worker",
            "--package",
            "app",
            "--package",
            "noctis",
            "--target",
            WASM_TARGET,
            "--",
            "-D",
            "warnings",
        ]),
        path,
    )?;
    build_release(&tools)?;
    // The workers' JavaScript against its JSDoc types and the WASM exports'
    // declarations the build just wrote.
    sh(
        Command::new(root().join("target/tools/node_modules/.bin/tsc"))
            .args(["-p", "tsconfig.json"]),
        path,
    )?;
    let mut totals = (0, 0);
    // Everything native; the browser test runs against the release binary.
    let native = cargo_test(
        Command::new(cargo())
            .args(["test", "--workspace", "--exclude", "frontend"])
            .env("NOCTURNE_TEST_BIN", release_binary()),
        path,
        &mut totals,
    );
    // The crypto crate again, compiled to wasm32 and run in Node: once
    // plain (the portable path), once with simd128 (the browser's path).
    let wasm = native.and_then(|()| {
        for (target_dir, rustflags) in [
            ("target", ""),
            ("target/wasm-simd128", "-C target-feature=+simd128"),
        ] {
            cargo_test(
                Command::new(cargo())
                    .args([
                        "test",
                        "--package",
                        "noctis",
                        "--lib",
                        "--tests",
                        "--target",
                        WASM_TARGET,
                    ])
                    .args(["--target-dir", target_dir])
                    .env(
                        "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                        "wasm-bindgen-test-runner",
                    )
                    .env("RUSTFLAGS", rustflags),
                path,
                &mut totals,
            )?;
        }
        Ok(())
    });
    println!("tests: {} passed, {} failed", totals.0, totals.1);
    wasm?;
    if totals.0 == 0 {
        return Err("no test ran".into());
    }
    schema_fuzz(path)
}

/// The JSON API against its OpenAPI document: schemathesis (installed into
/// a virtualenv under `target/tools`) drives the release binary for a
/// bounded time without a session and with one (`xtask/schema/fuzz.py`).
fn schema_fuzz(path: &OsString) -> Result {
    let venv = root().join("target/tools/schemathesis");
    let st = venv.join("bin/schemathesis");
    let installed =
        output_of(&st, &["--version"], path).is_some_and(|v| v.contains(SCHEMATHESIS_VERSION));
    if !installed {
        if output_of("python3", &["-c", "import venv, ensurepip"], path).is_none() {
            ensure_debian_packages(&["python3", "python3-venv"], path)?;
        }
        sh(
            Command::new("python3")
                .args(["-m", "venv", "--clear"])
                .arg(&venv),
            path,
        )?;
        sh(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .arg(format!("schemathesis=={SCHEMATHESIS_VERSION}")),
            path,
        )?;
    }
    sh(
        Command::new(venv.join("bin/python"))
            .arg(root().join("xtask/schema/fuzz.py"))
            .arg(release_binary())
            .arg(&st)
            .arg(SCHEMA_FUZZ_SECONDS),
        path,
    )
}

/// Runs `cargo test`, passing its output through and adding each test
/// binary's `test result:` counts to `totals` (cargo's own last line is
/// about whichever binary ran last, often the empty doc-tests).
fn cargo_test(cmd: &mut Command, path: &OsString, totals: &mut (u64, u64)) -> Result {
    use std::io::{BufRead, BufReader};
    cmd.current_dir(root())
        .env("PATH", path)
        .stdout(std::process::Stdio::piped());
    eprintln!("xtask: $ {}", describe(cmd));
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run cargo test: {e}"))?;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout)
            .lines()
            .map_while(std::result::Result::ok)
        {
            println!("{line}");
            if let Some(summary) = line.strip_prefix("test result: ") {
                totals.0 += count(summary, " passed");
                totals.1 += count(summary, " failed");
            }
        }
    }
    let status = child.wait().map_err(|e| format!("cargo test: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", describe(cmd)))
    }
}

/// The number before `label` in a `test result:` summary.
fn count(summary: &str, label: &str) -> u64 {
    summary
        .split(';')
        .find_map(|part| part.trim_end().strip_suffix(label.trim_start()))
        .and_then(|n| n.trim().rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn totals_come_from_cargo_summaries() {
        let line =
            "ok. 17 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.10s";
        assert_eq!(super::count(line, " passed"), 17);
        assert_eq!(super::count(line, " failed"), 2);
    }
}
