//! `cargo xtask test | demo | bench | screenshots`: the project's two README
//! commands, the benchmark, and the README's screenshots. Installs missing
//! Debian packages, starts Xvfb where needed.

mod bench;
mod demo;
mod lab;
mod packages;

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| PathBuf::from("."), PathBuf::from)
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(what: &str, cmd: &mut Command) -> anyhow::Result<()> {
    eprintln!("xtask: {what}");
    let status = cmd.status().with_context(|| format!("starting {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// Builds every binary the tests and the demo start.
fn build_bins(release: bool) -> anyhow::Result<PathBuf> {
    let mut cmd = cargo();
    cmd.args(["build", "--workspace", "--bins", "--locked"]);
    if release {
        cmd.arg("--release");
    }
    run("cargo build --bins", &mut cmd)?;
    Ok(root().join("target").join(if release { "release" } else { "debug" }))
}

fn test() -> anyhow::Result<()> {
    packages::ensure(packages::NEEDED)?;
    run("cargo fmt --check", cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(
        "cargo clippy",
        cargo().args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]),
    )?;
    let bins = build_bins(false)?;
    // A display for tests that just need one; end-to-end tests start their own.
    let xvfb = tether_e2e::Xvfb::start("1280x800x24")?;
    run(
        "cargo test",
        cargo()
            .args(["test", "--workspace", "--locked"])
            .env("DISPLAY", &xvfb.display)
            .env("TETHER_BIN_DIR", &bins),
    )?;
    eprintln!("xtask: all tests passed");
    Ok(())
}

/// Runs the two-window and back-office end-to-end tests, keeping their
/// screenshots in `docs/screenshots` for the README.
fn screenshots() -> anyhow::Result<()> {
    packages::ensure(packages::NEEDED)?;
    let bins = build_bins(false)?;
    let out = root().join("docs").join("screenshots");
    run(
        "the two-window and back-office tests",
        cargo()
            .args([
                "test",
                "--locked",
                "--package",
                "tether-e2e",
                "--test",
                "two_windows",
                "--test",
                "office",
            ])
            .env("TETHER_BIN_DIR", &bins)
            .env("TETHER_SCREENSHOTS", &out),
    )?;
    eprintln!("xtask: screenshots are in {}", out.display());
    Ok(())
}

fn main() -> std::process::ExitCode {
    match dispatch() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn dispatch() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("demo") => {
            packages::ensure(packages::NEEDED)?;
            let bins = build_bins(false)?;
            demo::run(&root(), &bins)
        }
        Some("bench") => {
            packages::ensure(packages::NEEDED)?;
            bench::run(&root(), args.get(1).map(String::as_str))
        }
        Some("screenshots") => screenshots(),
        Some("lab") => {
            packages::ensure(packages::NEEDED)?;
            lab::run(&args[1..])
        }
        _ => {
            eprintln!(
                "usage: cargo xtask test | demo | bench [net|screen|transfer|desk] | screenshots | lab"
            );
            std::process::exit(2);
        }
    }
}
