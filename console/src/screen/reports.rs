//! Reports: sessions per technician, desk or day over a range of days, as
//! a bar chart of the chosen figure and a table of all of them, from the
//! server's records of the sessions this account may see (an admin all, a
//! supervisor their desks', a technician their own).

use iced::widget::{Space, button, column, container, pick_list, row, scrollable, text, text_input};
use iced::{Center, Element, Fill, Length};
use tether_protocol::admin::{GroupBy, ReportRow, day, parse_day};

/// Longest bar, in logical pixels.
const BAR_PX: f32 = 560.0;
/// Width of the group names left of the bars.
const LABEL_PX: f32 = 180.0;
const DAY: u64 = 86_400;

/// Which figure the chart draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// Sessions started.
    Sessions,
    /// Total length, in minutes.
    Minutes,
    /// Average survey rating.
    Survey,
    /// Share of direct sessions.
    Direct,
}

impl Figure {
    const ALL: [Self; 4] = [Self::Sessions, Self::Minutes, Self::Survey, Self::Direct];

    /// The figure for one row, and how it reads.
    fn of(self, r: &ReportRow) -> (f64, String) {
        match self {
            Self::Sessions => (r.sessions as f64, r.sessions.to_string()),
            Self::Minutes => (r.total_secs as f64 / 60.0, format!("{} min", r.total_secs / 60)),
            Self::Survey => {
                r.survey_average().map_or((0.0, "no survey".to_owned()), |a| (a, format!("{a:.2} of 5")))
            }
            Self::Direct => {
                r.direct_percent().map_or((0.0, "no path".to_owned()), |p| (p, format!("{p:.0} %")))
            }
        }
    }

    /// The longest bar's value: the biggest row, or the scale's top.
    fn top(self, rows: &[ReportRow]) -> f64 {
        match self {
            Self::Survey => 5.0,
            Self::Direct => 100.0,
            Self::Sessions | Self::Minutes => rows.iter().map(|r| self.of(r).0).fold(0.0, f64::max),
        }
    }
}

impl std::fmt::Display for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sessions => "Sessions",
            Self::Minutes => "Total time",
            Self::Survey => "Survey average",
            Self::Direct => "Direct connections",
        })
    }
}

/// Where the report stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Not asked yet.
    Idle,
    /// Asked; waiting for the server.
    Loading,
    /// The rows arrived.
    Ready,
    /// It failed; why.
    Failed(String),
}

/// The reports screen.
#[derive(Debug, Clone)]
pub struct Reports {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day (included), `YYYY-MM-DD`.
    pub to: String,
    /// How rows are grouped.
    pub group_by: GroupBy,
    /// What the chart draws.
    pub figure: Figure,
    /// The rows.
    pub rows: Vec<ReportRow>,
    /// Rows that did not fit the answer.
    pub more: u64,
    /// Where it stands.
    pub status: Status,
}

/// What the user did.
#[derive(Debug, Clone)]
pub enum Message {
    /// First day typed.
    From(String),
    /// Last day typed.
    To(String),
    /// Grouping chosen.
    Group(GroupBy),
    /// Figure chosen.
    Figure(Figure),
    /// Run the report.
    Run,
    /// Back to the dashboard.
    Back,
}

/// What the app must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Ask the server for this report.
    Run {
        /// Unix seconds, inclusive.
        from: u64,
        /// Unix seconds, exclusive.
        to: u64,
        /// Grouping.
        group_by: GroupBy,
    },
    /// Show the dashboard.
    Back,
}

impl Reports {
    /// The last seven days up to `today` (Unix seconds), by technician.
    #[must_use]
    pub fn new(today: u64) -> Self {
        Self {
            from: day(today.saturating_sub(6 * DAY)),
            to: day(today),
            group_by: GroupBy::Technician,
            figure: Figure::Sessions,
            rows: Vec::new(),
            more: 0,
            status: Status::Idle,
        }
    }

    /// The request for the range typed, or why it cannot be run.
    fn request(&self) -> Result<Event, String> {
        let from = parse_day(&self.from)?;
        let to = parse_day(&self.to)? + DAY;
        if to <= from {
            return Err("The last day comes before the first.".into());
        }
        Ok(Event::Run { from, to, group_by: self.group_by })
    }

