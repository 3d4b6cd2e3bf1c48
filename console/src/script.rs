//! Headless scripts: one command per line, parsed up front with line numbers.
//!
//! Commands: `move X Y`, `click left|right|middle`, `type TEXT`, `key NAME`
//! (`Return`, `Tab`, `Ctrl+c` …), `wait MS`, `snapshot PATH.png`,
//! `expect-path direct|relay`, `end`. Extras for robust scripts:
//! `wait-control` (until the customer grants control, at most 30 s),
//! `wait-idle MS` (until no frame arrived for MS, at most 30 s),
//! `wait-frame` (until the first frame, then prints when it arrived, for
//! timing), `wait-cursor X Y` (until the customer's pointer is there, with
//! its shape known), `monitor NAME|ID` (share that monitor; the agent lists
//! them as `monitors:` lines), `lossy on|off` (whether photo tiles may go
//! lossy under bandwidth pressure; on by default), `chat TEXT`,
//! `send LOCAL REMOTE_DIR` (a file to a folder the customer offers, such as
//! `Downloads` or `Downloads/tools`) and `fetch REMOTE LOCAL_DIR` (a file
//! under a folder the customer shares, such as `Shared/log.txt`);
//! `send-bg LOCAL REMOTE_DIR` starts a send and goes on at once, and
//! `wait-transfers` waits for every transfer so started; `clipboard TEXT`
//! puts TEXT on the customer's clipboard, and `wait-clipboard TEXT` waits
//! until the customer copies TEXT; `chat-canned N` sends the server's
//! canned reply N (from 1); `ls [REMOTE_DIR]` lists a folder the customer
//! shares (the shared folders themselves without one); `note TEXT` adds a
//! note to the session record; `invite` makes an invite code for an
//! outside expert (printed as `invite: CODE`), `pass-control N` hands
//! control to expert N and `take-control` takes it back, `wait-expert`
//! waits until an invited expert was vouched for. Paths in scripts
//! cannot hold spaces. Blank
//! lines and lines starting with `#` are skipped. `wait-idle` also waits
//! until no tile is left lossy.

use std::path::PathBuf;
use std::time::Duration;

use tether_protocol::channel::input::{KeyCombo, MouseButton};
use tether_protocol::files::RelPath;
use tether_protocol::signal::PathKind;

/// One script command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Move the pointer to screen pixel (x, y).
    Move(u32, u32),
    /// Click a button.
    Click(MouseButton),
    /// Type text.
    Type(String),
    /// Press a key combination.
    Key(KeyCombo),
    /// Pause.
    Wait(Duration),
    /// Write the framebuffer to a PNG.
    Snapshot(PathBuf),
    /// Fail unless the path is this one.
    ExpectPath(PathKind),
    /// Wait until control is granted.
    WaitControl,
    /// Wait until the screen has been still this long.
    WaitIdle(Duration),
    /// Wait for the first frame and print when it arrived.
    WaitFrame,
    /// Wait until the customer's pointer is at (x, y) with a known shape.
    WaitCursor(i32, i32),
    /// Share the monitor with this name or id.
    Monitor(String),
    /// Allow or forbid lossy photo tiles under pressure.
    Lossy(bool),
    /// Send a chat message.
    Chat(String),
    /// Send a local file into a folder the customer offers.
    Send(PathBuf, RelPath),
    /// The same, going on with the script while it runs.
    SendInBackground(PathBuf, RelPath),
    /// Wait until every background transfer is done.
    WaitTransfers,
    /// Send canned reply N (from 1).
    ChatCanned(usize),
    /// Put text on the customer's clipboard.
    Clipboard(String),
    /// Wait until the customer copies this text.
    WaitClipboard(String),
    /// Fetch a customer's file into a local folder.
    Fetch(RelPath, PathBuf),
    /// List a shared folder of the customer's (the shared folders when
    /// `None`).
    List(Option<RelPath>),
    /// Add a note to the session record.
    Note(String),
    /// Make an invite code for an outside expert (printed as `invite:`)
    /// and admit them when they join.
    Invite,
    /// Pass control to expert N, or take it back (`None`).
    PassControl(Option<u32>),
    /// Wait until an invited expert has been vouched for.
    WaitExpert,
    /// End the session.
    End,
}

