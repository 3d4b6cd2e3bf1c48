//! `cargo xtask lab up cone|symmetric` / `exec HOST CMD…` / `shape SIDE
//! DELAY LOSS RATE` / `down`: the NAT lab of the end-to-end tests, kept
//! standing to explore by hand. It lives in network namespaces named
//! `tlab-*` (see `tether_e2e::lab`); a shaped link is held by a detached
//! emulator process, and `down` stops those and removes everything.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use anyhow::{Context, bail};
use tether_e2e::lab::{Host, Lab, Nat};
use tether_e2e::netem::Shape;

const PREFIX: &str = "tlab";
const SHAPE_USAGE: &str =
    "usage: cargo xtask lab shape customer|technician DELAY LOSS RATE (such as 20ms 0.5% 50mbit)";

fn side_of(name: &str) -> anyhow::Result<Host> {
    match name.parse()? {
        side @ (Host::Customer | Host::Technician) => Ok(side),
        _ => bail!("only the customer's and the technician's links can be shaped"),
    }
}

fn pid_file(side: Host) -> PathBuf {
    std::env::temp_dir().join(format!("{PREFIX}-shape-{side:?}.pid"))
}

/// Stops the emulator holding `side`'s link, if one runs; its TAP devices
/// (and so the link) go with it.
fn stop_shaper(side: Host) {
    let file = pid_file(side);
    if let Some(pid) = std::fs::read_to_string(&file).ok().and_then(|p| p.trim().parse::<u32>().ok()) {
        let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let _ = std::fs::remove_file(file);
}

/// Runs a lab subcommand.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    match args.first().map(String::as_str) {
        Some("up") => {
            let nat: Nat = args.get(1).context("usage: cargo xtask lab up cone|symmetric")?.parse()?;
            // Keep it standing: only an `existing` handle drops without tearing down.
            let lab = Lab::up(PREFIX, nat)?;
            let _standing = std::mem::ManuallyDrop::new(lab);
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
        Some("shape") => {
            let [side, delay, loss, rate] = &args[1..] else { bail!(SHAPE_USAGE) };
            let (side, shape) = (side_of(side)?, Shape::parse(delay, loss, rate)?);
            stop_shaper(side);
            // The emulator must outlive this command: a detached copy of
            // xtask holds it until `lab down` (or the next `shape`).
            let log = std::env::temp_dir().join(format!("{PREFIX}-shape-{side:?}.log"));
            let out = std::fs::File::create(&log)?;
            let child = std::process::Command::new(std::env::current_exe()?)
                .args(["lab", "hold-shape", &args[1], delay, loss, rate])
                .stdin(std::process::Stdio::null())
                .stderr(out.try_clone()?)
                .stdout(out)
                .process_group(0)
                .spawn()
                .context("starting the link emulator")?;
            std::fs::write(pid_file(side), child.id().to_string())?;
            for _ in 0..100 {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                if text.contains("shaped") {
                    println!("{side:?} link: {shape}");
                    return Ok(());
                }
                if text.contains("Error") {
                    bail!("shaping failed: {}", text.trim());
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            bail!("the link emulator did not start; see {}", log.display())
        }
        Some("hold-shape") => {
            let [side, delay, loss, rate] = &args[1..] else { bail!(SHAPE_USAGE) };
            let lab = Lab::existing(PREFIX, Nat::Cone);
            lab.shape(side_of(side)?, Shape::parse(delay, loss, rate)?).context("is the lab up?")?;
            println!("shaped");
            loop {
                std::thread::park();
            }
        }
        Some("down") => {
            for side in [Host::Customer, Host::Technician] {
                stop_shaper(side);
            }
            Lab::existing(PREFIX, Nat::Cone).down();
            println!("lab down");
            Ok(())
        }
        _ => bail!(
            "usage: cargo xtask lab up cone|symmetric | exec HOST CMD… | shape customer|technician DELAY LOSS RATE | down"
        ),
    }
}
