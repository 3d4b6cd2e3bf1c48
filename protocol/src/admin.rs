//! Administration and reports over the signalling connection: what an
//! admin's console asks of the server (accounts, desks), what anyone logged
//! in may ask for reports on, and the answers. The server decides who may
//! do what; these are only the words.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::desk::FieldSpec;

/// Room for the items of one answer, below the largest signalling message;
/// what does not fit is counted in the answer's `more`.
pub const ANSWER_BYTES: usize = crate::signal::MAX_SIGNAL_MESSAGE - 1024;

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AccountRole {
    /// Takes sessions: codes, and the queues of their desks.
    Technician,
    /// A technician who may also watch their desks' sessions and reports.
    Supervisor,
    /// May also manage accounts and desks.
    Admin,
}

impl AccountRole {
    /// Every role, least first.
    pub const ALL: [Self; 3] = [Self::Technician, Self::Supervisor, Self::Admin];
}

impl std::str::FromStr for AccountRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "technician" => Ok(Self::Technician),
            "supervisor" => Ok(Self::Supervisor),
            "admin" => Ok(Self::Admin),
            _ => Err(format!("a role is technician, supervisor or admin, not {s:?}")),
        }
    }
}

impl fmt::Display for AccountRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Technician => "technician",
            Self::Supervisor => "supervisor",
            Self::Admin => "admin",
        })
    }
}

/// An account as an admin sees it (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// Organisation shown to customers.
    pub organisation: String,
    /// What it may do.
    pub role: AccountRole,
    /// Desks whose queues it serves.
    pub desks: Vec<String>,
    /// Disabled accounts cannot log in.
    pub disabled: bool,
}

/// A desk as an admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskSettings {
    /// Its name.
    pub name: String,
    /// What customers are asked.
    pub fields: Vec<FieldSpec>,
    /// How long a request waits before the customer is told nobody
    /// answered, in seconds.
    pub timeout_secs: u64,
}

/// How report rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GroupBy {
    /// By technician.
    Technician,
    /// By desk (`-` for code sessions).
    Desk,
    /// By UTC day of the start, `YYYY-MM-DD`.
    Day,
}

impl GroupBy {
    /// Every grouping.
    pub const ALL: [Self; 3] = [Self::Technician, Self::Desk, Self::Day];
}

impl std::str::FromStr for GroupBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "technician" => Ok(Self::Technician),
            "desk" => Ok(Self::Desk),
            "day" => Ok(Self::Day),
            _ => Err(format!("group by technician, desk or day, not {s:?}")),
        }
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Technician => "technician",
            Self::Desk => "desk",
            Self::Day => "day",
        })
    }
}

/// One group's figures in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRow {
    /// The technician, desk or day.
    pub group: String,
    /// Sessions started in the range.
    pub sessions: u64,
    /// Their total length, in seconds.
    pub total_secs: u64,
    /// Their median length, in seconds.
    pub median_secs: Option<u64>,
    /// Median time queue sessions waited to be claimed, in seconds.
    pub median_wait_secs: Option<u64>,
    /// The sum of the survey ratings.
    pub survey_total: u64,
    /// Surveys answered.
    pub surveys: u64,
    /// Sessions that ran peer to peer.
    pub direct: u64,
    /// Sessions that ran through the relay.
    pub relay: u64,
}

impl ReportRow {
    /// The average survey rating, if anyone answered.
    #[must_use]
    pub fn survey_average(&self) -> Option<f64> {
        (self.surveys > 0).then(|| self.survey_total as f64 / self.surveys as f64)
    }

    /// Direct sessions out of those whose path is known, in percent.
    #[must_use]
    pub fn direct_percent(&self) -> Option<f64> {
        let known = self.direct + self.relay;
        (known > 0).then(|| self.direct as f64 * 100.0 / known as f64)
    }
}