/// A script line that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("script line {line}: {message}")]
pub struct ScriptError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn number<T: std::str::FromStr>(s: Option<&str>, what: &str) -> Result<T, String> {
    s.ok_or_else(|| format!("missing {what}"))?.parse().map_err(|_| format!("{what} must be a whole number"))
}

fn parse_line(line: &str) -> Result<Option<Command>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    let mut args = rest.split_whitespace();
    let cmd = match word {
        "move" => Command::Move(number(args.next(), "X")?, number(args.next(), "Y")?),
        "click" => Command::Click(rest.parse().map_err(|e| format!("{e}"))?),
        "type" if !rest.is_empty() => Command::Type(rest.to_owned()),
        "key" => Command::Key(rest.parse().map_err(|e| format!("{e}"))?),
        "wait" => Command::Wait(Duration::from_millis(number(args.next(), "MS")?)),
        "wait-idle" => Command::WaitIdle(Duration::from_millis(number(args.next(), "MS")?)),
        "wait-control" => Command::WaitControl,
        "wait-frame" => Command::WaitFrame,
        "wait-cursor" => Command::WaitCursor(number(args.next(), "X")?, number(args.next(), "Y")?),
        "monitor" if !rest.is_empty() => Command::Monitor(rest.to_owned()),
        "snapshot" if rest.ends_with(".png") => Command::Snapshot(PathBuf::from(rest)),
        "snapshot" => return Err("snapshot needs a PATH ending in .png".into()),
        "expect-path" => Command::ExpectPath(match rest {
            "direct" => PathKind::Direct,
            "relay" => PathKind::Relay,
            _ => return Err("expect-path takes direct or relay".into()),
        }),
        "lossy" => Command::Lossy(match rest {
            "on" => true,
            "off" => false,
            _ => return Err("lossy takes on or off".into()),
        }),
        "chat" if !rest.is_empty() => Command::Chat(rest.to_owned()),
        "send" | "send-bg" => {
            let local = args.next().ok_or("send needs LOCAL and REMOTE_DIR")?;
            let remote = args.next().ok_or("send needs a REMOTE_DIR, such as Downloads")?;
            let remote = RelPath::parse(remote).map_err(|e| format!("REMOTE_DIR: {e}"))?;
            if word == "send" {
                Command::Send(PathBuf::from(local), remote)
            } else {
                Command::SendInBackground(PathBuf::from(local), remote)
            }
        }
        "wait-transfers" => Command::WaitTransfers,
        "chat-canned" => Command::ChatCanned(number(args.next(), "N")?),
        "clipboard" if !rest.is_empty() => Command::Clipboard(rest.to_owned()),
        "wait-clipboard" if !rest.is_empty() => Command::WaitClipboard(rest.to_owned()),
        "clipboard" | "wait-clipboard" => return Err(format!("{word} needs text")),
        "fetch" => {
            let remote = args.next().ok_or("fetch needs REMOTE and LOCAL_DIR")?;
            let remote = RelPath::parse(remote).map_err(|e| format!("REMOTE: {e}"))?;
            let local = args.next().ok_or("fetch needs a LOCAL_DIR")?;
            Command::Fetch(remote, PathBuf::from(local))
        }
        "note" if !rest.is_empty() => Command::Note(rest.to_owned()),
        "invite" if rest.is_empty() => Command::Invite,
        "pass-control" => Command::PassControl(Some(number(args.next(), "N")?)),
        "take-control" => Command::PassControl(None),
        "wait-expert" => Command::WaitExpert,
        "ls" if rest.is_empty() => Command::List(None),
        "ls" => Command::List(Some(RelPath::parse(rest).map_err(|e| format!("REMOTE_DIR: {e}"))?)),
        "end" => Command::End,
        "type" | "chat" | "note" => return Err(format!("{word} needs text")),
        "monitor" => return Err("monitor needs a NAME or ID".into()),
        other => return Err(format!("unknown command {other:?}")),
    };
    if matches!(
        cmd,
        Command::Move(..)
            | Command::Wait(_)
            | Command::WaitIdle(_)
            | Command::WaitCursor(..)
            | Command::Send(..)
            | Command::SendInBackground(..)
            | Command::Fetch(..)
    ) && args.next().is_some()
    {
        return Err(format!("too many arguments for {word}"));
    }
    Ok(Some(cmd))
}

