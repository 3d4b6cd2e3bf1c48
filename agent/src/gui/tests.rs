//! The customer's window, driven with iced_test.

use iced_test::simulator;
use tether_protocol::channel::control::Consent;
use tether_protocol::signal::CandidateKind;

use super::*;

fn live(consent: Consent) -> Window {
    let mut w = Window::new(None);
    w.update(Message::Event(AgentEvent::Connected {
        technician: "Alice".into(),
        organisation: "Acme IT".into(),
        sas: "acid amber atlas bear".into(),
        path: PathInfo {
            kind: PathKind::Relay,
            local: CandidateKind::ServerReflexive,
            remote: CandidateKind::Relay,
        },
    }));
    w.update(Message::Event(AgentEvent::Consent(consent)));
    w
}

fn click(w: &mut Window, label: &str) -> Vec<Action> {
    let messages: Vec<_> = {
        let mut ui = simulator(w.view());
        ui.click(label).unwrap();
        ui.into_messages().collect()
    };
    messages.into_iter().filter_map(|m| w.update(m)).collect()
}

#[test]
fn deny_answers_no_and_keeps_input_blocked() {
    let mut w = live(Consent { view: true, control: false });
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let who = Asker {
        technician: "Alice".into(),
        organisation: "Acme IT".into(),
        sas: "acid amber atlas bear".into(),
    };
    w.update(Message::Ask(Question {
        who,
        what: Permission::Control,
        suggested: None,
        reply: Reply(Arc::new(Mutex::new(Some(tx)))),
    }));
    {
        let mut ui = simulator(w.view());
        assert!(ui.find("Alice (Acme IT) asks to control your mouse and keyboard.").is_ok());
        assert!(ui.find("acid amber atlas bear").is_ok());
    }
    assert!(click(&mut w, "Deny").is_empty());
    assert_eq!(rx.try_recv(), Ok(None));
    assert!(!w.consent.control);
    let mut ui = simulator(w.view());
    assert!(ui.find("Alice (Acme IT) is viewing your screen").is_ok());
    assert!(ui.find("Stop control").is_err(), "nothing to stop");
    assert!(ui.find("Connected through the relay server, end-to-end encrypted (srflx/relay)").is_ok());
}

#[test]
fn stop_control_takes_effect_at_once() {
    let mut w = live(Consent { view: true, control: true });
    {
        let mut ui = simulator(w.view());
        assert!(ui.find("Alice (Acme IT) is controlling your screen").is_ok());
    }
    assert_eq!(click(&mut w, "Stop control"), vec![Action::Command(Command::StopControl)]);
    assert!(!w.consent.control);
    let mut ui = simulator(w.view());
    assert!(ui.find("Alice (Acme IT) is viewing your screen").is_ok());
}

#[test]
fn the_code_is_checked_before_connecting() {
    let mut w = Window::new(Some("12-34".into()));
    assert!(click(&mut w, "Connect").is_empty());
    {
        let mut ui = simulator(w.view());
        assert!(ui.find("That code has 4 digits; a code has 7 to 10, like 123-4567.").is_ok());
    }
    w.update(Message::CodeChanged("123-4567".into()));
    let actions = click(&mut w, "Connect");
    assert!(matches!(actions.as_slice(), [Action::Start(code)] if code.to_string() == "123-4567"));
    let mut ui = simulator(w.view());
    assert!(ui.find("Connecting to your technician…").is_ok());
}

#[test]
fn the_end_is_shown_and_the_window_closes() {
    let mut w = live(Consent { view: true, control: false });
    assert_eq!(w.update(Message::Finished(Ok(EndReason::TechnicianEnded))), Some(Action::Quit));
    let mut ui = simulator(w.view());
    assert!(ui.find("The session has ended. Nothing was left on this computer.").is_ok());
}

#[test]
fn end_session_is_always_there() {
    let mut w = live(Consent { view: true, control: false });
    assert_eq!(click(&mut w, "End session"), vec![Action::Command(Command::End)]);
}

