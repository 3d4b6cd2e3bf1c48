//! File transfer between the real programs: 200 MB each way, cut off
//! mid-transfer by killing both ends and resumed in a new session, a
//! corrupted chunk caught and sent again, traversal refused, a full disk
//! refused cleanly, and a refusal that writes nothing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tether_e2e::{Proc, STEP, Scene, read_code};

const BIG: usize = 200 * 1000 * 1000;

/// `len` bytes that do not repeat (so no layer can compress them away).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn write_noise(path: &Path, len: usize, seed: u64) -> anyhow::Result<Vec<u8>> {
    let bytes = noise(len, seed);
    std::fs::write(path, &bytes)?;
    Ok(bytes)
}

fn dir(scene: &Scene, name: &str) -> anyhow::Result<PathBuf> {
    let d = scene.path(name);
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// Waits until the receiver's first checkpoint (16 MiB synced) is on disk.
fn wait_checkpoint(folder: &Path) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let states = std::fs::read_dir(folder)?
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().ends_with(".state"));
        if states {
            return Ok(());
        }
        if start.elapsed() > STEP {
            bail!("no checkpoint appeared in {}", folder.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `script` in a console and an agent with `extra`, both to the end.
fn session(scene: &Scene, script: &str, extra: &[&str]) -> anyhow::Result<(Proc, Proc)> {
    let mut console = scene.console(script)?;
    let code = read_code(&console)?;
    let mut agent = scene.agent_env(&code, "view,files", extra, &[])?;
    let ok = console.wait_exit(STEP)?.success();
    agent.wait_exit(STEP)?;
    if !ok {
        bail!("console failed:\n{}\nagent:\n{}", console.all_output(), agent.all_output());
    }
    Ok((console, agent))
}

/// Starts a session running `script`, kills both ends once `receiver`
/// holds a checkpoint, and checks nothing final was left there.
fn cut_off(scene: &Scene, script: &str, extra: &[&str], receiver: &Path, name: &str) -> anyhow::Result<()> {
    let console = scene.console(script)?;
    let code = read_code(&console)?;
    let agent = scene.agent_env(&code, "view,files", extra, &[])?;
    wait_checkpoint(receiver)
        .with_context(|| format!("console:\n{}\nagent:\n{}", console.all_output(), agent.all_output()))?;
    // Both ends die at once: the link is gone and neither says goodbye.
    for mut p in [console, agent] {
        p.kill();
    }
    assert!(!receiver.join(name).exists(), "a cut-off transfer left a final file");
    Ok(())
}

fn resumed_at(out: &str) -> u64 {
    out.lines()
        .find_map(|l| {
            l.strip_prefix("resumed: ")?.rsplit(" at ").next()?.strip_suffix(" bytes")?.parse().ok()
        })
        .unwrap_or(0)
}

#[test]
fn two_hundred_megabytes_each_way_survive_a_cut_and_resume() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let (local, downloads, shared, fetched) =
        (dir(&scene, "local")?, dir(&scene, "downloads")?, dir(&scene, "Shared")?, dir(&scene, "fetched")?);
    let down = downloads.display().to_string();
    let share = shared.display().to_string();
    let extra = ["--downloads", &down, "--share", &share];

    // To the customer.
    let big = local.join("big.bin");
    let sent = write_noise(&big, BIG, 11)?;
    let script = format!("send {} Downloads\nend\n", big.display());
    cut_off(&scene, &script, &extra, &downloads, "big.bin")?;
    let (console, agent) = session(&scene, &script, &extra)?;
    let at = resumed_at(&agent.all_output());
    assert!(at >= 16 << 20 && at < BIG as u64, "the agent did not resume:\n{}", agent.all_output());
    console.wait_for_stdout("sent: ", STEP)?;
    assert!(std::fs::read(downloads.join("big.bin"))? == sent, "the received file differs");
    let names: Vec<_> =
        std::fs::read_dir(&downloads)?.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>()?;
    assert_eq!(names, ["big.bin"], "partial files were left behind");

    // From the customer.
    let theirs = shared.join("log.bin");
    let original = write_noise(&theirs, BIG, 12)?;
    let script = format!("fetch Shared/log.bin {}\nend\n", fetched.display());
    cut_off(&scene, &script, &extra, &fetched, "log.bin")?;
    let (console, _agent) = session(&scene, &script, &extra)?;
    let at = resumed_at(&console.all_output());
    assert!(at >= 16 << 20 && at < BIG as u64, "the console did not resume:\n{}", console.all_output());
    assert!(std::fs::read(fetched.join("log.bin"))? == original, "the fetched file differs");
    Ok(())
}

#[test]
fn a_corrupted_chunk_is_caught_and_sent_again() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let (local, downloads) = (dir(&scene, "local")?, dir(&scene, "downloads")?);
    let file = local.join("tool.bin");
    let bytes = write_noise(&file, 3 << 20, 5)?;
    let down = downloads.display().to_string();
    let mut console = scene.console_env(
        &format!("send {} Downloads\nend\n", file.display()),
        &[("TETHER_FAULT_CORRUPT_CHUNK", "2")],
    )?;
    let code = read_code(&console)?;
    let mut agent = scene.agent_env(&code, "view,files", &["--downloads", &down], &[])?;
    assert!(console.wait_exit(STEP)?.success(), "console failed:\n{}", console.all_output());
    agent.wait_exit(STEP)?;
    agent.wait_for_stderr("a chunk failed its hash; asking for it again", Duration::from_secs(1))?;
    console.wait_for_stderr("the receiver asked for a chunk again", Duration::from_secs(1))?;
    assert!(std::fs::read(downloads.join("tool.bin"))? == bytes, "the file differs");
    Ok(())
}

