//! `tether-bench transfer`: file transfer across the NAT lab on a shaped
//! link (50 Mbit/s, 40 ms round trip, 0.5 % loss each way), with the
//! released console and agent.
//!
//! - Goodput of a 1 GB send (`TETHER_BENCH_TRANSFER_MB` changes the size)
//!   with our controller, and of a smaller send with quinn's Cubic and BBR.
//! - scp over the same path to an sshd behind the customer's NAT (a port
//!   forward), once with BBR and once with CUBIC, each for at most 60 s.
//! - Frame send-to-ack times (p50/p95, from the agent) and chat round
//!   trips (from the console's receipts) while an xterm prints the time ten
//!   times a second, without a transfer and during one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tether_e2e::lab::{CUSTOMER_NAT_IP, Host, Lab, Nat};
use tether_e2e::netem::Shape;
use tether_e2e::{Proc, Rendezvous, agent_in, console_env, read_code};

/// What one session measured.
#[derive(Debug, Default)]
pub struct Run {
    /// Megabits per second of the file, if one was sent.
    pub mbit: Option<f64>,
    /// Frame send-to-ack p50 and p95, ms.
    pub frames: Option<(f64, f64)>,
    /// Chat round trips, ms.
    pub chat: Vec<f64>,
}

/// All rows of the table.
#[derive(Debug)]
pub struct Report {
    /// The link.
    pub shape: String,
    /// (label, run).
    pub sessions: Vec<(String, Run)>,
    /// (label, Mbit/s).
    pub scp: Vec<(String, f64)>,
}

fn file_of(dir: &Path, name: &str, megabytes: usize) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    let mut x = 0x9e37_79b9_7f4a_7c15_u64 ^ megabytes as u64;
    let mut block = vec![0u8; 1 << 20];
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    for _ in 0..megabytes {
        for chunk in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        std::io::Write::write_all(&mut out, &block)?;
    }
    std::io::Write::flush(&mut out)?;
    Ok(path)
}

fn number_after(line: &str, key: &str) -> Option<f64> {
    line.split(key).nth(1)?.split_whitespace().next()?.trim_start_matches('(').parse().ok()
}

