//! The help-request queue through the real programs: a customer asks a
//! desk for help from the agent, a technician of that desk takes the
//! request and the session runs on the key the server handed both sides;
//! fields the desk refuses never reach the queue, and the record and the
//! audit log keep the request.

use std::time::Duration;

use tether_e2e::desk::{self, xdotool};
use tether_e2e::service::{admin, ask, billing_desk, claim_next};
use tether_e2e::{PASSWORD, Rendezvous, STEP, Xvfb, console_window};

#[test]
fn a_customer_asks_a_desk_and_a_technician_of_that_desk_takes_the_session() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let data = billing_desk(tmp.path())?;
    let server = Rendezvous::start(&data, &[])?;
    let x = Xvfb::start("1024x768x24")?;

    // A field the desk refuses: the customer is told, nothing is queued.
    let mut refused = ask(&server, &x.display, &tmp.path().join("agent"), "12ab")?;
    assert!(!refused.wait_exit(STEP)?.success(), "a refused request went through");
    refused.wait_for_stderr("Account number is not in the expected format", Duration::from_secs(1))?;

    let mut agent = ask(&server, &x.display, &tmp.path().join("agent"), "1234")?;
    agent.wait_for_stdout("queued: request 1, position 1", STEP)?;
    let script = tmp.path().join("script.txt");
    std::fs::write(
        &script,
        "wait-frame\nchat Hello Carol, I am on it\nnote Replaced the printer driver\nend\n",
    )?;
    let mut console = claim_next(&server, "alice", &tmp.path().join("console"), 30, &script)?;
    assert!(console.wait_exit(STEP)?.success(), "console failed:\n{}", console.all_output());
    agent.wait_exit(STEP)?;
    let out = console.all_output();
    assert!(out.contains("claimed: request 1 from Carol (billing): The printer is offline"), "{out}");
    assert!(out.contains("path: direct"), "{out}");
    assert!(out.contains("first frame: "), "{out}");
    agent.wait_for_stdout("technician: Hello Carol, I am on it", Duration::from_secs(1))?;
    // Both ends derived the same words from the handshake on the server's key.
    let sas = |all: &str| all.lines().find_map(|l| l.strip_prefix("sas: ").map(str::to_owned));
    assert_eq!(sas(&out), sas(&agent.all_output()), "the two ends disagree on the key");

    drop(server);
    let records = admin(&data, &["sessions"])?;
    let row = records.lines().find(|l| l.contains("Carol")).unwrap_or_default();
    assert!(row.contains("\tbilling\tCarol [account=1234] waited "), "{row}");
    assert!(row.ends_with("\t4/5 Quick and friendly\tReplaced the printer driver"), "{row}");
    let csv = admin(&data, &["report", "--group-by", "desk", "--format", "csv"])?;
    let billing = csv.lines().find(|l| l.starts_with("billing,")).unwrap_or_default();
    let cells: Vec<&str> = billing.split(',').collect();
    // One session, its survey of 4, direct.
    assert_eq!(
        (cells.get(1), cells.get(5), cells.get(6), cells.get(7)),
        (Some(&"1"), Some(&"4.00"), Some(&"1"), Some(&"100.0")),
        "{csv}"
    );
    let log = admin(&data, &["audit", "list"])?;
    assert!(log.contains("request 1 on billing claimed by alice"), "{log}");
    Ok(())
}

#[test]
fn kill_9_while_twenty_queue_sessions_run_loses_no_acknowledged_record() -> anyhow::Result<()> {
    const SESSIONS: usize = 20;
    let tmp = tempfile::tempdir()?;
    let data = billing_desk(tmp.path())?;
    let mut server = Rendezvous::start(&data, &["--no-turn"])?;
    let x = Xvfb::start("640x480x24")?;
    let script = tmp.path().join("script.txt");
    // Sessions that outlive the server.
    std::fs::write(&script, "wait-frame\nwait 60000\nend\n")?;
    let mut running = Vec::new();
    for i in 0..SESSIONS {
        let agent = ask(&server, &x.display, &tmp.path().join(format!("agent{i}")), &format!("{i}"))?;
        agent.wait_for_stdout("queued: request", STEP)?;
        let console = claim_next(&server, "alice", &tmp.path().join(format!("console{i}")), 60, &script)?;
        running.push((console, agent));
    }
    // Every claim was acknowledged and every session shows the screen.
    for (console, _) in &running {
        console.wait_for_stdout("first frame: ", STEP)?;
    }
    server.proc.kill(); // SIGKILL while all twenty run
    drop(running);

    let records = admin(&data, &["sessions"])?;
    let queued: Vec<&str> = records.lines().filter(|l| l.contains("\tbilling\t")).collect();
    assert_eq!(queued.len(), SESSIONS, "claimed sessions missing from the record:\n{records}");
    let verified = admin(&data, &["audit", "verify"])?;
    assert!(verified.contains("audit log intact"), "{verified}");
    let log = admin(&data, &["audit", "list"])?;
    assert_eq!(log.lines().filter(|l| l.contains("claimed by alice")).count(), SESSIONS, "{log}");
    assert!(log.lines().filter(|l| l.ends_with("login alice")).count() >= SESSIONS, "{log}");
    Ok(())
}

#[test]
fn the_console_dashboard_follows_the_queue_and_takes_a_request() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let data = billing_desk(tmp.path())?;
    let server = Rendezvous::start(&data, &[])?;
    let (customer, tech_x) = (Xvfb::start("1024x768x24")?, Xvfb::start("1280x800x24")?);
    let tech = tech_x.display.clone();
    let console = console_window(&server, &tech, &tmp.path().join("console"), Some(PASSWORD), &[])?;
    let window = desk::wait_window_named(&tech, "Tether console", STEP)?;
    console.wait_for_stdout("queue: 0 waiting", STEP)?;

    // Requests appear as they come and vanish when withdrawn.
    let mut first = ask(&server, &customer.display, &tmp.path().join("agent1"), "1111")?;
    console.wait_for_stdout("queue: Added(QueueItem { request: 1,", STEP)?;
    let mut second = ask(&server, &customer.display, &tmp.path().join("agent2"), "2222")?;
    console.wait_for_stdout("queue: Added(QueueItem { request: 2,", STEP)?;
    second.kill();
    console.wait_for_stdout("queue: Removed(2)", STEP)?;

    // Ctrl+T takes the oldest: the session starts and the request is gone.
    desk::focus(&tech, &window)?;
    xdotool(&tech, &["key", "ctrl+t"])?;
    console.wait_for_stdout("claimed: request 1 from Carol", STEP)?;
    console.wait_for_stdout("queue: Removed(1)", STEP)?;
    console.wait_for_stdout("consent: view=true", STEP)?;
    first.wait_for_stdout("path: direct", STEP)?;
    assert!(first.try_status()?.is_none(), "the customer's session ended:\n{}", first.all_output());
    Ok(())
}
