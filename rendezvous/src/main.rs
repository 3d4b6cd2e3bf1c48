//! `tether-rendezvous`: runs the server, or administers its data directory.

use std::io::{BufRead, IsTerminal};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tether_protocol::channel::chat::MAX_CHAT_BYTES;
use tether_protocol::desk::FieldSpec;
use tether_protocol::signal::MAX_CANNED;
use tether_rendezvous::admin::{self, NewTechnician};
use tether_rendezvous::record::{AccountRole, unix_now};
use tether_rendezvous::report::{self, GroupBy};
use tether_rendezvous::store::{SledStore, Store};
use tether_rendezvous::{
    Config, DEFAULT_CODE_TTL, DEFAULT_ICE_TTL, DEFAULT_TURN_RATE, Server, TurnMode, open_store,
};

/// Tether's rendezvous server: pairs technicians with customers.
///
/// With no command it serves. The first start makes a TLS key in the data
/// directory; clients pin its fingerprint (printed at start).
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Data directory for the key, certificate and database
    /// [default: the platform data directory].
    #[arg(long, global = true)]
    data: Option<PathBuf>,
    /// UDP address to listen on.
    #[arg(long, default_value = "0.0.0.0:7700")]
    listen: SocketAddr,
    /// Lifetime of a pairing code, in seconds.
    #[arg(long, default_value_t = DEFAULT_CODE_TTL.as_secs(), value_parser = clap::value_parser!(u64).range(1..=86_400))]
    code_ttl: u64,
    /// UDP address of the embedded STUN/TURN server.
    #[arg(long, default_value = "0.0.0.0:3478")]
    turn_listen: SocketAddr,
    /// The address relays are announced at [default: --turn-listen's
    /// address, or this host's outward address].
    #[arg(long)]
    turn_relay_ip: Option<IpAddr>,
    /// Cap per relayed socket and direction, in kB/s.
    #[arg(long, default_value_t = DEFAULT_TURN_RATE / 1000, value_parser = clap::value_parser!(u64).range(16..=1_000_000))]
    turn_rate: u64,
    /// Let the relay reach loopback peers: only for tests and demos on one
    /// machine (otherwise clients could reach services on this host).
    #[arg(long)]
    turn_allow_loopback_peers: bool,
    /// Use an external TURN server (coturn with use-auth-secret) instead of
    /// the embedded one: turn:HOST:PORT. Needs --turn-secret.
    #[arg(long, requires = "turn_secret")]
    turn_url: Option<String>,
    /// The external TURN server's static-auth-secret.
    #[arg(long, env = "TETHER_TURN_SECRET", requires = "turn_url", hide_env_values = true)]
    turn_secret: Option<String>,
    /// Run no STUN/TURN: peers connect only on the same network.
    #[arg(long, conflicts_with = "turn_url")]
    no_turn: bool,
    /// Lifetime of TURN credentials, in seconds.
    #[arg(long, default_value_t = DEFAULT_ICE_TTL.as_secs(), value_parser = clap::value_parser!(u64).range(60..=7 * 86_400))]
    turn_credential_ttl: u64,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage technician accounts.
    Technician {
        #[command(subcommand)]
        action: TechnicianCmd,
    },
    /// Manage desks: the queues customers ask for help in.
    Desk {
        #[command(subcommand)]
        action: DeskCmd,
    },
    /// Check or list the audit log.
    Audit {
        #[command(subcommand)]
        action: AuditCmd,
    },
    /// List session records.
    Sessions,
    /// Sessions, their length, queue waits, surveys and paths, grouped.
    Report {
        /// First day, YYYY-MM-DD (UTC) [default: 30 days ago].
        #[arg(long)]
        from: Option<String>,
        /// Last day, YYYY-MM-DD (UTC), included [default: today].
        #[arg(long)]
        to: Option<String>,
        /// technician, desk or day.
        #[arg(long, default_value = "technician")]
        group_by: GroupBy,
        /// table, csv or json.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Manage the canned chat replies technicians pick from.
    Canned {
        #[command(subcommand)]
        action: CannedCmd,
    },
    /// Print the server key fingerprint clients pin with --server-cert.
    Fingerprint,
}

#[derive(Debug, Subcommand)]
enum CannedCmd {
    /// Add a reply at the end.
    Add {
        /// The text.
        text: String,
    },
    /// List the replies, numbered.
    List,
    /// Remove reply N (as `list` numbers them).
    Remove {
        /// Its number.
        number: usize,
    },
}

