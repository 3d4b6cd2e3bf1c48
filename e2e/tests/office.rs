//! The back office through the real server: an admin manages accounts and
//! desks from a console while the server runs (a technician may not), the
//! changes are audited with the admin's name; the console window shows the
//! reports with their chart and the administration screen; a note added
//! after a session reaches its record.

use std::time::Duration;

use tether_console::session::{ConsoleError, Technician};
use tether_e2e::desk::{self, xdotool};
use tether_e2e::service::{admin, ask, billing_desk, claim_next};
use tether_e2e::{PASSWORD, Rendezvous, STEP, Xvfb, console_window, keep_screenshot};
use tether_protocol::admin::{Account, AccountRole, AdminReply, AdminRequest, DeskSettings, GroupBy};
use tether_protocol::desk::FieldSpec;
use tether_protocol::signal::SignalError;
use tether_transport::pin::KnownServers;
use tether_transport::signal_client::ServerTrust;

fn trust(server: &Rendezvous, dir: &std::path::Path) -> anyhow::Result<ServerTrust> {
    Ok(ServerTrust { pinned: Some(server.fingerprint.parse()?), known: KnownServers::in_dir(dir) })
}

async fn login(
    server: &Rendezvous,
    trust: &ServerTrust,
    user: &str,
    password: &str,
) -> Result<Technician, ConsoleError> {
    Technician::login(&server.addr, trust, user, password).await
}

#[test]
fn an_admin_manages_accounts_and_desks_while_the_server_runs() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let data = billing_desk(tmp.path())?;
    admin(&data, &["technician", "add", "root", "--role", "admin", "--password-stdin"])?;
    let server = Rendezvous::start(&data, &["--no-turn"])?;
    let trust = trust(&server, tmp.path())?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let mut root = login(&server, &trust, "root", PASSWORD).await?;
        assert_eq!(root.role, AccountRole::Admin);
        let mut alice = login(&server, &trust, "alice", PASSWORD).await?;
        let refused = alice.office(AdminRequest::Accounts).await;
        assert!(matches!(refused, Err(ConsoleError::Refused(SignalError::NotAllowed))), "{refused:?}");

        let eve = Account {
            name: "eve".into(),
            organisation: "Acme".into(),
            role: AccountRole::Technician,
            desks: vec!["billing".into()],
            disabled: false,
        };
        let add = AdminRequest::AddAccount { account: eve, password: "another horse".into() };
        assert_eq!(root.office(add).await?, AdminReply::Done("added eve".into()));
        let AdminReply::Accounts { accounts, more: 0 } = root.office(AdminRequest::Accounts).await? else {
            anyhow::bail!("no account list")
        };
        let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["alice", "eve", "root"]);
        // The new account works at once, without restarting the server.
        let eve_in = login(&server, &trust, "eve", "another horse").await?;
        assert_eq!((eve_in.name.as_str(), eve_in.role), ("eve", AccountRole::Technician));

        let sales = DeskSettings {
            name: "sales".into(),
            fields: vec![FieldSpec::parse("order:Order number:required:10:[0-9]+")?],
            timeout_secs: 120,
        };
        assert_eq!(
            root.office(AdminRequest::AddDesk(sales)).await?,
            AdminReply::Done("added desk sales".into())
        );
        let bad = DeskSettings { name: "late".into(), fields: vec![], timeout_secs: 0 };
        let said = root.office(AdminRequest::AddDesk(bad)).await?;
        assert_eq!(said, AdminReply::Refused("the timeout is 1 to 86400 seconds".into()));

        let disable = |name: &str| AdminRequest::UpdateAccount {
            name: name.into(),
            role: None,
            desks: None,
            disabled: Some(true),
        };
        assert!(matches!(root.office(disable("eve")).await?, AdminReply::Done(_)));
        let locked = login(&server, &trust, "eve", "another horse").await;
        assert!(matches!(locked, Err(ConsoleError::Refused(SignalError::AccountDisabled))), "{locked:?}");
        assert!(
            matches!(root.office(disable("root")).await?, AdminReply::Refused(_)),
            "an admin locked themselves out"
        );
        let report = AdminRequest::Report { from: 0, to: u64::MAX, group_by: GroupBy::Desk };
        assert_eq!(root.office(report).await?, AdminReply::Report { rows: vec![], more: 0 });
        anyhow::Ok(())
    })?;
    drop(server);

    let desks = admin(&data, &["desk", "list"])?;
    assert!(desks.contains("sales\t120\torder:Order number:required:10:[0-9]+"), "{desks}");
    let log = admin(&data, &["audit", "list"])?;
    for entry in [
        "admin: added technician eve (desks: billing) by root",
        "admin: added desk sales (fields: order; timeout 120 s) by root",
        "admin: changed eve: technician, desks billing, disabled by root",
    ] {
        assert!(log.contains(entry), "{entry:?} is not in the audit log:\n{log}");
    }
    assert!(admin(&data, &["audit", "verify"])?.contains("audit log intact"));
    Ok(())
}

