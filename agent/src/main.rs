//! `tether-agent`: the customer's one-shot support program.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use iced::Task;
use tether_agent::clipboard::{Arboard, ClipboardPolicy};
use tether_agent::consent::{Preset, TerminalConsent};
use tether_agent::cursor::{CursorSource, XfixesSource};
use tether_agent::files::{DOWNLOADS, Folders};
use tether_agent::gui::{self, Action, Message, Window, WindowConsent};
use tether_agent::input::{EnigoSink, InputSink};
use tether_agent::session::{self, AgentOptions, Command, EndReason, Join, Platform};
use tether_protocol::code::PairingCode;
use tether_protocol::files::FileName;
use tether_protocol::queue::HelpRequest;
use tether_transport::pin::KnownServers;
use tether_transport::signal_client::ServerTrust;
use tether_transport::tls::Fingerprint;
use tokio::sync::mpsc;

/// Lets your technician see your screen, and with your permission, help.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The support server, HOST:PORT.
    #[arg(long)]
    server: String,
    /// The code your technician gave you, like 123-4567 (asked if missing).
    #[arg(long, conflicts_with = "desk")]
    code: Option<String>,
    /// Ask this desk for help and wait for a technician, instead of a code:
    /// the window shows the desk's form; headless, give --name, --problem
    /// and the desk's --field answers.
    #[arg(long)]
    desk: Option<String>,
    /// Your name, for a help request.
    #[arg(long, requires = "desk")]
    name: Option<String>,
    /// What is wrong, for a help request.
    #[arg(long, requires = "desk")]
    problem: Option<String>,
    /// One of the desk's fields, KEY=VALUE; repeat for more.
    #[arg(long = "field", value_name = "KEY=VALUE", requires = "desk", value_parser = field)]
    fields: Vec<(String, String)>,
    /// Answer consent in advance, for scripts: view, view,control, and
    /// files (accept every file offer and request).
    #[arg(long)]
    accept: Option<Preset>,
    /// The server key fingerprint to pin (64 hex digits).
    #[arg(long)]
    server_cert: Option<Fingerprint>,
    /// Where to remember the server's key [default: platform data dir].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Run in the terminal instead of a window (consent asked on the
    /// terminal, or answered with --accept).
    #[arg(long)]
    headless: bool,
    /// Connect only through the server's relay, so the technician never
    /// learns this computer's network addresses.
    #[arg(long)]
    relay_only: bool,
    /// Where files from the technician go [default: your Downloads folder].
    #[arg(long)]
    downloads: Option<PathBuf>,
    /// A folder the technician may copy files from (asked for each file);
    /// repeat for more. Nothing is shared unless you say so.
    #[arg(long = "share", value_name = "DIR")]
    shared: Vec<PathBuf>,
    /// A folder name never listed or given out under a shared folder, on
    /// top of .ssh, .gnupg and the other usual private folders; repeatable.
    #[arg(long = "private", value_name = "NAME")]
    private: Vec<String>,
    /// Share the clipboard: both ways, none, to-technician (your copies
    /// go to the technician) or from-technician.
    #[arg(long, default_value = "both")]
    clipboard: ClipboardPolicy,
    /// Answer the exit survey in advance, for scripts: a rating from 1 to 5,
    /// then optionally `:` and a comment (otherwise the window asks, or
    /// headless the terminal).
    #[arg(long, value_name = "RATING[:COMMENT]", value_parser = survey)]
    survey: Option<(u8, String)>,
    /// Interface scale for the window, from 0.5 to 4 (2 for high-density screens).
    #[arg(long, default_value_t = 1.0, value_parser = scale)]
    scale: f32,
}