/// One session across the lab: the console runs `script` with `env`.
fn session(
    lab: &Lab,
    server: &Rendezvous,
    display: &str,
    dir: &Path,
    script: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<Run> {
    std::fs::create_dir_all(dir.join("downloads"))?;
    let file = dir.join("script.txt");
    std::fs::write(&file, script)?;
    let mut console =
        console_env(Some(&lab.ns(Host::Technician)), server, "alice", &file, &dir.join("console"), env)?;
    let code = read_code(&console)?;
    let down = dir.join("downloads").display().to_string();
    let mut agent = agent_in(
        Some(&lab.ns(Host::Customer)),
        server,
        display,
        &code,
        Some("view,files"),
        &dir.join("agent"),
        &["--downloads", &down],
    )?;
    // Long enough for 1 GB at a few Mbit/s.
    let ok = console.wait_exit(Duration::from_secs(3600))?.success();
    let _ = agent.wait_exit(Duration::from_secs(30));
    if !ok {
        bail!("the console failed:\n{}\n{}", console.all_output(), agent.all_output());
    }
    let (out, agent_out) = (console.all_output(), agent.all_output());
    let mbit = out.lines().find(|l| l.starts_with("sent: ")).and_then(|l| {
        let rate = l.rsplit('(').next()?;
        rate.split_whitespace().next()?.parse().ok()
    });
    let frames = agent_out
        .lines()
        .find(|l| l.contains("frames acknowledged"))
        .and_then(|l| Some((number_after(l, " p50 ")?, number_after(l, " p95 ")?)));
    let chat = out
        .lines()
        .filter(|l| l.contains("chat: delivered"))
        .filter_map(|l| number_after(l, " in "))
        .collect();
    Ok(Run { mbit, frames, chat })
}

fn pings(n: usize, every_ms: u64) -> String {
    (0..n).map(|i| format!("chat ping {i}\nwait {every_ms}\n")).collect()
}

/// Runs everything (or with `only_scp`, just the scp rows); needs root
/// (namespaces), sshd and socat.
pub fn run(display: &str, only_scp: bool) -> anyhow::Result<Report> {
    let megabytes: usize =
        std::env::var("TETHER_BENCH_TRANSFER_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    // 10 ms each way on each side's uplink: 40 ms between the peers. The
    // loss on each side makes about 0.5 % on the path, each way.
    let shape: Shape = "10ms 0.25% 50mbit".parse()?;
    let (lab, dir, server) = crate::net::shaped_lab(Nat::Cone, shape)?;
    // Something on screen that changes ten times a second, as office work.
    let mut clock = Proc::spawn(
        "clock",
        PathBuf::from("xterm"),
        &["-geometry", "100x30+0+0", "-e", "sh", "-c", "while :; do date +%T.%N; sleep 0.1; done"],
        &[("DISPLAY", display)],
    )?;
    std::thread::sleep(Duration::from_secs(1));

    let big = file_of(dir.path(), "big.bin", megabytes)?;
    if only_scp {
        let scp = scp_rows(&lab, dir.path(), &big)?;
        return Ok(Report { shape: shape.to_string(), sessions: Vec::new(), scp });
    }
    let small = file_of(dir.path(), "small.bin", megabytes.min(50))?;
    let mut sessions = Vec::new();
    let quiet = format!("wait-frame\n{}end\n", pings(15, 1000));
    sessions.push((
        "no transfer".to_owned(),
        session(&lab, &server, display, &dir.path().join("s0"), &quiet, &[])?,
    ));
    // Pings every 2 s for as long as a 1 GB transfer takes at the target.
    let busy = |file: &Path, n: usize| {
        format!(
            "wait-frame\nwait 2000\nsend-bg {} Downloads\n{}wait-transfers\nend\n",
            file.display(),
            pings(n, 2000)
        )
    };
    let label = format!("{megabytes} MB, our controller");
    let n = (megabytes * 8 / 45 / 2).clamp(5, 100);
    sessions.push((label, session(&lab, &server, display, &dir.path().join("s1"), &busy(&big, n), &[])?));
    for cc in ["cubic", "bbr"] {
        let label = format!("{} MB, quinn {}", megabytes.min(50), if cc == "bbr" { "BBR" } else { "Cubic" });
        let env = [("TETHER_CONGESTION", cc)];
        let run = session(&lab, &server, display, &dir.path().join(cc), &busy(&small, 5), &env)?;
        sessions.push((label, run));
    }
    clock.kill();

    let scp = scp_rows(&lab, dir.path(), &big)?;
    drop(server);
    Ok(Report { shape: shape.to_string(), sessions, scp })
}

/// scp through a port forward on the customer's NAT, for at most 60 s with
/// each congestion control: (label, Mbit/s).
fn scp_rows(lab: &Lab, dir: &Path, file: &Path) -> anyhow::Result<Vec<(String, f64)>> {
    let ssh = dir.join("ssh");
    std::fs::create_dir_all(&ssh)?;
    for key in ["host", "client"] {
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(ssh.join(key))
            .output()
            .context("ssh-keygen (install openssh-client)")?;
        if !out.status.success() {
            bail!("ssh-keygen failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    std::fs::copy(ssh.join("client.pub"), ssh.join("authorized_keys"))?;
    let config = ssh.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port 22\nListenAddress 10.1.0.2\nHostKey {0}/host\nAuthorizedKeysFile {0}/authorized_keys\n\
             PermitRootLogin yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             StrictModes no\nPidFile none\nSubsystem sftp internal-sftp\n",
            ssh.display()
        ),
    )?;
    // A port forward on the customer's router, as a customer would set up.
    for rule in [
        "add chain ip lab portfwd { type nat hook prerouting priority -100 ; }",
        "add rule ip lab portfwd iifname wan tcp dport 2222 dnat to 10.1.0.2:22",
        "insert rule ip lab pre iifname wan ct status dnat accept",
    ] {
        let out = lab.exec(Host::CustomerNat, &["nft", rule])?;
        if !out.status.success() {
            bail!("nft {rule}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let sshd = format!(
        "mount -t tmpfs tmpfs /run && mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -f {}",
        config.display()
    );
    let ns = lab.ns(Host::Customer);
    let mut daemon =
        Proc::spawn("sshd", PathBuf::from("ip"), &["netns", "exec", &ns, "sh", "-c", &sshd], &[])
            .context("starting sshd (install openssh-server)")?;
    std::thread::sleep(Duration::from_secs(1));
    let mut rows = Vec::new();
    for cc in ["bbr", "cubic"] {
        let dest = format!("/tmp/tether-scp-{cc}-{}", std::process::id());
        let proxy = format!("ProxyCommand=socat - TCP:{CUSTOMER_NAT_IP}:2222,setsockopt-string=6:13:{cc}");
        let key = ssh.join("client").display().to_string();
        let start = Instant::now();
        let status = Command::new("ip")
            .args(["netns", "exec", &lab.ns(Host::Technician), "timeout", "60", "scp", "-q", "-i", &key])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "BatchMode=yes",
            ])
            .args(["-o", &proxy])
            .arg(file)
            .arg(format!("root@customer:{dest}"))
            .status()
            .context("running scp")?;
        let seconds = start.elapsed().as_secs_f64();
        // The customer's /tmp is this machine's: namespaces share files.
        let got = std::fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
        let _ = std::fs::remove_file(&dest);
        if got == 0 {
            bail!("scp with {cc} moved nothing (exit {status})");
        }
        rows.push((format!("scp, TCP {}", cc.to_uppercase()), got as f64 * 8.0 / seconds / 1e6));
    }
    daemon.kill();
    Ok(rows)
}
