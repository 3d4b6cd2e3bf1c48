//! The lab's link emulator: a shaped cable really delays, drops and paces
//! traffic, measured with ping and iperf3 across the lab, and nothing of it
//! is left behind.

use std::process::Command;

use tether_e2e::lab::{self, Host, Lab, Nat, SERVER_IP};

/// Pings the server from the customer: how many answers, and the fastest
/// round trip in ms (the first ping also waits for ARP across the link).
fn ping(lab: &Lab, count: &str, interval: &str) -> anyhow::Result<(usize, f64)> {
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.ns(Host::Customer), "ping", "-n", "-q", "-c", count, "-i", interval])
        .args(["-W", "1", SERVER_IP])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let received = text
        .split(", ")
        .find_map(|p| p.strip_suffix(" received"))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no ping summary in {text}"))?;
    let min = text
        .lines()
        .find(|l| l.starts_with("rtt"))
        .and_then(|l| l.split(" = ").nth(1))
        .and_then(|v| v.split('/').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    Ok((received, min))
}

#[test]
fn a_shaped_link_delays_drops_and_paces_and_leaves_nothing_behind() -> anyhow::Result<()> {
    let prefix = lab::unique_prefix();
    let lab = Lab::up(&prefix, Nat::Cone)?;
    let (received, plain) = ping(&lab, "5", "0.1")?;
    assert_eq!(received, 5);
    assert!(plain < 5.0, "an unshaped lab link is fast: {plain} ms");

    lab.shape(Host::Customer, "20ms 0 0".parse()?)?;
    let (received, rtt) = ping(&lab, "5", "0.1")?;
    assert_eq!(received, 5);
    println!("shaped 20 ms each way: {rtt:.1} ms round trip");
    assert!((40.0..46.0).contains(&rtt), "20 ms each way should be a 40 ms round trip, got {rtt} ms");

    // 30 % each way: a ping and its answer both survive about half the time.
    lab.shape(Host::Customer, "0 30% 0".parse()?)?;
    let (received, _) = ping(&lab, "60", "0.02")?;
    println!("30% loss each way: {received} of 60 pings answered");
    assert!((12..=48).contains(&received), "about 29 of 60 expected, got {received}");

    lab.shape(Host::Customer, "0 0 10mbit".parse()?)?;
    let server = Command::new("ip")
        .args(["netns", "exec", &lab.ns(Host::Public), "iperf3", "-s", "-1", "-B", SERVER_IP])
        .stdout(std::process::Stdio::null())
        .spawn()?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = lab.exec(Host::Customer, &["iperf3", "-c", SERVER_IP, "-t", "3", "-J"])?;
    let json = String::from_utf8_lossy(&out.stdout);
    let bps: f64 = json
        .split("\"sum_received\"")
        .nth(1)
        .and_then(|s| s.split("\"bits_per_second\":").nth(1))
        .and_then(|s| s.split([',', '\n', '}']).next())
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no throughput in iperf3's report"))?;
    let mut server = server;
    let _ = server.wait();
    println!("10 Mbit/s: iperf3 moved {:.2} Mbit/s", bps / 1e6);
    assert!((6e6..10.5e6).contains(&bps), "10 Mbit/s asked, {:.1} Mbit/s measured", bps / 1e6);

    drop(lab);
    let links = Command::new("ip").args(["-o", "link"]).output()?;
    let netns = Command::new("ip").args(["netns", "list"]).output()?;
    let left =
        format!("{}{}", String::from_utf8_lossy(&links.stdout), String::from_utf8_lossy(&netns.stdout));
    assert!(!left.contains(&prefix), "the lab left {prefix} behind:\n{left}");
    Ok(())
}
