//! Installs the Debian packages that are missing, and only those.

use std::process::Command;

use anyhow::{Context, bail};

/// Everything building and testing needs on a fresh Debian machine.
pub const NEEDED: &[&str] = &[
    // Build: xcap's native dependencies (see ../shared/TESTING.md).
    "build-essential",
    "pkg-config",
    "libclang-dev",
    "libpipewire-0.3-dev",
    "libegl-dev",
    "libgbm-dev",
    "libwayland-dev",
    "libxcb1-dev",
    // Tests and demo: a real X display, input checks, screenshots, a terminal.
    "xvfb",
    "xauth",
    "x11-apps",
    "xdotool",
    "xclip",
    "coturn",
    // The NAT lab: namespaces, veths and NAT.
    "iproute2",
    "nftables",
    // Measuring the lab's shaped links.
    "iputils-ping",
    "iperf3",
    "imagemagick",
    "xterm",
    "x11-utils",
    "x11-xserver-utils",
    // The iced console on X11: winit loads these at run time.
    "libxkbcommon-x11-0",
    "libxcursor1",
    "libxrandr2",
    "libxi6",
];

/// What only `cargo xtask bench transfer` needs: scp's server, and a proxy
/// that picks scp's TCP congestion control.
pub const BENCH_TRANSFER: &[&str] = &["openssh-server", "openssh-client", "socat"];

/// What only `cargo xtask bench screen` needs: the workloads' programs and
/// the other encoders it compares against.
pub const BENCH_SCREEN: &[&str] =
    &["ffmpeg", "chromium", "fonts-dejavu-core", "tigervnc-standalone-server", "tigervnc-viewer"];

fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn as_root(args: &[&str]) -> Command {
    let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    let mut cmd = if is_root {
        Command::new(args[0])
    } else {
        let mut c = Command::new("sudo");
        c.arg(args[0]);
        c
    };
    cmd.args(&args[1..]).env("DEBIAN_FRONTEND", "noninteractive");
    cmd
}

/// Installs whatever in `pkgs` is missing, with one `apt-get update` first.
pub fn ensure(pkgs: &[&str]) -> anyhow::Result<()> {
    if Command::new("dpkg-query").arg("--version").output().is_err() {
        eprintln!("xtask: not a Debian system; make sure these are installed: {}", pkgs.join(" "));
        return Ok(());
    }
    let missing: Vec<&str> = pkgs.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    let status = as_root(&["apt-get", "update", "-q"]).status().context("running apt-get update")?;
    if !status.success() {
        bail!("apt-get update failed");
    }
    let mut args = vec!["apt-get", "install", "-y", "-q", "--no-install-recommends"];
    args.extend(&missing);
    let status = as_root(&args).status().context("running apt-get install")?;
    if !status.success() {
        bail!("apt-get install {} failed", missing.join(" "));
    }
    Ok(())
}