#[test]
fn a_refusal_writes_nothing_and_traversal_never_leaves_the_folder() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let (local, downloads, shared) =
        (dir(&scene, "local")?, dir(&scene, "downloads")?, dir(&scene, "Shared")?);
    std::fs::write(scene.path("secret.txt"), "not shared")?;
    std::fs::create_dir_all(shared.join(".ssh"))?;
    std::fs::write(shared.join(".ssh/id_ed25519"), "private")?;
    std::os::unix::fs::symlink(scene.path("secret.txt"), shared.join("link.txt"))?;
    let file = local.join("a.txt");
    std::fs::write(&file, "hello")?;
    let (down, share) = (downloads.display().to_string(), shared.display().to_string());
    let extra = ["--downloads", down.as_str(), "--share", share.as_str()];

    // The customer says no to files (view only): nothing is written.
    let mut console = scene.console(&format!("send {} Downloads\nend\n", file.display()))?;
    let code = read_code(&console)?;
    let mut agent = scene.agent_env(&code, "view", &extra, &[])?;
    assert!(!console.wait_exit(STEP)?.success(), "a refused send succeeded");
    agent.wait_exit(STEP)?;
    console.wait_for_stderr("the customer declined", Duration::from_secs(1))?;
    assert_eq!(std::fs::read_dir(&downloads)?.count(), 0, "a refused file left bytes behind");

    // A symbolic link out of the shared folder, and a private folder.
    for (path, why) in [("Shared/link.txt", "no such file"), ("Shared/.ssh/id_ed25519", "private folder")] {
        let mut console = scene.console(&format!("fetch {path} {}\nend\n", local.display()))?;
        let code = read_code(&console)?;
        let mut agent = scene.agent_env(&code, "view,files", &extra, &[])?;
        assert!(!console.wait_exit(STEP)?.success(), "fetching {path} succeeded");
        agent.wait_exit(STEP)?;
        console.wait_for_stderr(why, Duration::from_secs(1))?;
    }
    assert!(!local.join("link.txt").exists() && !local.join("id_ed25519").exists());

    // Only Downloads takes files, and not through a link out of it.
    std::os::unix::fs::symlink(scene.path("local"), downloads.join("out"))?;
    for (to, why) in
        [("Shared", "only be sent into"), ("Downloads/out/new", "not inside the customer's Downloads")]
    {
        let mut console = scene.console(&format!("send {} {to}\nend\n", file.display()))?;
        let code = read_code(&console)?;
        let mut agent = scene.agent_env(&code, "view,files", &extra, &[])?;
        assert!(!console.wait_exit(STEP)?.success(), "sending into {to} succeeded");
        agent.wait_exit(STEP)?;
        console.wait_for_stderr(why, Duration::from_secs(1))?;
    }
    assert_eq!(std::fs::read_dir(&local)?.count(), 1, "a file or folder was made through the link");

    // Traversal never gets as far as the customer.
    for bad in ["send a ../x", "send a /etc", "fetch /etc/passwd /tmp", "fetch Shared/../x /tmp"] {
        let mut console = scene.console(&format!("{bad}\nend\n"))?;
        assert!(!console.wait_exit(STEP)?.success(), "{bad:?} was accepted");
        console.wait_for_stderr("script line 1:", Duration::from_secs(1))?;
    }
    Ok(())
}

#[test]
fn a_full_disk_is_a_clear_error_and_leaves_no_partial_file() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let (local, small) = (dir(&scene, "local")?, dir(&scene, "small")?);
    let mount = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tether-test", &small.display().to_string()])
        .status()?;
    if !mount.success() {
        bail!("could not mount a small tmpfs (this test needs root, as CI has)");
    }
    let _unmount = Unmount(small.clone());
    let file = local.join("huge.bin");
    write_noise(&file, 8 << 20, 3)?;
    let down = small.display().to_string();
    let mut console = scene.console(&format!("send {} Downloads\nend\n", file.display()))?;
    let code = read_code(&console)?;
    let mut agent = scene.agent_env(&code, "view,files", &["--downloads", &down], &[])?;
    assert!(!console.wait_exit(STEP)?.success(), "a send to a full disk succeeded");
    agent.wait_exit(STEP)?;
    console.wait_for_stderr("the receiving disk is full", Duration::from_secs(1))?;
    let left: Vec<_> = std::fs::read_dir(&small)?.collect();
    assert!(left.is_empty(), "files were left on the full disk: {left:?}");
    Ok(())
}

struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn canned_replies_and_the_session_record_keep_chat_and_files() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("rendezvous");
    tether_e2e::Rendezvous::add_technician(&data, "alice")?;
    let admin = |args: &[&str]| -> anyhow::Result<String> {
        let out = std::process::Command::new(tether_e2e::bin("tether-rendezvous")?)
            .arg("--data")
            .arg(&data)
            .args(args)
            .output()?;
        if !out.status.success() {
            bail!("rendezvous {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    admin(&["canned", "add", "Please save your work; I will restart the printer."])?;
    admin(&["canned", "add", "One moment, please."])?;
    assert!(admin(&["canned", "remove", "7"]).is_err(), "removing a reply that is not there succeeded");
    assert!(admin(&["canned", "list"])?.contains("2\tOne moment, please."));
    let scene = Scene {
        server: tether_e2e::Rendezvous::start(&data, &[])?,
        x: tether_e2e::Xvfb::start("1280x800x24")?,
        dir: tmp,
    };
    let (local, downloads) = (dir(&scene, "local")?, dir(&scene, "downloads")?);
    let file = local.join("fix.sh");
    std::fs::write(&file, "#!/bin/sh\necho fixed\n")?;
    let down = downloads.display().to_string();
    let script = format!("wait-frame\nchat-canned 2\nsend {} Downloads\nwait 500\nend\n", file.display());
    let (_console, agent) = session(&scene, &script, &["--downloads", &down])?;
    agent.wait_for_stdout("technician: One moment, please.", Duration::from_secs(1))?;
    // The server holds its database; stop it to read the records.
    let Scene { server, x, dir: _tmp } = scene;
    drop(server);
    drop(x);
    let sessions = admin(&["sessions"])?;
    let row = sessions.lines().last().context("no session record")?;
    let columns: Vec<&str> = row.split('\t').collect();
    assert_eq!(columns.get(9), Some(&"1"), "the chat line is not in the record: {row}");
    let files = columns.get(10).copied().unwrap_or_default();
    assert!(files.starts_with(">fix.sh:21:"), "the file is not in the record: {row}");
    Ok(())
}

#[test]
fn the_technician_browses_only_what_the_customer_shares() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let (local, shared) = (dir(&scene, "local")?, dir(&scene, "Shared")?);
    std::fs::create_dir_all(shared.join("logs"))?;
    std::fs::create_dir_all(shared.join(".ssh"))?;
    std::fs::create_dir_all(shared.join("many"))?;
    std::fs::write(shared.join("logs/today.log"), "12345")?;
    std::fs::write(shared.join("notes.txt"), "hi")?;
    std::fs::write(scene.path("secret.txt"), "not shared")?;
    std::os::unix::fs::symlink(scene.path("secret.txt"), shared.join("link.txt"))?;
    // More than one page of entries.
    let long = "x".repeat(120);
    for i in 0..600 {
        std::fs::write(shared.join("many").join(format!("{long}{i:03}")), "")?;
    }
    let share = shared.display().to_string();
    let script = format!(
        "ls\nls Shared\nls Shared/logs\nls Shared/many\nfetch Shared/logs/today.log {}\nend\n",
        local.display()
    );
    let (console, agent) = session(&scene, &script, &["--share", &share])?;
    let out = console.all_output();
    let listed: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("ls: ")).take(9).collect();
    assert_eq!(
        listed,
        [
            "shared folders: 1 entries",
            "Shared/",
            "Shared: 3 entries",
            "logs/",
            "many/",
            "notes.txt 2",
            "Shared/logs: 1 entries",
            "today.log 5",
            "Shared/many: 600 entries",
        ],
        "{out}"
    );
    assert_eq!(out.lines().filter(|l| l.starts_with(&format!("ls: {long}"))).count(), 600);
    assert_eq!(std::fs::read_to_string(local.join("today.log"))?, "12345");
    agent.wait_for_stdout("listed: Shared/logs (1 entries)", Duration::from_secs(1))?;

    // A private folder, and folders the customer does not share.
    for (path, why) in [
        ("Shared/.ssh", "private folder"),
        ("Downloads", "does not share a folder called “Downloads”"),
        ("Shared/link.txt", "no such file"),
    ] {
        let mut console = scene.console(&format!("ls {path}\nend\n"))?;
        let code = read_code(&console)?;
        let mut agent = scene.agent_env(&code, "view", &["--share", &share], &[])?;
        assert!(!console.wait_exit(STEP)?.success(), "listing {path} succeeded");
        agent.wait_exit(STEP)?;
        console.wait_for_stderr(why, Duration::from_secs(1))?;
    }
    Ok(())
}
