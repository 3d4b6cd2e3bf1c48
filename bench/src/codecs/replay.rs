//! Replaying a recording through each encoder: Tether's codec, zstd on whole
//! frames, and ffmpeg's VP9 (RustDesk's codec, at its "balanced" bit rate)
//! and x264, so all of them see identical input.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tether_agent::{REFINE_AFTER, REFINE_BATCH};
use tether_protocol::channel::screen;
use tether_protocol::codec::{Decoder, Encoder, encoder::DEFAULT_LEVEL};
use tether_protocol::wire;

use super::record::{FPS, Recording};

/// One encoder's result on one recording.
pub struct Result {
    pub encoder: &'static str,
    pub bytes: usize,
    /// CPU (or wall, for in-process encoders on one thread) ms per frame.
    pub encode_ms: f64,
    pub fidelity: Fidelity,
}

/// How close the decoded pictures are to the recorded ones.
pub enum Fidelity {
    /// Every pixel exact.
    Lossless,
    /// Lossy, with the PSNR in dB over all frames.
    Psnr(f64),
    /// Lossy, not measured (TigerVNC's JPEG, seen only by its viewer).
    LossyUnmeasured,
}

impl std::fmt::Display for Fidelity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Lossless => f.write_str("yes"),
            Self::Psnr(db) => write!(f, "no ({db:.1})"),
            Self::LossyUnmeasured => f.write_str("no (not measured)"),
        }
    }
}

/// The JPEG quality of Tether's lossy row: the middle of the agent's ladder,
/// where it settled on a 2 Mbit/s uplink in the NAT lab.
pub const LOSSY_QUALITY: u8 = 50;

/// Squared error over the RGB channels of two RGBA pictures.
fn squared_error(a: &[u8], b: &[u8]) -> u64 {
    a.chunks_exact(4)
        .zip(b.chunks_exact(4))
        .map(|(p, q)| (0..3).map(|c| u64::from(p[c].abs_diff(q[c])).pow(2)).sum::<u64>())
        .sum()
}

/// Tether's codec: the screen messages as they go on the wire, every frame
/// decoded and compared with what was recorded. With `lossy`, photo tiles go
/// as JPEG at [`LOSSY_QUALITY`], and once the screen has been still for the
/// agent's `REFINE_AFTER` they are refined a batch per frame, as the agent
/// does; PSNR is then over every frame shown.
pub fn tether(rec: &Recording, lossy: bool) -> anyhow::Result<Result> {
    let mut enc = Encoder::new(DEFAULT_LEVEL)?;
    enc.set_lossy(lossy.then_some(LOSSY_QUALITY));
    let mut dec = Decoder::new()?;
    let period = Duration::from_secs(1) / FPS;
    let (mut bytes, mut busy, mut error, mut still) = (0, 0.0, 0u64, Duration::ZERO);
    for pixels in &rec.frames {
        let t = Instant::now();
        let mut frame = enc.encode(rec.width, rec.height, pixels)?;
        if frame.is_none() {
            still += period;
            if still >= REFINE_AFTER {
                frame = enc.refine(REFINE_BATCH)?;
            }
        } else {
            still = Duration::ZERO;
        }
        busy += t.elapsed().as_secs_f64() * 1000.0;
        if let Some(frame) = frame {
            bytes += wire::encode(&screen::AgentToConsole::Frame(frame.clone())).len() + 4;
            dec.apply(&frame)?;
        }
        let (_, _, shown) = dec.framebuffer().context("nothing decoded")?;
        if !lossy && shown != pixels.as_slice() {
            bail!("Tether's codec was not lossless on {}", rec.name);
        }
        error += squared_error(shown, pixels);
    }
    let samples = rec.frames.len() as f64 * f64::from(rec.width * rec.height) * 3.0;
    let fidelity = if error == 0 {
        Fidelity::Lossless
    } else {
        Fidelity::Psnr(10.0 * (255.0f64.powi(2) * samples / error as f64).log10())
    };
    let encoder =
        if lossy { "Tether, photos lossy (JPEG q50) until still" } else { "Tether codec v2, lossless" };
    Ok(Result { encoder, bytes, encode_ms: busy / rec.frames.len() as f64, fidelity })
}

/// zstd level 1 on each whole frame that changed: the baseline.
pub fn zstd_frames(rec: &Recording) -> anyhow::Result<Result> {
    let (mut bytes, mut busy) = (0, 0.0);
    let mut last: Option<&Vec<u8>> = None;
    for pixels in &rec.frames {
        if last == Some(pixels) {
            continue;
        }
        let t = Instant::now();
        bytes += zstd::bulk::compress(pixels, 1)?.len();
        busy += t.elapsed().as_secs_f64() * 1000.0;
        last = Some(pixels);
    }
    Ok(Result {
        encoder: "zstd -1, whole frames",
        bytes,
        encode_ms: busy / rec.frames.len() as f64,
        fidelity: Fidelity::Lossless,
    })
}