#[derive(Debug, Subcommand)]
enum TechnicianCmd {
    /// Add a technician; prompts for the password.
    Add {
        /// Login name.
        name: String,
        /// Organisation shown to customers.
        #[arg(long, default_value = "")]
        organisation: String,
        /// technician, supervisor or admin.
        #[arg(long, default_value = "technician")]
        role: AccountRole,
        /// A desk whose queue the technician serves; repeat for more.
        #[arg(long = "desk", value_name = "DESK")]
        desks: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a technician's role or desks.
    Update {
        /// Login name.
        name: String,
        /// technician, supervisor or admin.
        #[arg(long)]
        role: Option<AccountRole>,
        /// The desks, replacing the ones before; repeat for more.
        #[arg(long = "desk", value_name = "DESK")]
        desks: Vec<String>,
        /// Take the technician out of every desk.
        #[arg(long, conflicts_with = "desks")]
        no_desks: bool,
    },
    /// Stop a technician from logging in (their records stay).
    Disable {
        /// Login name.
        name: String,
    },
    /// Let a disabled technician log in again.
    Enable {
        /// Login name.
        name: String,
    },
    /// List technicians: name, organisation, role, desks, state.
    List,
}

#[derive(Debug, Subcommand)]
enum DeskCmd {
    /// Add a desk.
    Add {
        /// Its name.
        name: String,
        /// A field customers fill in: KEY:LABEL:required|optional:MAX[:PATTERN];
        /// repeat for more, in order.
        #[arg(long = "field", value_name = "SPEC")]
        fields: Vec<String>,
        /// Seconds a request waits before the customer is told nobody answered.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// List desks: name, timeout, fields.
    List,
}

#[derive(Debug, Subcommand)]
enum AuditCmd {
    /// Check the chain; names the first entry that was changed or removed.
    Verify,
    /// Print every entry.
    List,
}

fn data_dir(cli: &Cli) -> anyhow::Result<PathBuf> {
    match &cli.data {
        Some(d) => Ok(d.clone()),
        None => directories::ProjectDirs::from("", "", "tether-rendezvous")
            .map(|p| p.data_dir().to_path_buf())
            .context("no home directory; pass --data DIR"),
    }
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = rpassword::prompt_password("Password: ")?;
    let again = rpassword::prompt_password("Again: ")?;
    if first != again {
        bail!("the passwords do not match");
    }
    Ok(first)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| format!("{},turn=off", tether_transport::LOG_DEFAULTS).into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let dir = data_dir(&cli)?;
    match &cli.command {
        None => {
            let turn = match (&cli.turn_url, &cli.turn_secret) {
                _ if cli.no_turn => TurnMode::Off,
                (Some(url), Some(secret)) => {
                    if !url.starts_with("turn:") || url.contains(char::is_whitespace) {
                        bail!("--turn-url must look like turn:HOST:PORT");
                    }
                    TurnMode::External { url: url.clone(), secret: secret.clone() }
                }
                _ => TurnMode::Embedded {
                    listen: cli.turn_listen,
                    relay_ip: cli.turn_relay_ip,
                    rate: cli.turn_rate * 1000,
                    allow_loopback: cli.turn_allow_loopback_peers,
                },
            };
            serve(Config {
                data_dir: dir,
                listen: cli.listen,
                code_ttl: Duration::from_secs(cli.code_ttl),
                turn,
                ice_ttl: Duration::from_secs(cli.turn_credential_ttl),
            })
        }
        Some(Command::Technician { action }) => technician(&open_store(&dir)?, action),
        Some(Command::Desk { action }) => desk(&open_store(&dir)?, action),
        Some(Command::Audit { action }) => audit(&open_store(&dir)?, action),
        Some(Command::Sessions) => {
            println!(
                "id\ttechnician\tnameplate\tstarted\tended\tpath\tbytes\toutcome\tconsent\tchat\tfiles\tdesk\tcustomer"
            );
            for r in open_store(&dir)?.sessions()? {
                let consent: Vec<String> = r
                    .consent
                    .iter()
                    .map(|c| {
                        format!(
                            "view={},control={}{}",
                            c.view,
                            c.control,
                            if c.preset { ",preset" } else { "" }
                        )
                    })
                    .collect();
                let files: Vec<String> = r
                    .files
                    .iter()
                    .map(|f| {
                        let hash: String = f.hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
                        format!("{}{}:{}:{hash}", if f.to_customer { ">" } else { "<" }, f.name, f.size)
                    })
                    .collect();
                let (desk, customer) = r.request.as_ref().map_or(("-".to_owned(), "-".to_owned()), |q| {
                    let fields: Vec<String> = q.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    (
                        q.desk.clone(),
                        format!(
                            "{} [{}] waited {} s",
                            q.customer,
                            fields.join(","),
                            q.claimed.saturating_sub(q.requested)
                        ),
                    )
                });
                let survey =
                    r.survey.as_ref().map_or("-".to_owned(), |s| format!("{}/5 {}", s.rating, s.comment));
                let notes: Vec<&str> = r.notes.iter().map(|n| n.text.as_str()).collect();
                let notes = notes.join(" | ");
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:?}\t{}\t{}\t{}\t{desk}\t{customer}\t{survey}\t{notes}",
                    r.id,
                    r.technician,
                    r.nameplate,
                    r.started,
                    r.ended.map_or("-".to_owned(), |e| e.to_string()),
                    r.path.map_or("-".to_owned(), |_| r.summary().path_text()),
                    r.bytes,
                    r.outcome,
                    consent.join(";"),
                    r.chat.len(),
                    files.join(";")
                );
            }
            Ok(())
        }
        Some(Command::Report { from, to, group_by, format }) => {
            const DAY: u64 = 86_400;
            let today = unix_now() / DAY * DAY;
            let from = from.as_deref().map(report::parse_day).transpose().map_err(anyhow::Error::msg)?;
            let to = to.as_deref().map(report::parse_day).transpose().map_err(anyhow::Error::msg)?;
            let (from, to) = (from.unwrap_or(today - 29 * DAY), to.unwrap_or(today) + DAY);
            if from >= to {
                bail!("--from comes after --to");
            }
            let rows = report::report(&open_store(&dir)?.sessions()?, from, to, *group_by);
            match format.as_str() {
                "table" => print!("{}", report::table(&rows)),
                "csv" => print!("{}", report::csv(&rows)?),
                "json" => println!("{}", report::json(&rows)?),
                other => bail!("--format is table, csv or json, not {other:?}"),
            }
            Ok(())
        }
        Some(Command::Canned { action }) => canned(&open_store(&dir)?, action),
        Some(Command::Fingerprint) => {
            println!("{}", tether_transport::tls::Identity::load_or_create(&dir)?.fingerprint());
            Ok(())
        }
    }
}