#[test]
fn the_console_window_shows_reports_and_administration_and_notes_reach_the_record() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let data = billing_desk(tmp.path())?;
    admin(&data, &["technician", "update", "alice", "--role", "admin", "--desk", "billing"])?;
    let server = Rendezvous::start(&data, &[])?;
    let (customer, tech_x) = (Xvfb::start("1024x768x24")?, Xvfb::start("1280x800x24")?);

    // One queue session, with its survey.
    let mut agent = ask(&server, &customer.display, &tmp.path().join("agent"), "1234")?;
    agent.wait_for_stdout("queued: request 1", STEP)?;
    let script = tmp.path().join("script.txt");
    std::fs::write(&script, "wait-frame\nend\n")?;
    let mut console = claim_next(&server, "alice", &tmp.path().join("console"), 30, &script)?;
    assert!(console.wait_exit(STEP)?.success(), "console failed:\n{}", console.all_output());
    agent.wait_exit(STEP)?;

    // The window: Ctrl+R shows the report, Ctrl+M administration.
    let tech = tech_x.display.clone();
    let window_proc = console_window(&server, &tech, &tmp.path().join("window"), Some(PASSWORD), &[])?;
    let window = desk::wait_window_named(&tech, "Tether console", STEP)?;
    window_proc.wait_for_stdout("recent: ", STEP)?;
    desk::focus(&tech, &window)?;
    xdotool(&tech, &["key", "ctrl+r"])?;
    window_proc.wait_for_stdout("report: alice 1 sessions", STEP)?;
    let shot = tmp.path().join("reports.png");
    // The chart's one bar is drawn in the theme's primary colour.
    let (bar, _) = desk::wait_for_pixels(&tech, &window, &shot, Duration::from_secs(10), |[r, g, b]| {
        b > 200 && r < 120 && g < 160
    })?;
    assert!(bar.x1 - bar.x0 > 400 && bar.y1 - bar.y0 >= 15, "the chart's bar is {bar:?}");
    keep_screenshot(&shot, "console-reports.png")?;

    // Escape goes back to the dashboard; Ctrl+M opens administration.
    xdotool(&tech, &["key", "Escape"])?;
    xdotool(&tech, &["key", "ctrl+m"])?;
    window_proc.wait_for_stdout("admin: 1 accounts", STEP)?;
    let shot = tmp.path().join("admin.png");
    desk::capture_window(&tech, &window, &shot)?;
    keep_screenshot(&shot, "console-admin.png")?;

    // A note after the session, on the back office's connection.
    let rt = tokio::runtime::Runtime::new()?;
    let trust = trust(&server, tmp.path())?;
    let session = rt.block_on(async {
        let mut alice = login(&server, &trust, "alice", PASSWORD).await?;
        let recent = alice.recent_sessions().await?;
        let id = recent.first().map(|s| s.id).unwrap_or_default();
        let said =
            alice.office(AdminRequest::AddNote { session: id, text: "Driver 4.2 fixed it".into() }).await?;
        assert_eq!(said, AdminReply::Done(format!("note added to session {id}")));
        anyhow::Ok(id)
    })?;
    assert!(session > 0);
    drop(window_proc);
    drop(server);
    let records = admin(&data, &["sessions"])?;
    let row = records.lines().find(|l| l.contains("Carol")).unwrap_or_default();
    assert!(row.ends_with("\t4/5 Quick and friendly\tDriver 4.2 fixed it"), "{row}");
    Ok(())
}