fn field(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

fn survey(s: &str) -> Result<(u8, String), String> {
    let (rating, comment) = s.split_once(':').unwrap_or((s, ""));
    match rating.trim().parse::<u8>() {
        Ok(r) if (1..=5).contains(&r) => Ok((r, comment.trim().to_owned())),
        _ => Err(format!("{s:?} does not start with a rating from 1 to 5")),
    }
}

/// Asks the exit survey on the terminal, if there is one.
fn ask_survey() -> Option<(u8, String)> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    eprint!("How did it go? A rating from 1 (bad) to 5 (great), or Enter to skip: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    let rating: u8 = line.trim().parse().ok().filter(|r| (1..=5).contains(r))?;
    eprint!("Anything to add? (Enter to skip): ");
    let _ = std::io::stderr().flush();
    let mut comment = String::new();
    std::io::stdin().lock().read_line(&mut comment).ok()?;
    Some((rating, comment.trim().to_owned()))
}

fn scale(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if (0.5..=4.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a scale from 0.5 to 4")),
    }
}

fn folders(cli: &Cli) -> anyhow::Result<Folders> {
    let mut shared = Vec::new();
    for dir in &cli.shared {
        let real = dir.canonicalize().map_err(|e| anyhow::anyhow!("cannot share {}: {e}", dir.display()))?;
        let raw = real.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let name = FileName::new(raw).map_err(|e| anyhow::anyhow!("cannot share {}: {e}", dir.display()))?;
        if name.as_str() == DOWNLOADS || shared.iter().any(|(n, _)| *n == name) {
            anyhow::bail!("two shared folders are called {name}; share only one of them");
        }
        shared.push((name, real));
    }
    let downloads = cli.downloads.clone().or_else(Folders::platform_downloads);
    Ok(Folders { downloads, shared, private: cli.private.clone() })
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
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tether_transport::LOG_DEFAULTS.into()),
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

fn platform(consent: Arc<dyn tether_agent::consent::ConsentAsker>) -> Platform {
    Platform {
        screen: Arc::new(tether_agent::screen::primary),
        input: Box::new(|| EnigoSink::new().map(|s| Box::new(s) as Box<dyn InputSink>)),
        cursor: Box::new(|| XfixesSource::open().map(|s| Box::new(s) as Box<dyn CursorSource>)),
        clipboard: Box::new(Arboard::open),
        consent,
        commands: None,
        events: None,
        survey: Box::new(|| None),
    }
}

fn data_dir(cli: &Cli) -> anyhow::Result<PathBuf> {
    match &cli.data {
        Some(d) => Ok(d.clone()),
        None => directories::ProjectDirs::from("", "", "tether-agent")
            .map(|p| p.data_dir().to_path_buf())
            .ok_or_else(|| anyhow::anyhow!("no home directory; pass --data DIR")),
    }
}

/// How long the window shows the end of a session before it closes.
const QUIT_AFTER: std::time::Duration = std::time::Duration::from_secs(8);

/// The window: code, consent dialogs, banner.
struct App {
    window: Window,
    server: String,
    trust: ServerTrust,
    commands: Option<mpsc::UnboundedSender<Command>>,
    relay_only: bool,
    folders: Folders,
    /// The running session, to stop it if the customer withdraws.
    session: Option<iced::task::Handle>,
    /// The exit survey answered in advance (`--survey`).
    survey: Option<(u8, String)>,
}

impl App {
    /// Starts the session: with a code, or by asking the desk for help.
    fn start(&mut self, join: Join) -> Task<Message> {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let (q_tx, q_rx) = mpsc::unbounded_channel();
        let (survey_tx, survey_rx) = mpsc::unbounded_channel();
        self.commands = Some(cmd_tx);
        let mut p = platform(Arc::new(WindowConsent(q_tx)));
        p.commands = Some(cmd_rx);
        p.events = Some(ev_tx);
        let preset = self.survey.clone();
        p.survey = Box::new(move || preset.or_else(|| gui::ask_in_window(&survey_tx)));
        let opts = AgentOptions {
            server: self.server.clone(),
            join,
            trust: self.trust.clone(),
            relay_only: self.relay_only,
            folders: self.folders.clone(),
            clipboard: self.window.clipboard,
        };
        let (run, handle) =
            Task::perform(session::run(opts, p), |r| Message::Finished(r.map_err(|e| e.to_string())))
                .abortable();
        self.session = Some(handle);
        Task::batch([
            run,
            gui::listen(ev_rx, Message::Event),
            gui::listen(q_rx, Message::Ask),
            gui::listen(survey_rx, Message::Survey),
        ])
    }

    fn update(&mut self, message: Message) -> Task<Message> {
        // Once a question is answered, typing goes to the chat box.
        let focus_chat = matches!(message, Message::Answer(_));
        if focus_chat {
            self.window.update(message);
            return iced::widget::operation::focus("chat");
        }
        match self.window.update(message) {
            Some(Action::Start(code)) => self.start(Join::Code(code)),
            Some(Action::Ask(ask)) => self.start(Join::Help(ask)),
            Some(Action::Withdraw) => {
                // Dropping the session closes its server connection, which
                // takes the request out of the queue.
                if let Some(s) = self.session.take() {
                    s.abort();
                }
                Task::perform(tokio::time::sleep(QUIT_AFTER), |()| ()).then(|()| iced::exit())
            }
            Some(Action::Command(c)) => {
                if let Some(tx) = &self.commands {
                    let _ = tx.send(c);
                }
                Task::none()
            }
            Some(Action::PickFolder(start)) => {
                let dialog = rfd::AsyncFileDialog::new()
                    .set_title("Where should the file go?")
                    .set_directory(start)
                    .pick_folder();
                Task::perform(dialog, |picked| Message::Picked(picked.map(|f| f.path().to_path_buf())))
            }
            Some(Action::Quit) => {
                println!("session ended");
                // One-shot: say why, then go, leaving nothing running.
                Task::perform(tokio::time::sleep(QUIT_AFTER), |()| ()).then(|()| iced::exit())
            }
            None => Task::none(),
        }
    }

    fn view(&self) -> iced::Element<'_, Message> {
        self.window.view()
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if !cli.headless {
        if cli.accept.is_some() {
            anyhow::bail!("--accept answers consent in advance and works only with --headless");
        }

        let trust = ServerTrust { pinned: cli.server_cert, known: KnownServers::in_dir(&data_dir(&cli)?) };
        let (server, code, scale, relay_only) =
            (cli.server.clone(), cli.code.clone(), cli.scale, cli.relay_only);
        let folders = folders(&cli)?;
        let clipboard = cli.clipboard;
        let desk = cli.desk.clone();
        let survey = cli.survey.clone();
        return iced::application(
            move || {
                let mut window = if desk.is_some() { Window::for_desk() } else { Window::new(code.clone()) };
                window.clipboard = clipboard;
                let app = App {
                    window,
                    server: server.clone(),
                    trust: trust.clone(),
                    commands: None,
                    relay_only,
                    folders: folders.clone(),
                    session: None,
                    survey: survey.clone(),
                };
                let Some(desk) = desk.clone() else {
                    // The customer can type the code at once.
                    return (app, iced::widget::operation::focus("code"));
                };
                let (server, trust) = (server.clone(), trust.clone());
                let load = Task::perform(
                    async move {
                        let fields =
                            session::desk_info(&server, &trust, &desk).await.map_err(|e| e.to_string())?;
                        Ok((desk, fields))
                    },
                    Message::DeskLoaded,
                );
                (app, load.chain(iced::widget::operation::focus("help-name")))
            },
            App::update,
            App::view,
        )
        .title("Tether: remote support")
        .scale_factor(move |_| scale)
        // Logical size: iced multiplies it by the scale factor.
        .window_size((560.0, 440.0))
        .run()
        .map_err(|e| anyhow::anyhow!("the window failed: {e}"));
    }
    let join = match (&cli.desk, &cli.code) {
        (Some(_), _) if cli.name.is_none() || cli.problem.is_none() => {
            anyhow::bail!("--desk with --headless needs --name and --problem");
        }
        (Some(desk), _) => Join::Help(HelpRequest {
            desk: desk.clone(),
            name: cli.name.clone().unwrap_or_default(),
            problem: cli.problem.clone().unwrap_or_default(),
            fields: cli.fields.clone(),
        }),
        (None, Some(c)) => Join::Code(c.parse()?),
        (None, None) => Join::Code(ask_code()?.parse::<PairingCode>()?),
    };
    if let Some(p) = cli.accept {
        eprintln!(
            "*** --accept given: consent is answered in advance (view: {}, control: {}, files: {}) and recorded ***",
            if p.view { "yes" } else { "no" },
            if p.control { "yes" } else { "no" },
            if p.files { "yes" } else { "no" }
        );
    }
    let data = data_dir(&cli)?;
    let folders = folders(&cli)?;
    let opts = AgentOptions {
        server: cli.server,
        join,
        trust: ServerTrust { pinned: cli.server_cert, known: KnownServers::in_dir(&data) },
        relay_only: cli.relay_only,
        folders,
        clipboard: cli.clipboard,
    };
    let mut platform = platform(Arc::new(TerminalConsent { preset: cli.accept }));
    let preset = cli.survey.clone();
    platform.survey = Box::new(move || preset.or_else(ask_survey));
    let rt = tokio::runtime::Runtime::new()?;
    let reason = rt.block_on(session::run(opts, platform))?;
    println!(
        "{}",
        match reason {
            EndReason::TechnicianEnded =>
                "Your technician ended the session. Nothing was left on this computer.",
            EndReason::CustomerEnded => "You ended the session. Nothing was left on this computer.",
            EndReason::Declined => "You declined; nothing was shared.",
            EndReason::ConnectionClosed => "The session has ended.",
        }
    );
    Ok(())
}