/// Parses a whole script.
pub fn parse(text: &str) -> Result<Vec<Command>, ScriptError> {
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            parse_line(l).map_err(|message| ScriptError { line: i + 1, message }).transpose()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_every_command() {
        let s = "# demo\nmove 10 20\nclick left\ntype hello world\nkey Ctrl+c\nwait 50\n\nsnapshot /tmp/a.png\nexpect-path direct\nwait-control\nwait-idle 300\nwait-frame\nlossy off\nchat hi\nwait-cursor 5 -2\nend\n";
        let cmds = parse(s).unwrap();
        assert_eq!(cmds.len(), 14);
        assert_eq!(cmds[9], Command::WaitFrame);
        assert_eq!(cmds[10], Command::Lossy(false));
        assert_eq!(cmds[12], Command::WaitCursor(5, -2));
        assert_eq!(cmds[0], Command::Move(10, 20));
        assert_eq!(cmds[2], Command::Type("hello world".into()));
        assert_eq!(cmds[5], Command::Snapshot("/tmp/a.png".into()));
        assert_eq!(cmds[13], Command::End);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("move 1 2\nmove 1\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("missing Y"));
        assert!(parse("jump 3").unwrap_err().message.contains("unknown command"));
        assert!(parse("snapshot out.jpg").is_err());
        assert!(parse("lossy maybe").unwrap_err().message.contains("on or off"));
        assert!(parse("click sideways").is_err());
        assert!(parse("wait -5").is_err());
        assert!(parse("expect-path carrier-pigeon").is_err());
        assert!(parse("send a.txt ../x").unwrap_err().message.contains("lead out of a folder"));
        assert!(parse("send a.txt /etc").unwrap_err().message.contains("absolute"));
        assert!(parse("fetch /etc/passwd /tmp").unwrap_err().message.contains("absolute"));
        assert!(parse("fetch Shared/a\u{0}b /tmp").unwrap_err().message.contains("control characters"));
        assert!(parse("fetch Shared/x /tmp extra").unwrap_err().message.contains("too many"));
        assert!(parse("ls Shared/../x").unwrap_err().message.contains("lead out of a folder"));
        assert!(parse("note").unwrap_err().message.contains("needs text"));
        assert_eq!(parse("note Replaced the driver").unwrap(), [Command::Note("Replaced the driver".into())]);
        assert_eq!(parse("invite").unwrap(), [Command::Invite]);
        assert!(parse("invite bob").is_err());
        assert_eq!(
            parse("pass-control 2\ntake-control").unwrap(),
            [Command::PassControl(Some(2)), Command::PassControl(None)]
        );
        assert!(parse("pass-control").is_err());
        assert_eq!(
            parse("ls\nls Shared/logs").unwrap(),
            [Command::List(None), Command::List(Some(RelPath::parse("Shared/logs").unwrap()))]
        );
        assert_eq!(
            parse("send-bg /tmp/a Downloads\nwait-transfers").unwrap(),
            [
                Command::SendInBackground("/tmp/a".into(), RelPath::parse("Downloads").unwrap()),
                Command::WaitTransfers
            ]
        );
        assert_eq!(
            parse("send /tmp/a.bin Downloads/tools").unwrap(),
            [Command::Send("/tmp/a.bin".into(), RelPath::parse("Downloads/tools").unwrap())]
        );
    }

    proptest! {
        #[test]
        fn random_text_never_panics(s in "(?s).{0,200}") {
            let _ = parse(&s);
        }
    }
}
