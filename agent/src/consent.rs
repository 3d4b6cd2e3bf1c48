//! The customer's consent: asked on the terminal, or answered in advance.
//!
//! `--accept view,control,files` answers in advance for scripts and tests; it is
//! printed loudly and reported to the session record. Without it, and with no
//! terminal to ask on, the answer is no.

use std::io::{BufRead, IsTerminal, Write};
use std::str::FromStr;

/// What is being asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Permission {
    /// See the screen.
    View,
    /// Move the pointer and type.
    Control,
    /// Receive a file from the technician.
    Receive {
        /// The file's name.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// The folder it goes to.
        folder: String,
    },
    /// Give the technician one of the customer's files.
    Give {
        /// Which file, under a shared folder.
        path: String,
        /// Its size in bytes.
        size: u64,
    },
}

pub use tether_protocol::files::human_size;

impl Permission {
    /// What the technician asks to do, as the end of "Alice asks to …".
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::View => "see your screen".into(),
            Self::Control => "control your mouse and keyboard".into(),
            Self::Receive { name, size, folder } => {
                format!("send you the file “{name}” ({}) into {folder}", human_size(*size))
            }
            Self::Give { path, size } => format!("copy your file “{path}” ({})", human_size(*size)),
        }
    }
}

/// Who is asking, shown with every question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asker {
    /// Technician's name.
    pub technician: String,
    /// Technician's organisation.
    pub organisation: String,
    /// The four words to compare aloud.
    pub sas: String,
}

/// Answers given on the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Preset {
    /// Allow viewing.
    pub view: bool,
    /// Allow control.
    pub control: bool,
    /// Accept every file offer and fetch.
    pub files: bool,
}

/// `--accept` was not a list of `view`, `control` or `none`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--accept takes a comma-separated list of view, control and files (or none), not {0:?}")]
pub struct PresetError(String);

impl FromStr for Preset {
    type Err = PresetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut p = Self::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.to_ascii_lowercase().as_str() {
                "view" => p.view = true,
                "control" => p.control = true,
                "files" => p.files = true,
                "none" => {}
                _ => return Err(PresetError(part.to_owned())),
            }
        }
        // Control without view makes no sense: controlling blind.
        if p.control && !p.view {
            return Err(PresetError(s.to_owned()));
        }
        Ok(p)
    }
}

/// Yes to a file, and where it goes: the suggested folder, or another the
/// customer picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The folder suggested with the question.
    Suggested,
    /// A folder the customer chose instead.
    Chosen(std::path::PathBuf),
}

/// Asks the customer. Blocking: call it off the async threads.
pub trait ConsentAsker: Send + Sync {
    /// The customer's answer.
    fn ask(&self, who: &Asker, what: Permission) -> bool;
    /// Asks about a file coming to the customer, who may pick another
    /// folder than `suggested`; `None` is no.
    fn ask_where(&self, who: &Asker, what: Permission, suggested: &std::path::Path) -> Option<Destination> {
        let _ = suggested;
        self.ask(who, what).then_some(Destination::Suggested)
    }
    /// Whether answers come from the command line rather than a person.
    fn is_preset(&self) -> bool;
}

/// Asks one question at a time: a second question waits until the first
/// is answered, so a click always answers the question the customer read.
pub struct OneAtATime {
    asking: std::sync::Mutex<()>,
    inner: std::sync::Arc<dyn ConsentAsker>,
}

impl OneAtATime {
    /// Serialises `inner`.
    #[must_use]
    pub fn new(inner: std::sync::Arc<dyn ConsentAsker>) -> Self {
        Self { asking: std::sync::Mutex::new(()), inner }
    }
}

impl std::fmt::Debug for OneAtATime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OneAtATime")
    }
}

impl ConsentAsker for OneAtATime {
    fn ask(&self, who: &Asker, what: Permission) -> bool {
        let _turn = self.asking.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.inner.ask(who, what)
    }

    fn ask_where(&self, who: &Asker, what: Permission, suggested: &std::path::Path) -> Option<Destination> {
        let _turn = self.asking.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.inner.ask_where(who, what, suggested)
    }

    fn is_preset(&self) -> bool {
        self.inner.is_preset()
    }
}

/// Asks on the terminal unless answers were given in advance.
#[derive(Debug, Clone, Copy, Default)]
pub struct TerminalConsent {
    /// Answers from `--accept`.
    pub preset: Option<Preset>,
}

impl ConsentAsker for TerminalConsent {
    fn ask(&self, who: &Asker, what: Permission) -> bool {
        let verb = what.describe();
        if let Some(p) = self.preset {
            let answer = match what {
                Permission::View => p.view,
                Permission::Control => p.control,
                Permission::Receive { .. } | Permission::Give { .. } => p.files,
            };
            eprintln!(
                "*** CONSENT GIVEN IN ADVANCE (--accept): {} may {verb}: {} ***",
                who.technician,
                if answer { "YES" } else { "NO" }
            );
            return answer;
        }
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "{} asks to {verb}; there is no terminal to ask you on, so the answer is no.",
                who.technician
            );
            return false;
        }
        let org =
            if who.organisation.is_empty() { String::new() } else { format!(" ({})", who.organisation) };
        eprintln!("\n{}{org} asks to {verb}.", who.technician);
        eprintln!("Check that your technician sees these words: {}", who.sas);
        eprint!("Allow? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
    }

    fn is_preset(&self) -> bool {
        self.preset.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_accept_lists() {
        assert_eq!("view,control".parse(), Ok(Preset { view: true, control: true, files: false }));
        assert_eq!("view".parse(), Ok(Preset { view: true, control: false, files: false }));
        assert_eq!("view,files".parse(), Ok(Preset { view: true, control: false, files: true }));
        assert_eq!("none".parse(), Ok(Preset::default()));
        assert!("control".parse::<Preset>().is_err());
        assert!("view,root".parse::<Preset>().is_err());
    }

    #[test]
    fn questions_are_asked_one_at_a_time() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        #[derive(Default)]
        struct Slow(AtomicUsize, AtomicUsize);
        impl ConsentAsker for Slow {
            fn ask(&self, _: &Asker, _: Permission) -> bool {
                let now = self.0.fetch_add(1, Ordering::SeqCst) + 1;
                self.1.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                self.0.fetch_sub(1, Ordering::SeqCst);
                true
            }
            fn is_preset(&self) -> bool {
                false
            }
        }
        let slow = std::sync::Arc::new(Slow::default());
        let one = std::sync::Arc::new(OneAtATime::new(slow.clone()));
        let who = Asker { technician: "a".into(), organisation: String::new(), sas: String::new() };
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (one, who) = (one.clone(), who.clone());
                std::thread::spawn(move || one.ask(&who, Permission::View))
            })
            .collect();
        assert!(threads.into_iter().all(|t| t.join().unwrap()));
        assert_eq!(slow.1.load(Ordering::SeqCst), 1, "two questions were open at once");
    }

    #[test]
    fn preset_answers_without_asking() {
        let c = TerminalConsent { preset: Some(Preset { view: true, control: false, files: false }) };
        let who = Asker { technician: "alice".into(), organisation: String::new(), sas: String::new() };
        assert!(c.ask(&who, Permission::View));
        assert!(!c.ask(&who, Permission::Control));
        let file = Permission::Receive { name: "a".into(), size: 1_234_567, folder: "Downloads".into() };
        assert!(!c.ask(&who, file.clone()));
        assert_eq!(file.describe(), "send you the file “a” (1.2 MB) into Downloads");
        assert_eq!(human_size(999), "999 bytes");
    }
}
