//! Reports over session records: per technician, desk or day, the number
//! of sessions, their total and median length, the median wait in the
//! queue, the survey's average and count, and how many ran direct or
//! through the relay. Pure: records in, rows out; then a table, CSV or
//! JSON for people and programs.
//!
//! A session counts in the range its start falls in; sessions whose code
//! was burned never started and do not count. Lengths count sessions that
//! ended; medians of an even count are the mean of the middle two,
//! rounded down.

use serde::Serialize;
use tether_protocol::signal::PathKind;

use crate::record::{Outcome, SessionRecord};

pub use tether_protocol::admin::{GroupBy, ReportRow as Row, day, parse_day};

fn median(mut values: Vec<u64>) -> Option<u64> {
    values.sort_unstable();
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2),
    }
}

/// The rows for sessions started in `[from, to)`, by `by`, in order of
/// their group.
#[must_use]
pub fn report(records: &[SessionRecord], from: u64, to: u64, by: GroupBy) -> Vec<Row> {
    let mut groups: std::collections::BTreeMap<String, Vec<&SessionRecord>> = Default::default();
    for r in records.iter().filter(|r| r.started >= from && r.started < to && r.outcome != Outcome::WrongCode)
    {
        let key = match by {
            GroupBy::Technician => r.technician.clone(),
            GroupBy::Desk => r.request.as_ref().map_or_else(|| "-".to_owned(), |q| q.desk.clone()),
            GroupBy::Day => day(r.started),
        };
        groups.entry(key).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|(group, rs)| {
            let lengths: Vec<u64> =
                rs.iter().filter_map(|r| Some(r.ended?.saturating_sub(r.started))).collect();
            let waits: Vec<u64> = rs
                .iter()
                .filter_map(|r| r.request.as_ref().map(|q| q.claimed.saturating_sub(q.requested)))
                .collect();
            let ratings: Vec<u64> =
                rs.iter().filter_map(|r| r.survey.as_ref().map(|s| u64::from(s.rating))).collect();
            let count = |k: PathKind| rs.iter().filter(|r| r.path == Some(k)).count() as u64;
            Row {
                group,
                sessions: rs.len() as u64,
                total_secs: lengths.iter().sum(),
                median_secs: median(lengths),
                median_wait_secs: median(waits),
                survey_total: ratings.iter().sum(),
                surveys: ratings.len() as u64,
                direct: count(PathKind::Direct),
                relay: count(PathKind::Relay),
            }
        })
        .collect()
}

const HEADERS: [&str; 9] = [
    "group",
    "sessions",
    "total_s",
    "median_s",
    "median_wait_s",
    "survey_avg",
    "surveys",
    "direct_%",
    "relay",
];

fn cells(r: &Row) -> [String; 9] {
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    [
        r.group.clone(),
        r.sessions.to_string(),
        r.total_secs.to_string(),
        opt(r.median_secs),
        opt(r.median_wait_secs),
        r.survey_average().map_or_else(|| "-".to_owned(), |a| format!("{a:.2}")),
        r.surveys.to_string(),
        r.direct_percent().map_or_else(|| "-".to_owned(), |p| format!("{p:.1}")),
        r.relay.to_string(),
    ]
}

/// A table for people, columns aligned.
#[must_use]
pub fn table(rows: &[Row]) -> String {
    let all: Vec<[String; 9]> =
        std::iter::once(HEADERS.map(str::to_owned)).chain(rows.iter().map(cells)).collect();
    let widths: Vec<usize> =
        (0..9).map(|i| all.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    all.iter()
        .map(|r| {
            let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            line.join("  ").trim_end().to_owned() + "\n"
        })
        .collect()
}

/// CSV with a header row.
pub fn csv(rows: &[Row]) -> Result<String, std::io::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADERS)?;
    for r in rows {
        w.write_record(cells(r))?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// A row in JSON, with its average and share worked out.
#[derive(Serialize)]
struct JsonRow<'a> {
    #[serde(flatten)]
    row: &'a Row,
    survey_average: Option<f64>,
    direct_percent: Option<f64>,
}