/// Writes the recording as raw RGBA for ffmpeg.
pub fn write_raw(rec: &Recording, path: &Path) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for pixels in &rec.frames {
        f.write_all(pixels)?;
    }
    f.flush()?;
    Ok(())
}

fn raw_input(rec: &Recording, raw: &Path) -> Vec<String> {
    let size = format!("{}x{}", rec.width, rec.height);
    ["-f", "rawvideo", "-pix_fmt", "rgba", "-s", &size, "-r", &FPS.to_string(), "-i"]
        .iter()
        .map(|s| (*s).to_owned())
        .chain([raw.display().to_string()])
        .collect()
}

/// `bench: utime=1.234s stime=0.100s` from ffmpeg's `-benchmark`: CPU seconds.
fn cpu_seconds(stderr: &str) -> Option<f64> {
    let line = stderr.lines().rev().find(|l| l.contains("utime="))?;
    let field =
        |name: &str| -> Option<f64> { line.split(name).nth(1)?.split('s').next()?.trim().parse().ok() };
    Some(field("utime=")? + field("stime=")?)
}

/// `average:34.56` from ffmpeg's psnr filter.
fn psnr(stderr: &str) -> Option<f64> {
    let rest = stderr.lines().rev().find(|l| l.contains("PSNR"))?.split("average:").nth(1)?;
    let value = rest.split_whitespace().next()?;
    if value == "inf" { Some(f64::INFINITY) } else { value.parse().ok() }
}

/// Encodes the raw file with ffmpeg `codec` arguments into `out`, then
/// measures PSNR against the input.
pub fn ffmpeg(
    rec: &Recording,
    raw: &Path,
    out: &Path,
    encoder: &'static str,
    codec: &[&str],
) -> anyhow::Result<Result> {
    let mut args = vec!["-hide_banner".to_owned(), "-y".to_owned(), "-benchmark".to_owned()];
    args.extend(raw_input(rec, raw));
    args.extend(codec.iter().map(|s| (*s).to_owned()));
    args.push(out.display().to_string());
    let run = Command::new("ffmpeg").args(&args).stdin(Stdio::null()).output().context("running ffmpeg")?;
    let stderr = String::from_utf8_lossy(&run.stderr);
    if !run.status.success() {
        bail!("ffmpeg ({encoder}) failed: {}", stderr.lines().last().unwrap_or_default());
    }
    let cpu = cpu_seconds(&stderr).context("ffmpeg printed no CPU time")?;
    let mut args = vec!["-hide_banner".to_owned(), "-i".to_owned(), out.display().to_string()];
    args.extend(raw_input(rec, raw));
    args.extend(
        ["-lavfi", "[0:v]format=gbrp[a];[1:v]format=gbrp[b];[a][b]psnr", "-f", "null", "-"]
            .map(str::to_owned),
    );
    let check = Command::new("ffmpeg").args(&args).stdin(Stdio::null()).output().context("running ffmpeg")?;
    let quality = psnr(&String::from_utf8_lossy(&check.stderr)).context("ffmpeg printed no PSNR")?;
    Ok(Result {
        encoder,
        bytes: std::fs::metadata(out)?.len() as usize,
        encode_ms: cpu * 1000.0 / rec.frames.len() as f64,
        fidelity: Fidelity::Psnr(quality),
    })
}

/// VP9 as RustDesk configures it, CBR at 1,389 kbit/s.
pub fn vp9(rec: &Recording, raw: &Path, dir: &Path) -> anyhow::Result<Result> {
    let codec = [
        "-c:v",
        "libvpx-vp9",
        "-deadline",
        "realtime",
        "-cpu-used",
        "7",
        "-row-mt",
        "1",
        "-tile-columns",
        "4",
        "-b:v",
        "1389k",
        "-minrate",
        "1389k",
        "-maxrate",
        "1389k",
        "-pix_fmt",
        "yuv420p",
        "-f",
        "ivf",
    ];
    ffmpeg(rec, raw, &dir.join("vp9.ivf"), "VP9 realtime CBR 1,389 kbit/s (RustDesk)", &codec)
}

/// x264 ultrafast, zero latency, default quality (CRF 23).
pub fn x264(rec: &Recording, raw: &Path, dir: &Path) -> anyhow::Result<Result> {
    let codec = [
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-tune",
        "zerolatency",
        "-pix_fmt",
        "yuv420p",
        "-f",
        "h264",
    ];
    ffmpeg(rec, raw, &dir.join("x264.h264"), "x264 ultrafast zerolatency", &codec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffmpeg_figures_are_read() {
        let bench = "frame=  100 fps=...\nbench: utime=1.250s stime=0.050s rtime=0.900s\n";
        assert!(cpu_seconds(bench).is_some_and(|s| (s - 1.3).abs() < 1e-9));
        let line = "[Parsed_psnr_0 @ 0x1] PSNR r:40.1 g:41.0 b:39.9 a:inf average:40.33 min:38.00 max:44.00";
        assert_eq!(psnr(line), Some(40.33));
        assert_eq!(psnr("nothing"), None);
    }
}
