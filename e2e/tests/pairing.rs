//! Codes that are wrong, burned, expired or unknown fail clearly and fast.

use tether_e2e::{STEP, Scene, read_code};

/// The same code with its last secret digit changed.
fn wrong_secret(code: &str) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    let last = chars.last_mut().expect("a code is not empty");
    *last = char::from(b'0' + ((*last as u8 - b'0' + 1) % 10));
    chars.into_iter().collect()
}

#[test]
fn wrong_secret_digits_burn_the_code() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let mut console = scene.console("end\n")?;
    let code = read_code(&console)?;

    let mut agent = scene.agent(&wrong_secret(&code), Some("view"))?;
    let status = agent.wait_exit(STEP)?;
    assert!(!status.success(), "the agent accepted a wrong code");
    agent.wait_for_stderr("That code is not right. Ask your technician for a new one.", STEP)?;

    assert!(!console.wait_exit(STEP)?.success(), "the console did not report the failure");
    console.wait_for_stderr("burned", STEP)?;

    let mut again = scene.agent(&code, Some("view"))?;
    assert!(!again.wait_exit(STEP)?.success(), "the burned code worked");
    again.wait_for_stderr("already used", STEP)?;
    Ok(())
}

#[test]
fn expired_and_unknown_codes_get_clear_messages() -> anyhow::Result<()> {
    let scene = Scene::new(&["--code-ttl", "1"])?;
    let mut console = scene.console("end\n")?;
    let code = read_code(&console)?;
    assert!(!console.wait_exit(STEP)?.success());
    console.wait_for_stderr("expired before the customer used it", STEP)?;

    let mut late = scene.agent(&code, Some("view"))?;
    assert!(!late.wait_exit(STEP)?.success());
    late.wait_for_stderr("That code has expired. Ask your technician for a new one.", STEP)?;

    let mut unknown = scene.agent("999999-1234", Some("view"))?;
    assert!(!unknown.wait_exit(STEP)?.success());
    unknown.wait_for_stderr("That code is not known", STEP)?;

    let mut malformed = scene.agent("12-34", Some("view"))?;
    assert!(!malformed.wait_exit(STEP)?.success());
    malformed.wait_for_stderr("a code has 7 to 10", STEP)?;
    Ok(())
}