/// JSON: an array of rows.
pub fn json(rows: &[Row]) -> Result<String, serde_json::Error> {
    let rows: Vec<JsonRow<'_>> = rows
        .iter()
        .map(|row| JsonRow {
            row,
            survey_average: row.survey_average(),
            direct_percent: row.direct_percent(),
        })
        .collect();
    serde_json::to_string_pretty(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{RequestInfo, Survey};

    const DAY1: u64 = 1_796_601_600; // 2026-12-07 00:00 UTC

    fn record(id: u64, tech: &str, desk: Option<&str>, start: u64, len: u64, wait: u64) -> SessionRecord {
        let mut r = SessionRecord::open(id, tech.into(), 0, start);
        r.ended = Some(start + len);
        r.outcome = Outcome::Ended;
        r.path = Some(if id.is_multiple_of(3) { PathKind::Relay } else { PathKind::Direct });
        r.request = desk.map(|d| RequestInfo {
            request: id,
            desk: d.into(),
            customer: "c".into(),
            problem: "p".into(),
            fields: vec![],
            requested: start - wait,
            claimed: start,
        });
        r
    }

    /// Six sessions over two days, one burned code; figures by hand below.
    fn seeded() -> Vec<SessionRecord> {
        let mut rs = vec![
            record(1, "alice", Some("billing"), DAY1 + 100, 600, 30),
            record(2, "alice", Some("billing"), DAY1 + 5_000, 300, 90),
            record(3, "bob", Some("tech"), DAY1 + 7_000, 1_200, 10),
            record(4, "alice", None, DAY1 + 86_400 + 50, 60, 0),
            record(5, "bob", Some("billing"), DAY1 + 86_400 + 900, 900, 60),
            record(6, "bob", Some("tech"), DAY1 + 86_400 + 2_000, 100, 20),
        ];
        rs[0].survey = Some(Survey { rating: 5, comment: String::new() });
        rs[1].survey = Some(Survey { rating: 4, comment: String::new() });
        rs[4].survey = Some(Survey { rating: 2, comment: String::new() });
        let mut burned = record(7, "alice", None, DAY1 + 10, 0, 0);
        burned.outcome = Outcome::WrongCode;
        rs.push(burned);
        rs
    }

    #[test]
    fn figures_match_the_hand_computed_ones() {
        let rows = report(&seeded(), DAY1, DAY1 + 2 * 86_400, GroupBy::Technician);
        // alice: 600, 300, 60 → total 960, median 300; waits 30, 90 → 60;
        // surveys 5, 4 → 4.5; paths: ids 1, 2, 4 direct.
        let alice = &rows[0];
        assert_eq!(
            (alice.group.as_str(), alice.sessions, alice.total_secs, alice.median_secs),
            ("alice", 3, 960, Some(300))
        );
        assert_eq!((alice.median_wait_secs, alice.survey_average(), alice.surveys), (Some(60), Some(4.5), 2));
        assert_eq!((alice.direct, alice.relay), (3, 0));
        // bob: 1200, 900, 100 → 2200, median 900; waits 10, 60, 20 → 20;
        // survey 2; ids 3 and 6 relay, 5 direct.
        let bob = &rows[1];
        assert_eq!(
            (bob.sessions, bob.total_secs, bob.median_secs, bob.median_wait_secs),
            (3, 2200, Some(900), Some(20))
        );
        assert_eq!((bob.survey_average(), bob.surveys, bob.direct, bob.relay), (Some(2.0), 1, 1, 2));
        assert_eq!(bob.direct_percent().map(|p| (p * 10.0).round()), Some(333.0));

        let desks = report(&seeded(), DAY1, DAY1 + 2 * 86_400, GroupBy::Desk);
        let names: Vec<&str> = desks.iter().map(|r| r.group.as_str()).collect();
        assert_eq!(names, ["-", "billing", "tech"]);
        // billing: 600, 300, 900 → median 600; waits 30, 90, 60 → 60.
        assert_eq!(
            (desks[1].sessions, desks[1].median_secs, desks[1].median_wait_secs),
            (3, Some(600), Some(60))
        );
        // tech: 1200 and 100 → median 650 (the mean of the middle two).
        assert_eq!(desks[2].median_secs, Some(650));

        let days = report(&seeded(), DAY1, DAY1 + 2 * 86_400, GroupBy::Day);
        assert_eq!(
            days.iter().map(|r| (r.group.as_str(), r.sessions)).collect::<Vec<_>>(),
            [("2026-12-07", 3), ("2026-12-08", 3)]
        );
        // The range is half open: the second day alone.
        let second = report(&seeded(), DAY1 + 86_400, DAY1 + 2 * 86_400, GroupBy::Technician);
        assert_eq!(second.iter().map(|r| r.sessions).sum::<u64>(), 3);
    }

    #[test]
    fn outputs_carry_the_same_figures() {
        let rows = report(&seeded(), DAY1, DAY1 + 86_400, GroupBy::Technician);
        let t = table(&rows);
        assert!(t.starts_with("group  sessions  total_s"), "{t}");
        assert!(
            t.contains("alice  2         900      450       60             4.50        2        100.0     0"),
            "{t}"
        );
        let c = csv(&rows).unwrap();
        assert!(c.contains("alice,2,900,450,60,4.50,2,100.0,0\n"), "{c}");
        let j: serde_json::Value = serde_json::from_str(&json(&rows).unwrap()).unwrap();
        assert_eq!(j[1]["group"], "bob");
        assert_eq!(j[1]["median_secs"], 1200);
        assert_eq!(j[0]["survey_average"], 4.5);
        assert_eq!(parse_day("2026-12-07"), Ok(DAY1));
        assert!(parse_day("2026-13-01").is_err());
        assert_eq!(day(DAY1 + 86_399), "2026-12-07");
    }
}