#[test]
fn chat_goes_both_ways() {
    let mut w = live(Consent { view: true, control: false });
    w.update(Message::Event(AgentEvent::Chat("Hello, I am looking now".into())));
    {
        let mut ui = simulator(w.view());
        assert!(ui.find("Alice: Hello, I am looking now").is_ok());
    }
    let actions: Vec<_> = {
        let mut ui = simulator(w.view());
        ui.click(iced::widget::Id::new("chat")).unwrap();
        let _ = ui.typewrite("The printer is offline");
        let _ = ui.tap_key(iced::keyboard::key::Named::Enter);
        ui.into_messages().collect::<Vec<_>>()
    }
    .into_iter()
    .filter_map(|m| w.update(m))
    .collect();
    assert_eq!(actions, vec![Action::Command(Command::Chat("The printer is offline".into()))]);
    {
        let mut ui = simulator(w.view());
        assert!(ui.find("You: The printer is offline").is_ok());
    }
    w.update(Message::Event(AgentEvent::ChatDelivered));
    let mut ui = simulator(w.view());
    assert!(ui.find("You: The printer is offline ✓").is_ok());
}

#[test]
fn a_transfer_shows_its_progress_and_can_be_cancelled() {
    use crate::files::{Progress, Shown};
    let mut w = live(Consent { view: true, control: false });
    let shown = Shown { id: 4, name: "setup.exe".into(), incoming: true };
    w.update(Message::Event(AgentEvent::Transfer(shown.clone(), Progress::Running(500_000, 2_000_000))));
    {
        let mut ui = simulator(w.view());
        assert!(ui.find("Receiving “setup.exe”").is_ok());
        assert!(ui.find("25% 0.0 MB/s, waiting (2.0 MB)").is_ok());
    }
    assert_eq!(click(&mut w, "Cancel"), vec![Action::Command(Command::CancelTransfer(4))]);
    w.update(Message::Event(AgentEvent::Transfer(shown.clone(), Progress::Over(Err("cancelled".into())))));
    // A late tick does not bring it back.
    w.update(Message::Event(AgentEvent::Transfer(shown, Progress::Running(600_000, 2_000_000))));
    let mut ui = simulator(w.view());
    assert!(ui.find("Stopped: cancelled").is_ok());
    assert!(ui.find("Cancel").is_err());
}

fn offer(w: &mut Window, suggested: &std::path::Path) -> std::sync::mpsc::Receiver<Option<Destination>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let who = Asker { technician: "Alice".into(), organisation: String::new(), sas: "acid".into() };
    w.update(Message::Ask(Question {
        who,
        what: Permission::Receive { name: "fix.sh".into(), size: 21, folder: "Downloads".into() },
        suggested: Some(suggested.to_path_buf()),
        reply: Reply(Arc::new(Mutex::new(Some(tx)))),
    }));
    rx
}

#[test]
fn the_customer_chooses_where_a_file_goes() {
    let downloads = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let mut w = live(Consent { view: true, control: false });
    // Allowed as suggested: into Downloads.
    let rx = offer(&mut w, downloads.path());
    assert_eq!(w.save_into, downloads.path().display().to_string());
    {
        let mut ui = simulator(w.view());
        assert!(
            ui.find("Alice (Acme IT) asks to send you the file “fix.sh” (21 bytes) into Downloads.").is_ok()
        );
        assert!(ui.find("Choose…").is_ok());
    }
    click(&mut w, "Allow");
    assert_eq!(rx.try_recv(), Ok(Some(Destination::Suggested)));
    // A folder that does not exist keeps the question open with a reason.
    let rx = offer(&mut w, downloads.path());
    w.update(Message::SaveInto("/no/such/folder".into()));
    click(&mut w, "Allow");
    assert!(rx.try_recv().is_err(), "answered into a folder that does not exist");
    assert_eq!(w.save_error.as_deref(), Some("“/no/such/folder” is not a folder on this computer"));
    // The picker's choice is used.
    assert_eq!(click(&mut w, "Choose…"), vec![Action::PickFolder("/no/such/folder".into())]);
    w.update(Message::Picked(Some(elsewhere.path().to_path_buf())));
    assert_eq!(w.save_error, None);
    click(&mut w, "Allow");
    assert_eq!(rx.try_recv(), Ok(Some(Destination::Chosen(elsewhere.path().to_path_buf()))));
    // Deny is no whatever the folder says.
    let rx = offer(&mut w, downloads.path());
    click(&mut w, "Deny");
    assert_eq!(rx.try_recv(), Ok(None));
}