    /// Handles one message.
    pub fn update(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::From(s) => self.from = s,
            Message::To(s) => self.to = s,
            Message::Figure(f) => self.figure = f,
            Message::Back => return Some(Event::Back),
            Message::Group(g) => {
                self.group_by = g;
                return self.update(Message::Run);
            }
            Message::Run => match self.request() {
                Ok(run) => {
                    self.status = Status::Loading;
                    return Some(run);
                }
                Err(why) => self.status = Status::Failed(why),
            },
        }
        None
    }

    /// The server answered.
    pub fn answered(&mut self, rows: Result<(Vec<ReportRow>, u64), String>) {
        match rows {
            Ok((rows, more)) => {
                self.rows = rows;
                self.more = more;
                self.status = Status::Ready;
            }
            Err(why) => self.status = Status::Failed(why),
        }
    }

    /// One bar per group, its length in proportion to the chosen figure.
    fn chart(&self) -> Element<'_, Message> {
        let top = self.figure.top(&self.rows);
        let bars = self.rows.iter().fold(column![].spacing(6), |c, r| {
            let (value, label) = self.figure.of(r);
            let width = if top > 0.0 { (value / top) as f32 * BAR_PX } else { 0.0 };
            let bar = container(Space::new()).width(width.max(1.0)).height(20).style(container::primary);
            c.push(row![text(r.group.clone()).width(LABEL_PX), bar, text(label)].spacing(10).align_y(Center))
        });
        column![text(format!("{} by {}", self.figure, self.group_by)).size(18), bars].spacing(10).into()
    }

    /// Every figure, a row per group.
    fn table(&self) -> Element<'_, Message> {
        let cell = |s: String, w: f32| text(s).width(Length::Fixed(w));
        let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v} s"));
        let header = row![
            cell(self.group_by.to_string(), LABEL_PX),
            cell("sessions".into(), 80.0),
            cell("total".into(), 90.0),
            cell("median".into(), 90.0),
            cell("median wait".into(), 110.0),
            cell("survey".into(), 110.0),
            cell("direct".into(), 80.0),
            cell("relay".into(), 60.0),
        ];
        self.rows
            .iter()
            .fold(column![header].spacing(4), |c, r| {
                let survey =
                    r.survey_average().map_or_else(|| "-".to_owned(), |a| format!("{a:.2} ({})", r.surveys));
                let direct = r.direct_percent().map_or_else(|| "-".to_owned(), |p| format!("{p:.0} %"));
                c.push(row![
                    cell(r.group.clone(), LABEL_PX),
                    cell(r.sessions.to_string(), 80.0),
                    cell(format!("{} min", r.total_secs / 60), 90.0),
                    cell(opt(r.median_secs), 90.0),
                    cell(opt(r.median_wait_secs), 110.0),
                    cell(survey, 110.0),
                    cell(direct, 80.0),
                    cell(r.relay.to_string(), 60.0),
                ])
            })
            .into()
    }

    /// The screen.
    pub fn view(&self) -> Element<'_, Message> {
        let controls = row![
            text("From"),
            text_input("2026-12-01", &self.from).id("report-from").on_input(Message::From).width(120),
            text("to"),
            text_input("2026-12-07", &self.to)
                .id("report-to")
                .on_input(Message::To)
                .on_submit(Message::Run)
                .width(120),
            text("by"),
            pick_list(GroupBy::ALL, Some(self.group_by), Message::Group),
            text("chart"),
            pick_list(Figure::ALL, Some(self.figure), Message::Figure),
            button(text("Run")).on_press(Message::Run),
        ]
        .spacing(10)
        .align_y(Center);
        let header = row![
            text("Reports").size(24).width(Fill),
            button(text("Back to the dashboard")).on_press(Message::Back)
        ]
        .align_y(Center);
        let mut body = column![header, controls].spacing(20).padding(24);
        body = match &self.status {
            Status::Idle => body.push(text("Choose the days and run the report.")),
            Status::Loading => body.push(text("Asking the server…")),
            Status::Failed(why) => body.push(text(why.clone()).style(text::danger)),
            Status::Ready if self.rows.is_empty() => body.push(text("No sessions in these days.")),
            Status::Ready => body.push(self.chart()).push(self.table()),
        };
        if self.more > 0 {
            body = body.push(text(format!(
                "{} more groups did not fit; choose fewer days, or run `tether-rendezvous report` on the server.",
                self.more
            )));
        }
        scrollable(body).height(Fill).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_test::simulator;

    const DAY1: u64 = 1_796_601_600; // 2026-12-07 00:00 UTC

    fn row(group: &str, sessions: u64, total_secs: u64, surveys: (u64, u64)) -> ReportRow {
        ReportRow {
            group: group.into(),
            sessions,
            total_secs,
            median_secs: Some(total_secs / sessions.max(1)),
            median_wait_secs: Some(30),
            survey_total: surveys.0,
            surveys: surveys.1,
            direct: sessions,
            relay: 0,
        }
    }

    #[test]
    fn the_range_typed_becomes_the_request_and_bad_days_are_explained() {
        let mut reports = Reports::new(DAY1 + 3_600);
        assert_eq!((reports.from.as_str(), reports.to.as_str()), ("2026-12-01", "2026-12-07"));
        // The last day is included: the range ends at the next midnight.
        let run = reports.update(Message::Run);
        assert_eq!(
            run,
            Some(Event::Run { from: DAY1 - 6 * DAY, to: DAY1 + DAY, group_by: GroupBy::Technician })
        );
        assert_eq!(reports.status, Status::Loading);
        reports.update(Message::To("2026-11-02".into()));
        assert_eq!(reports.update(Message::Run), None);
        assert_eq!(reports.status, Status::Failed("The last day comes before the first.".into()));
        reports.update(Message::From("yesterday".into()));
        assert_eq!(reports.update(Message::Run), None);
        assert_eq!(reports.status, Status::Failed("\"yesterday\" is not a date like 2026-12-07".into()));
        // Choosing a grouping runs it again.
        reports.update(Message::From("2026-11-01".into()));
        let by_desk = reports.update(Message::Group(GroupBy::Desk));
        assert!(matches!(by_desk, Some(Event::Run { group_by: GroupBy::Desk, .. })), "{by_desk:?}");
    }

    #[test]
    fn the_chart_draws_the_chosen_figure_for_every_group() {
        let mut reports = Reports::new(DAY1);
        reports.answered(Ok((vec![row("alice", 3, 960, (9, 2)), row("bob", 1, 1200, (0, 0))], 0)));
        {
            let mut ui = simulator(reports.view());
            assert!(ui.find("Sessions by technician").is_ok());
            assert!(ui.find("alice").is_ok() && ui.find("3").is_ok());
            assert!(ui.find("4.50 (2)").is_ok(), "the table has the survey average");
        }
        reports.update(Message::Figure(Figure::Survey));
        let mut ui = simulator(reports.view());
        assert!(ui.find("Survey average by technician").is_ok());
        assert!(ui.find("4.50 of 5").is_ok() && ui.find("no survey").is_ok());
        assert_eq!(Figure::Minutes.of(&reports.rows[1]).1, "20 min");
        assert_eq!(Figure::Sessions.top(&reports.rows), 3.0);
    }

    #[test]
    fn empty_failed_and_cut_reports_say_so() {
        let mut reports = Reports::new(DAY1);
        reports.answered(Ok((vec![], 0)));
        assert!(simulator(reports.view()).find("No sessions in these days.").is_ok());
        reports.answered(Ok((vec![row("alice", 1, 60, (5, 1))], 12)));
        assert!(simulator(reports.view()).find("12 more groups did not fit; choose fewer days, or run `tether-rendezvous report` on the server.").is_ok());
        reports.answered(Err("your account may not do that; ask an administrator".into()));
        assert!(simulator(reports.view()).find("your account may not do that; ask an administrator").is_ok());
        let messages: Vec<_> = {
            let mut ui = simulator(reports.view());
            ui.click("Back to the dashboard").unwrap();
            ui.into_messages().collect()
        };
        let events: Vec<_> = messages.into_iter().filter_map(|m| reports.update(m)).collect();
        assert_eq!(events, [Event::Back]);
    }
}
