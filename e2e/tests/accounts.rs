//! Accounts, desks and the audit log through the real server and command
//! line: roles and desks are checked, wrong passwords lock an account, a
//! disabled account cannot log in, every change and login is in the audit
//! log, and one changed byte in the stored log is found and named.

use std::path::Path;
use std::time::Duration;

use anyhow::bail;
use tether_e2e::{PASSWORD, Proc, Rendezvous, STEP, bin, console_args};

/// Runs `tether-rendezvous --data DATA ARGS` with `stdin`; its status and output.
fn admin(data: &Path, args: &[&str], stdin: &str) -> anyhow::Result<(bool, String)> {
    let data = data.display().to_string();
    let mut all = vec!["--data", data.as_str()];
    all.extend_from_slice(args);
    let mut p = Proc::spawn_with_stdin("admin", bin("tether-rendezvous")?, &all, &[], stdin)?;
    let ok = p.wait_exit(STEP)?.success();
    Ok((ok, p.all_output()))
}

fn must(data: &Path, args: &[&str], stdin: &str) -> anyhow::Result<String> {
    let (ok, out) = admin(data, args, stdin)?;
    if !ok {
        bail!("{args:?} failed:\n{out}");
    }
    Ok(out)
}

/// A console login as `user`; its output once it made a code or failed.
fn log_in(server: &Rendezvous, dir: &Path, user: &str, password: &str) -> anyhow::Result<(bool, String)> {
    let args = console_args(server, user, dir);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut p =
        Proc::spawn_with_stdin("console", bin("tether-console")?, &args, &[], &format!("{password}\n"))?;
    let start = std::time::Instant::now();
    loop {
        if p.all_output().contains("code: ") {
            p.kill();
            return Ok((true, p.all_output()));
        }
        if let Some(status) = p.try_status()? {
            return Ok((status.success(), p.all_output()));
        }
        if start.elapsed() > STEP {
            bail!("the console neither logged in nor failed:\n{}", p.all_output());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn accounts_lock_out_disable_and_every_change_is_audited() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("server");
    let pw = format!("{PASSWORD}\n");
    // Desks first; a technician of a missing desk is refused.
    let (ok, out) =
        admin(&data, &["technician", "add", "alice", "--desk", "billing", "--password-stdin"], &pw)?;
    assert!(!ok && out.contains("there is no desk called \"billing\""), "{out}");
    let (ok, out) =
        admin(&data, &["desk", "add", "billing", "--field", "account:Account:required:8:[0-9"], "")?;
    assert!(!ok && out.contains("is not valid"), "{out}");
    must(
        &data,
        &[
            "desk",
            "add",
            "billing",
            "--field",
            "account:Account number:required:8:[0-9]+",
            "--timeout",
            "300",
        ],
        "",
    )?;
    must(&data, &["technician", "add", "alice", "--desk", "billing", "--password-stdin"], &pw)?;
    must(
        &data,
        &["technician", "add", "sam", "--role", "supervisor", "--desk", "billing", "--password-stdin"],
        &pw,
    )?;
    let (ok, out) = admin(&data, &["technician", "add", "eve", "--role", "boss", "--password-stdin"], &pw)?;
    assert!(!ok && out.contains("technician, supervisor or admin"), "{out}");
    let list = must(&data, &["technician", "list"], "")?;
    assert!(list.contains("alice\t\ttechnician\tbilling\tenabled"), "{list}");
    assert!(list.contains("sam\t\tsupervisor\tbilling\tenabled"), "{list}");
    let desks = must(&data, &["desk", "list"], "")?;
    assert!(desks.contains("billing\t300\taccount:Account number:required:8:[0-9]+"), "{desks}");

    // Five wrong passwords lock alice, even with the right one after.
    let server = Rendezvous::start(&data, &["--no-turn"])?;
    let dir = tmp.path().join("console");
    assert!(log_in(&server, &dir, "alice", PASSWORD)?.0, "alice could not log in");
    for i in 0..5 {
        let (ok, out) = log_in(&server, &dir, "alice", "wrong password")?;
        assert!(!ok && out.contains("wrong user name or password"), "try {i}: {out}");
    }
    let (ok, out) = log_in(&server, &dir, "alice", PASSWORD)?;
    assert!(!ok && out.contains("this account is locked"), "{out}");
    // Others are not locked with her.
    assert!(log_in(&server, &dir, "sam", PASSWORD)?.0, "sam was locked too");
    drop(server);

    must(&data, &["technician", "disable", "sam"], "")?;
    let server = Rendezvous::start(&data, &["--no-turn"])?;
    let (ok, out) = log_in(&server, &dir, "sam", PASSWORD)?;
    assert!(!ok && out.contains("this account is disabled"), "{out}");
    drop(server);

    let log = must(&data, &["audit", "list"], "")?;
    for event in [
        "admin: added desk billing",
        "admin: added technician alice (desks: billing)",
        "login alice",
        "failed login \"alice\"",
        "locked out alice for 300 s",
        "login sam",
        "admin: changed sam: supervisor, desks billing, disabled",
    ] {
        assert!(log.contains(event), "the audit log lacks {event:?}:\n{log}");
    }
    let verified = must(&data, &["audit", "verify"], "")?;
    assert!(verified.contains("audit log intact"), "{verified}");

    // One byte of entry 3 changed on disk: verify names that entry.
    {
        let store = tether_rendezvous::open_store(&data)?;
        let tree = store.audit_tree();
        let mut bytes = tree.get(3u64.to_be_bytes())?.expect("entry 3").to_vec();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x20;
        tree.insert(3u64.to_be_bytes(), bytes)?;
        tree.flush()?;
    }
    let (ok, out) = admin(&data, &["audit", "verify"], "")?;
    assert!(!ok, "a changed audit log verified:\n{out}");
    assert!(out.contains("entry 3"), "{out}");
    Ok(())
}
