//! `tether-console`: the technician's console. `--headless` runs scripts.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use tether_console::headless::{self, ScriptEnd};
use tether_console::queue::{Change, apply};
use tether_console::script;
use tether_console::session::Technician;
use tether_transport::pin::KnownServers;
use tether_transport::signal_client::ServerTrust;
use tether_transport::tls::Fingerprint;

/// The technician's console for Tether remote support.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Run without a window: log in, make a code, run a script.
    #[arg(long)]
    headless: bool,
    /// The rendezvous server, HOST:PORT (needed with --headless).
    #[arg(long)]
    server: Option<String>,
    /// Technician account name (needed with --headless).
    #[arg(long)]
    user: Option<String>,
    /// In the window: make a session code right after logging in.
    #[arg(long)]
    new_code: bool,
    /// Headless: instead of a code, take the oldest help request waiting
    /// at this technician's desks (waiting up to this many seconds for
    /// one), printing the queue as it changes.
    #[arg(long, value_name = "SECS")]
    claim_next: Option<u64>,
    /// Headless: join a live session as an outside expert with the invite
    /// code its owner gave you (no account needed), then run the script.
    #[arg(long, value_name = "CODE")]
    join: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
    /// The server key fingerprint to pin (64 hex digits).
    #[arg(long)]
    server_cert: Option<Fingerprint>,
    /// Where to remember the server's key [default: platform data dir].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Script to run once the customer is connected (see the docs of
    /// `script.rs`: move, click, type, key, wait, snapshot, expect-path, end).
    #[arg(long)]
    script: Option<PathBuf>,
    /// Connect only through the server's relay, so the customer never
    /// learns this computer's network addresses.
    #[arg(long)]
    relay_only: bool,
    /// Interface scale for the window, from 0.5 to 4 (2 for high-density screens).
    #[arg(long, default_value_t = 1.0, value_parser = scale)]
    scale: f32,
}

fn scale(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if (0.5..=4.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a scale from 0.5 to 4")),
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tether_transport::LOG_DEFAULTS.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    Ok(rpassword::prompt_password("Password: ")?)
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let commands = match &cli.script {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            script::parse(&text)?
        }
        None => Vec::new(),
    };
    let data = match &cli.data {
        Some(d) => d.clone(),
        None => directories::ProjectDirs::from("", "", "tether-console")
            .map(|p| p.data_dir().to_path_buf())
            .context("no home directory; pass --data DIR")?,
    };
    let trust = ServerTrust { pinned: cli.server_cert, known: KnownServers::in_dir(&data) };
    if !cli.headless {
        let opts = tether_console::gui::Options {
            server: cli.server.clone().unwrap_or_default(),
            user: cli.user.clone().unwrap_or_default(),
            password: if cli.password_stdin { Some(password(true)?) } else { None },
            new_code: cli.new_code,
            trust,
            data_dir: data.clone(),
            scale: cli.scale,
            relay_only: cli.relay_only,
        };
        return tether_console::gui::run(opts).map_err(|e| anyhow::anyhow!("the window failed: {e}"));
    }
    if let Some(code) = &cli.join {
        let Some(server) = cli.server.clone() else { bail!("--join needs --server HOST:PORT") };
        let code: tether_protocol::code::PairingCode = code.parse()?;
        let rt = tokio::runtime::Runtime::new()?;
        return rt.block_on(async {
            let session =
                tether_console::invite::join_as_expert(&server, &trust, &code, cli.relay_only).await?;
            run_session(session, &commands, cli.script.is_some()).await
        });
    }
    let (Some(server), Some(user)) = (cli.server.clone(), cli.user.clone()) else {
        bail!("--headless needs --server HOST:PORT and --user NAME");
    };
    let password = password(cli.password_stdin)?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let mut tech = Technician::login(&server, &trust, &user, &password).await?;
        tech.relay_only = cli.relay_only;
        println!("logged in as {} ({})", tech.name, tech.organisation);
        let mut session = match cli.claim_next {
            Some(secs) => claim_next(tech, Duration::from_secs(secs)).await?,
            None => {
                let (code, ttl) = tech.new_code().await?;
                println!("code: {code}");
                println!("code expires in {} s; waiting for the customer", ttl.as_secs());
                tech.wait_for_customer(code, ttl).await?
            }
        };
        session.greet_and_request_control().await?;
        run_session(session, &commands, cli.script.is_some()).await
    })
}

/// Runs the script on a live session (or waits for its end), then ends it.
async fn run_session(
    mut session: tether_console::session::LiveSession,
    commands: &[tether_console::script::Command],
    scripted: bool,
) -> anyhow::Result<()> {
    {
        println!("sas: {}", session.sas);
        println!("path: {}", session.path);
        let stats = tokio::spawn(print_stats(session.view.clone()));
        let closed = session.closed();
        let end = tokio::select! {
            r = headless::run(&mut session, commands) => r?,
            () = closed => {
                println!("session: the connection to the customer closed");
                ScriptEnd::Finished
            }
        };
        if end == ScriptEnd::Finished && !scripted {
            session.closed().await;
        }
        stats.abort();
        let live = session.is_live();
        session.end().await;
        println!("session ended");
        if !live && end != ScriptEnd::Ended && scripted {
            bail!("the connection closed before the script finished");
        }
        Ok(())
    }
}

/// Takes the oldest request waiting at the technician's desks, waiting up
/// to `limit` for one; a request someone else took first is skipped.
async fn claim_next(
    mut tech: Technician,
    limit: Duration,
) -> anyhow::Result<tether_console::session::LiveSession> {
    let deadline = Instant::now() + limit;
    let mut waiting = tech.watch_queue().await?;
    println!("queue: {} waiting", waiting.len());
    loop {
        while let Some((&request, item)) = waiting.first_key_value() {
            let who = format!("{} ({}): {}", item.ask.name, item.ask.desk, item.ask.problem.escape_debug());
            match tech.claim(request).await {
                Ok(granted) => {
                    println!("claimed: request {request} from {who}");
                    return Ok(tech.start_claimed(granted).await?);
                }
                Err(e) => {
                    println!("queue: request {request} is not ours: {e}");
                    waiting.remove(&request);
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tech.next_change(left).await? {
            Some(change) => {
                match &change {
                    Change::Added(i) => {
                        println!("queue: + request {} from {} at {}", i.request, i.ask.name, i.ask.desk)
                    }
                    Change::Removed(r) => println!("queue: - request {r}"),
                }
                apply(&mut waiting, change);
            }
            None => bail!("no help request came in {} s", limit.as_secs()),
        }
    }
}

/// Prints fps and kB/s once a second, for the demo and for people.
async fn print_stats(view: std::sync::Arc<std::sync::Mutex<tether_console::session::View>>) {
    let mut last = (0u64, 0u64, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (line, frames, bytes) = {
            let v = view.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let secs = last.2.elapsed().as_secs_f64();
            let fps = (v.frames - last.0) as f64 / secs;
            (v.stats_line(fps, (v.bytes - last.1) as f64 / 1000.0 / secs), v.frames, v.bytes)
        };
        println!("{line}");
        last = (frames, bytes, Instant::now());
    }
}
