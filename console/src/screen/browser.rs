//! The customer's shared folders as the technician browses them: the
//! folder shown, its entries, and the clicks that open a folder, go back
//! up, or fetch a file. The listing itself comes from the agent, which
//! shows only what the customer shares.

use iced::widget::{button, column, row, scrollable, text};
use iced::{Element, Fill};
use tether_protocol::channel::files::Entry;
use tether_protocol::files::{FileName, RelPath};

use tether_protocol::files::human_size;

/// What the browser shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Listed {
    /// Not open.
    #[default]
    Closed,
    /// Asked; waiting for the customer's computer.
    Loading,
    /// The folder's entries.
    Shown(Vec<Entry>),
    /// Why it could not be listed.
    Failed(String),
}

/// The browser's state.
#[derive(Debug, Clone, Default)]
pub struct Browser {
    /// The folder shown: empty for the list of shared folders.
    pub at: Vec<FileName>,
    /// Its entries.
    pub listed: Listed,
}

/// What the technician clicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Open the browser at the shared folders, or close it.
    Toggle,
    /// Open this folder of the one shown.
    Into(FileName),
    /// Back to the folder above.
    Up,
    /// Fetch this file of the folder shown.
    Fetch(FileName),
}

/// What the session must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// List this folder (the shared folders when `None`).
    List(Option<RelPath>),
    /// Fetch this file.
    Fetch(RelPath),
}

impl Browser {
    fn path(&self, extra: Option<&FileName>) -> Option<RelPath> {
        let parts: Vec<&str> = self.at.iter().chain(extra).map(FileName::as_str).collect();
        if parts.is_empty() { None } else { RelPath::parse(&parts.join("/")).ok() }
    }

    fn list(&mut self) -> Option<Event> {
        self.listed = Listed::Loading;
        Some(Event::List(self.path(None)))
    }

    /// Handles a click.
    pub fn update(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::Toggle if self.listed != Listed::Closed => {
                self.listed = Listed::Closed;
                None
            }
            Message::Toggle => {
                self.at.clear();
                self.list()
            }
            Message::Into(name) => {
                self.at.push(name);
                self.list()
            }
            Message::Up => {
                self.at.pop();
                self.list()
            }
            Message::Fetch(name) => self.path(Some(&name)).map(Event::Fetch),
        }
    }

    /// A listing arrived; it is shown if it is still the folder wanted.
    pub fn listed(&mut self, path: Option<&RelPath>, result: Result<Vec<Entry>, String>) {
        if self.listed == Listed::Loading && path == self.path(None).as_ref() {
            self.listed = match result {
                Ok(entries) => Listed::Shown(entries),
                Err(why) => Listed::Failed(why),
            };
        }
    }

    /// The browser: a Browse button, and when open the folder shown.
    pub fn view(&self) -> Element<'_, Message> {
        let open = self.listed != Listed::Closed;
        let toggle = button(text(if open { "Close browser" } else { "Browse shared folders" }).size(12))
            .on_press(Message::Toggle)
            .style(button::secondary);
        if !open {
            return toggle.into();
        }
        let here = self.path(None).map_or_else(|| "Shared folders".to_owned(), |p| p.to_string());
        let up = (!self.at.is_empty()).then(|| button(text("Up").size(12)).on_press(Message::Up));
        let head = row![text(here).size(13).width(Fill)].push(up).spacing(4);
        let body: Element<'_, Message> = match &self.listed {
            Listed::Closed | Listed::Loading => text("Asking the customer's computer…").size(12).into(),
            Listed::Failed(why) => text(why.clone()).size(12).style(text::danger).into(),
            Listed::Shown(entries) if entries.is_empty() && self.at.is_empty() => {
                text("The customer shares no folders.").size(12).into()
            }
            Listed::Shown(entries) if entries.is_empty() => text("This folder is empty.").size(12).into(),
            Listed::Shown(entries) => {
                let rows = entries.iter().fold(column![].spacing(2), |c, e| {
                    if e.folder {
                        c.push(
                            button(text(format!("{}/", e.name)).size(12))
                                .on_press(Message::Into(e.name.clone()))
                                .style(button::text),
                        )
                    } else {
                        c.push(
                            row![
                                text(format!("{} · {}", e.name, human_size(e.size))).size(12).width(Fill),
                                button(text("Fetch").size(12)).on_press(Message::Fetch(e.name.clone())),
                            ]
                            .spacing(4),
                        )
                    }
                });
                scrollable(rows).height(160).into()
            }
        };
        column![toggle, head, body].spacing(4).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, folder: bool) -> Entry {
        Entry { name: FileName::new(name).unwrap(), folder, size: 3, modified: None }
    }

    fn path(p: &str) -> RelPath {
        RelPath::parse(p).unwrap()
    }

    #[test]
    fn opening_folders_lists_them_and_files_are_fetched_by_their_whole_path() {
        let mut b = Browser::default();
        assert_eq!(b.update(Message::Toggle), Some(Event::List(None)));
        b.listed(None, Ok(vec![entry("Shared", true)]));
        assert_eq!(b.listed, Listed::Shown(vec![entry("Shared", true)]));
        let shared = FileName::new("Shared").unwrap();
        assert_eq!(b.update(Message::Into(shared)), Some(Event::List(Some(path("Shared")))));
        // A late answer for another folder is not shown here.
        b.listed(None, Ok(vec![]));
        assert_eq!(b.listed, Listed::Loading);
        b.listed(Some(&path("Shared")), Ok(vec![entry("logs", true), entry("a.txt", false)]));
        let logs = FileName::new("logs").unwrap();
        assert_eq!(b.update(Message::Into(logs)), Some(Event::List(Some(path("Shared/logs")))));
        b.listed(Some(&path("Shared/logs")), Err("that path is in a private folder".into()));
        assert_eq!(b.listed, Listed::Failed("that path is in a private folder".into()));
        assert_eq!(b.update(Message::Up), Some(Event::List(Some(path("Shared")))));
        let file = FileName::new("a.txt").unwrap();
        assert_eq!(b.update(Message::Fetch(file)), Some(Event::Fetch(path("Shared/a.txt"))));
        assert_eq!(b.update(Message::Toggle), None);
        assert_eq!(b.listed, Listed::Closed);
    }
}