/// The UTC day of a Unix time, `YYYY-MM-DD`.
#[must_use]
pub fn day(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .map_or_else(|| "-".to_owned(), |t| t.date().to_string())
}

/// Parses `YYYY-MM-DD` as the Unix time of that day's start (UTC).
pub fn parse_day(s: &str) -> Result<u64, String> {
    let bad = || format!("{s:?} is not a date like 2026-12-07");
    let mut parts = s.trim().splitn(3, '-').map(str::parse::<i32>);
    let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let month = time::Month::try_from(u8::try_from(m).map_err(|_| bad())?).map_err(|_| bad())?;
    let date =
        time::Date::from_calendar_date(y, month, u8::try_from(d).map_err(|_| bad())?).map_err(|_| bad())?;
    u64::try_from(date.midnight().assume_utc().unix_timestamp()).map_err(|_| bad())
}

/// A request to the server's administration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminRequest {
    /// Every account (admins only).
    Accounts,
    /// Add an account (admins only).
    AddAccount {
        /// The account, enabled.
        account: Account,
        /// Its password, in clear inside the pinned TLS; hashed by the server.
        password: String,
    },
    /// Change an account's role, desks or state (admins only); `None`
    /// keeps what it has.
    UpdateAccount {
        /// Which account.
        name: String,
        /// A new role.
        role: Option<AccountRole>,
        /// New desks.
        desks: Option<Vec<String>>,
        /// Disable (true) or enable (false).
        disabled: Option<bool>,
    },
    /// Every desk (admins only).
    Desks,
    /// Add a desk (admins only).
    AddDesk(DeskSettings),
    /// A report over the sessions this account may see: an admin sees all,
    /// a supervisor their desks', a technician their own.
    Report {
        /// Start of the range (Unix seconds, inclusive).
        from: u64,
        /// End of the range (Unix seconds, exclusive).
        to: u64,
        /// How rows are grouped.
        group_by: GroupBy,
    },
    /// Add a note to one of the technician's own recorded sessions, after
    /// it ended.
    AddNote {
        /// The session's id.
        session: u64,
        /// The note (at most [`crate::signal::MAX_NOTE`] bytes).
        text: String,
    },
}

/// The server's answer to an [`AdminRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminReply {
    /// The accounts, by name.
    Accounts {
        /// As many as fit one message.
        accounts: Vec<Account>,
        /// How many more did not fit.
        more: u64,
    },
    /// The desks, by name.
    Desks {
        /// As many as fit one message.
        desks: Vec<DeskSettings>,
        /// How many more did not fit.
        more: u64,
    },
    /// A change was made and written to the audit log; in words.
    Done(String),
    /// The report's rows, in order of their group.
    Report {
        /// As many as fit one message.
        rows: Vec<ReportRow>,
        /// How many more did not fit (narrow the range, or use the
        /// server's `report` command).
        more: u64,
    },
    /// The change was refused; why, for people.
    Refused(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire;

    #[test]
    fn names_parse_back_and_averages_are_exact() {
        for r in AccountRole::ALL {
            assert_eq!(r.to_string().parse::<AccountRole>(), Ok(r));
        }
        for g in GroupBy::ALL {
            assert_eq!(g.to_string().parse::<GroupBy>(), Ok(g));
        }
        assert!("boss".parse::<AccountRole>().is_err());
        let row = ReportRow {
            group: "alice".into(),
            sessions: 3,
            total_secs: 960,
            median_secs: Some(300),
            median_wait_secs: None,
            survey_total: 9,
            surveys: 2,
            direct: 1,
            relay: 2,
        };
        assert_eq!(row.survey_average(), Some(4.5));
        assert_eq!(row.direct_percent().map(|p| (p * 10.0).round()), Some(333.0));
        let reply = AdminReply::Report { rows: vec![row], more: 0 };
        assert_eq!(wire::decode::<AdminReply>(&wire::encode(&reply)).unwrap(), reply);
    }
}