#[test]
fn a_help_request_waits_in_the_queue_and_can_be_withdrawn() {
    use tether_protocol::desk::FieldSpec;
    let mut w = Window::for_desk();
    let fields = vec![FieldSpec::parse("account:Account number:optional:8").unwrap()];
    w.update(Message::DeskLoaded(Ok(("billing".into(), fields))));
    w.update(Message::Form(FormMessage::Name("Carol".into())));
    w.update(Message::Form(FormMessage::Problem("No sound".into())));
    let asked = w.update(Message::Form(FormMessage::Ask));
    assert!(
        matches!(asked, Some(Action::Ask(ref a)) if a.name == "Carol" && a.fields.is_empty()),
        "{asked:?}"
    );
    w.update(Message::Event(AgentEvent::Queued(3)));
    {
        let mut ui = simulator(w.view());
        assert!(ui.find("You are number 3 in the queue.").is_ok());
    }
    w.update(Message::Event(AgentEvent::Queued(1)));
    {
        let mut ui = simulator(w.view());
        assert!(ui.find("You are next.").is_ok());
    }
    assert_eq!(click(&mut w, "Cancel my request"), vec![Action::Withdraw]);
    let mut ui = simulator(w.view());
    assert!(ui.find("You withdrew your request; nothing was shared.").is_ok());
}

#[test]
fn the_exit_survey_sends_a_rating_and_comment_or_nothing() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    // The session asks from a blocking thread and waits for the window.
    let asked = std::thread::spawn(move || ask_in_window(&tx));
    let form = rx.blocking_recv().unwrap();
    let mut w = live(Consent { view: true, control: false });
    w.update(Message::Survey(form));
    {
        let mut ui = simulator(w.view());
        assert!(ui.find("The session has ended. How did it go?").is_ok());
    }
    // Send stays off until a rating is chosen.
    assert!(click(&mut w, "Send").is_empty());
    assert!(matches!(w.stage, Stage::Survey(_)));
    click(&mut w, "4");
    w.update(Message::SurveyForm(SurveyMessage::Comment("  Quick and kind ".into())));
    click(&mut w, "Send");
    assert_eq!(asked.join().unwrap(), Some((4, "Quick and kind".into())));
    assert!(matches!(&w.stage, Stage::Ended(why) if why.starts_with("Thank you")));

    // Skip answers nothing; so does a session that finishes meanwhile.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let asked = std::thread::spawn(move || ask_in_window(&tx));
    w.update(Message::Survey(rx.blocking_recv().unwrap()));
    click(&mut w, "Skip");
    assert_eq!(asked.join().unwrap(), None);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let asked = std::thread::spawn(move || ask_in_window(&tx));
    w.update(Message::Survey(rx.blocking_recv().unwrap()));
    w.update(Message::Finished(Ok(EndReason::TechnicianEnded)));
    assert_eq!(asked.join().unwrap(), None);
}

#[test]
fn the_banner_names_invited_experts_and_removes_them() {
    let mut w = live(Consent { view: true, control: false });
    w.update(Message::Event(AgentEvent::Expert { number: 2, name: "Expert 2".into(), connected: true }));
    {
        let mut ui = simulator(w.view());
        assert!(ui.find("Expert 2, invited by your technician, also sees your screen").is_ok());
    }
    assert_eq!(click(&mut w, "Remove Expert 2"), [Action::Command(Command::RemoveExpert(2))]);
    assert!(w.experts.is_empty(), "the banner forgets the expert at once");
    // One who leaves by themselves goes from the banner too.
    w.update(Message::Event(AgentEvent::Expert { number: 3, name: "Expert 3".into(), connected: true }));
    w.update(Message::Event(AgentEvent::Expert { number: 3, name: "Expert 3".into(), connected: false }));
    assert!(simulator(w.view()).find("Remove Expert 3").is_err());
}
