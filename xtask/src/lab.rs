//! `cargo xtask lab up cone|symmetric` / `exec HOST CMD…` / `shape …` /
//! `down`: the NAT lab of the end-to-end tests, kept standing to explore by
//! hand. It lives in network namespaces named `tlab-*` (see
//! `tether_e2e::lab`), and `down` removes them all.

use anyhow::{Context, bail};
use tether_e2e::lab::{Host, Lab, Nat};

const PREFIX: &str = "tlab";

/// Runs a lab subcommand.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    match args.first().map(String::as_str) {
        Some("up") => {
            let nat: Nat = args.get(1).context("usage: cargo xtask lab up cone|symmetric")?.parse()?;
            let lab = Lab::up(PREFIX, nat)?;
            // Keep it standing: forget the handle so drop does not tear it down.
            std::mem::forget(lab);
            println!(
                "lab up ({nat:?} NAT): hosts public (server {}), customer, technician,",
                tether_e2e::lab::SERVER_IP
            );
            println!(
                "customer-nat, technician-nat; `cargo xtask lab exec HOST CMD…`, `cargo xtask lab down`"
            );
            Ok(())
        }
        Some("exec") => {
            let host: Host = args.get(1).context("usage: cargo xtask lab exec HOST CMD…")?.parse()?;
            let cmd: Vec<&str> = args[2..].iter().map(String::as_str).collect();
            if cmd.is_empty() {
                bail!("usage: cargo xtask lab exec HOST CMD…");
            }
            let ns = Lab::existing(PREFIX, Nat::Cone).ns(host);
            let status = std::process::Command::new("ip")
                .args(["netns", "exec", &ns])
                .args(&cmd)
                .status()
                .context("running ip netns exec")?;
            if !status.success() {
                bail!("the command failed ({status})");
            }
            Ok(())
        }
        Some("down") => {
            Lab::existing(PREFIX, Nat::Cone).down();
            println!("lab down");
            Ok(())
        }
        _ => bail!("usage: cargo xtask lab up cone|symmetric | exec HOST CMD… | down"),
    }
}
