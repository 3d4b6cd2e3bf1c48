//! Screen capture on a real X server: the MIT-SHM path gives exactly the
//! pixels plain `GetImage` gives, and both are what was drawn.

use std::time::{Duration, Instant};

use tether_agent::screen::{Captured, ScreenSource};
use tether_agent::x11::X11Source;
use tether_e2e::Xvfb;
use tether_e2e::movie::{self, Movie, Reel};

/// The reel's area of a capture, RGBA.
fn area(c: &Captured, reel: Reel) -> Vec<u8> {
    let (x, y, w) =
        (usize::try_from(reel.x).unwrap(), usize::try_from(reel.y).unwrap(), usize::from(reel.width));
    let stride = c.width as usize * 4;
    (0..usize::from(reel.height))
        .flat_map(|row| {
            let start = (y + row) * stride + x * 4;
            c.rgba[start..start + w * 4].to_vec()
        })
        .collect()
}

#[test]
fn shared_memory_capture_is_pixel_exact() -> anyhow::Result<()> {
    let x = Xvfb::start("640x480x24")?;
    // One frame drawn, then held: phase 0 of the movie's pattern.
    let reel = Reel { x: 100, y: 60, width: 200, height: 120, fps: 1, play: Duration::from_millis(500) };
    let shown = Movie::play(&x.display, reel)?;
    let want: Vec<u8> = movie::frame(reel.width, reel.height, 0)
        .chunks_exact(4)
        .flat_map(|p| [p[2], p[1], p[0], 255])
        .collect();

    let mut shm = X11Source::connect(Some(&x.display))?;
    assert!(shm.uses_shm(), "Xvfb offers MIT-SHM 1.2, so capture should use it");
    let mut plain = X11Source::connect(Some(&x.display))?.without_shm();
    assert!(!plain.uses_shm());

    let deadline = Instant::now() + Duration::from_secs(10);
    while area(&shm.capture()?, reel) != want {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the drawn frame never showed in the shared-memory capture"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A buffer given back full of stale bytes is overwritten entirely.
    shm.recycle(vec![7; 640 * 480 * 4 + 100]);
    let (a, b) = (shm.capture()?, plain.capture()?);
    assert_eq!((a.width, a.height), (640, 480));
    assert_eq!(a.rgba.len(), 640 * 480 * 4);
    assert!(a == b, "shared-memory and GetImage captures differ");
    assert_eq!(area(&b, reel), want, "GetImage does not show the drawn frame");
    assert!(shm.uses_shm(), "capture fell back from shared memory");
    shown.close()
}

#[test]
fn a_resolution_change_is_followed() -> anyhow::Result<()> {
    let x = Xvfb::start("1280x800x24")?;
    let mut source = X11Source::connect(Some(&x.display))?;
    assert!(source.uses_shm());
    let first = source.capture()?;
    assert_eq!((first.width, first.height), (1280, 800));
    // Xvfb can shrink its screen (it cannot grow past its start size);
    // xrandr complains about the output but the screen does change.
    let _ = std::process::Command::new("xrandr")
        .args(["--fb", "1024x768"])
        .env("DISPLAY", &x.display)
        .stderr(std::process::Stdio::null())
        .status()?;
    let after = source.capture()?;
    assert_eq!((after.width, after.height), (1024, 768), "the capture kept the old size");
    assert_eq!(after.rgba.len(), 1024 * 768 * 4);
    assert_eq!(source.size(), (1024, 768));
    assert!(source.uses_shm(), "the resize cost the shared-memory capture");
    Ok(())
}