fn technician(store: &SledStore, action: &TechnicianCmd) -> anyhow::Result<()> {
    match action {
        TechnicianCmd::Add { name, organisation, role, desks, password_stdin } => {
            let password = read_password(*password_stdin)?;
            let new = NewTechnician {
                name: name.clone(),
                organisation: organisation.clone(),
                role: *role,
                desks: desks.clone(),
                password,
            };
            admin::add_technician(store, new)?;
            println!("technician {name} added");
        }
        TechnicianCmd::Update { name, role, desks, no_desks } => {
            let desks = (*no_desks || !desks.is_empty()).then(|| desks.clone());
            let change = admin::Change { role: *role, desks, disabled: None };
            let t = admin::update_technician(store, name, change, None)?;
            println!("technician {name}: {}, desks {}", t.role, t.desks.join(","));
        }
        TechnicianCmd::Disable { name } | TechnicianCmd::Enable { name } => {
            let disable = matches!(action, TechnicianCmd::Disable { .. });
            let change = admin::Change { disabled: Some(disable), ..admin::Change::default() };
            admin::update_technician(store, name, change, None)?;
            println!("technician {name} {}", if disable { "disabled" } else { "enabled" });
        }
        TechnicianCmd::List => admin::technician_lines(store)?.iter().for_each(|l| println!("{l}")),
    }
    Ok(())
}

fn desk(store: &SledStore, action: &DeskCmd) -> anyhow::Result<()> {
    match action {
        DeskCmd::Add { name, fields, timeout } => {
            let fields = fields.iter().map(|f| FieldSpec::parse(f)).collect::<Result<Vec<_>, _>>()?;
            admin::add_desk(store, name, fields, *timeout, None)?;
            println!("desk {name} added");
        }
        DeskCmd::List => admin::desk_lines(store)?.iter().for_each(|l| println!("{l}")),
    }
    Ok(())
}

fn audit(store: &SledStore, action: &AuditCmd) -> anyhow::Result<()> {
    match action {
        AuditCmd::Verify => {
            let n = admin::verify_audit(store)?;
            println!("audit log intact: {n} entries");
        }
        AuditCmd::List => {
            for (seq, entry) in store.audit_log()? {
                match entry {
                    Some(e) => println!("{}\t{}\t{}", e.seq, e.at, e.event),
                    None => println!("{seq}\t-\t(unreadable)"),
                }
            }
        }
    }
    Ok(())
}

fn canned(store: &SledStore, action: &CannedCmd) -> anyhow::Result<()> {
    let mut replies = store.canned_replies()?;
    match action {
        CannedCmd::Add { text } => {
            let text = text.trim();
            if text.is_empty() || text.len() > MAX_CHAT_BYTES || text.chars().any(char::is_control) {
                bail!("a canned reply has 1 to {MAX_CHAT_BYTES} bytes of printable text on one line");
            }
            if replies.len() >= MAX_CANNED {
                bail!("there are already {MAX_CANNED} canned replies; remove one first");
            }
            replies.push(text.to_owned());
        }
        CannedCmd::Remove { number } => {
            if *number == 0 || *number > replies.len() {
                bail!("there is no canned reply {number}; `canned list` numbers them from 1");
            }
            replies.remove(number - 1);
        }
        CannedCmd::List => {
            for (i, r) in replies.iter().enumerate() {
                println!("{}\t{r}", i + 1);
            }
            return Ok(());
        }
    }
    store.set_canned_replies(&replies)?;
    println!("{} canned replies", replies.len());
    Ok(())
}

fn serve(config: Config) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let server = Server::bind(&config).await?;
        // Printed on stdout so scripts and tests can read the real port.
        println!("listening on {}", server.local_addr()?);
        if let Some(turn) = server.turn_addr() {
            println!("stun/turn on {turn}");
        }
        println!("fingerprint {}", server.fingerprint());
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        server.run(shutdown).await?;
        Ok(())
    })
}
