//! A customer link that goes quiet: the console says "reconnecting", picks
//! up again when packets return, and ends clearly when they never do.

use std::time::Duration;

use tether_e2e::{STEP, Scene, read_code};

#[test]
fn a_silent_link_reconnects_and_then_ends_clearly() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let mut console = scene.console("wait 120000\nend\n")?;
    let code = read_code(&console)?;
    let mut agent = scene.agent(&code, Some("view"))?;
    console.wait_for_stdout("path: direct", STEP)?;

    // A frozen customer computer sends nothing, not even keep-alives.
    agent.signal("STOP")?;
    console.wait_for_stdout("link: reconnecting", Duration::from_secs(15))?;
    agent.signal("CONT")?;
    console.wait_for_stdout("link: restored", Duration::from_secs(15))?;

    // Gone for good: the idle timeout ends the session with a clear error.
    agent.kill();
    let status = console.wait_exit(Duration::from_secs(40))?;
    assert!(!status.success(), "the console must report the lost session");
    let out = console.all_output();
    assert_eq!(out.matches("link: reconnecting").count(), 2, "{out}");
    assert!(out.contains("the connection closed before the script finished"), "{out}");
    Ok(())
}
