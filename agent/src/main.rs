//! `tether-agent`: the customer's one-shot support program.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tether_agent::consent::{Preset, TerminalConsent};
use tether_agent::input::{EnigoSink, InputSink};
use tether_agent::screen::{ScreenSource, XcapSource};
use tether_agent::session::{self, AgentOptions, EndReason, Platform};
use tether_protocol::code::PairingCode;
use tether_transport::pin::KnownServers;
use tether_transport::signal_client::ServerTrust;
use tether_transport::tls::Fingerprint;

/// Lets your technician see your screen, and with your permission, help.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The support server, HOST:PORT.
    #[arg(long)]
    server: String,
    /// The code your technician gave you, like 123-4567 (asked if missing).
    #[arg(long)]
    code: Option<String>,
    /// Answer consent in advance, for scripts: view, or view,control.
    #[arg(long)]
    accept: Option<Preset>,
    /// The server key fingerprint to pin (64 hex digits).
    #[arg(long)]
    server_cert: Option<Fingerprint>,
    /// Where to remember the server's key [default: platform data dir].
    #[arg(long)]
    data: Option<PathBuf>,
}

fn ask_code() -> anyhow::Result<String> {
    eprint!("Code from your technician: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let code: PairingCode = match &cli.code {
        Some(c) => c.parse()?,
        None => ask_code()?.parse()?,
    };
    if let Some(p) = cli.accept {
        eprintln!(
            "*** --accept given: consent is answered in advance (view: {}, control: {}) and recorded ***",
            if p.view { "yes" } else { "no" },
            if p.control { "yes" } else { "no" }
        );
    }
    let data = match cli.data {
        Some(d) => d,
        None => directories::ProjectDirs::from("", "", "tether-agent")
            .map(|p| p.data_dir().to_path_buf())
            .ok_or_else(|| anyhow::anyhow!("no home directory; pass --data DIR"))?,
    };
    let opts = AgentOptions {
        server: cli.server,
        code,
        trust: ServerTrust { pinned: cli.server_cert, known: KnownServers::in_dir(&data) },
    };
    let platform = Platform {
        screen: Box::new(|| XcapSource::primary().map(|s| Box::new(s) as Box<dyn ScreenSource>)),
        input: Box::new(|| EnigoSink::new().map(|s| Box::new(s) as Box<dyn InputSink>)),
        consent: Arc::new(TerminalConsent { preset: cli.accept }),
    };
    let rt = tokio::runtime::Runtime::new()?;
    let reason = rt.block_on(session::run(opts, platform))?;
    println!(
        "{}",
        match reason {
            EndReason::TechnicianEnded =>
                "Your technician ended the session. Nothing was left on this computer.",
            EndReason::Declined => "You declined; nothing was shared.",
            EndReason::ConnectionClosed => "The session has ended.",
        }
    );
    Ok(())
}
