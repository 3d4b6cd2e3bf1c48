//! Service-desk fixtures: the server's admin commands (run with the server
//! stopped), a billing desk with alice serving it, a customer asking it for
//! help, and a technician claiming the next request with a script.

use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::{PASSWORD, Proc, Rendezvous, STEP, agent_args, bin, console_args};

/// Runs `tether-rendezvous --data DATA ARGS…` (the password on stdin) and
/// returns what it printed.
pub fn admin(data: &Path, args: &[&str]) -> anyhow::Result<String> {
    let data = data.display().to_string();
    let mut all = vec!["--data", data.as_str()];
    all.extend_from_slice(args);
    let mut p =
        Proc::spawn_with_stdin("admin", bin("tether-rendezvous")?, &all, &[], &format!("{PASSWORD}\n"))?;
    if !p.wait_exit(STEP)?.success() {
        bail!("{args:?} failed:\n{}", p.all_output());
    }
    Ok(p.all_output())
}

/// A server data directory under `dir` with the billing desk and alice
/// serving it.
pub fn billing_desk(dir: &Path) -> anyhow::Result<PathBuf> {
    let data = dir.join("server");
    admin(&data, &["desk", "add", "billing", "--field", "account:Account number:required:8:[0-9]+"])?;
    admin(&data, &["technician", "add", "alice", "--desk", "billing", "--password-stdin"])?;
    Ok(data)
}

/// Carol asks the billing desk for help from an agent on `display`, with
/// her account number, and answers the survey with 4 in advance.
pub fn ask(server: &Rendezvous, display: &str, data: &Path, account: &str) -> anyhow::Result<Proc> {
    let field = format!("account={account}");
    let survey = "4:Quick and friendly";
    let extra =
        ["--desk", "billing", "--name", "Carol", "--problem", "The printer is offline", "--field", &field];
    let extra: Vec<&str> = extra.into_iter().chain(["--survey", survey]).collect();
    let args = agent_args(server, "", Some("view"), data, &extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Proc::spawn("agent", bin("tether-agent")?, &args, &[("DISPLAY", display)])
}

/// A headless console that logs in as `user`, claims the next request
/// within `secs` and runs `script`.
pub fn claim_next(
    server: &Rendezvous,
    user: &str,
    data: &Path,
    secs: u32,
    script: &Path,
) -> anyhow::Result<Proc> {
    let mut args = console_args(server, user, data);
    args.extend(["--claim-next".into(), secs.to_string(), "--script".into(), script.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Proc::spawn_with_stdin("console", bin("tether-console")?, &args, &[], &format!("{PASSWORD}\n"))
}
