//! Child processes whose output is collected line by line, killed on drop.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

type Lines = Arc<Mutex<Vec<String>>>;

/// A running child process.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Child,
    stdout: Lines,
    stderr: Lines,
}

fn collect(name: String, stream: impl std::io::Read + Send + 'static, echo: &'static str) -> Lines {
    let lines: Lines = Arc::default();
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            eprintln!("[{name} {echo}] {line}");
            sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(line);
        }
    });
    lines
}

impl Proc {
    /// Spawns `program` with `args` and extra environment.
    pub fn spawn(name: &str, program: PathBuf, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::spawn_with_stdin(name, program, args, env, "")
    }

    /// Spawns inside network namespace `ns` if given (through
    /// `ip netns exec`, which becomes the program), writing `input` to it.
    pub fn spawn_in(
        ns: Option<&str>,
        name: &str,
        program: PathBuf,
        args: &[&str],
        env: &[(&str, &str)],
        input: &str,
    ) -> anyhow::Result<Self> {
        let Some(ns) = ns else { return Self::spawn_with_stdin(name, program, args, env, input) };
        let program = program.display().to_string();
        let mut all = vec!["netns", "exec", ns, program.as_str()];
        all.extend_from_slice(args);
        Self::spawn_with_stdin(name, PathBuf::from("ip"), &all, env, input)
    }

    /// Spawns and writes `input` to its standard input, then closes it.
    pub fn spawn_with_stdin(
        name: &str,
        program: PathBuf,
        args: &[&str],
        env: &[(&str, &str)],
        input: &str,
    ) -> anyhow::Result<Self> {
        let mut child = Command::new(&program)
            .args(args)
            .envs(env.iter().copied())
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes()).context("writing to a child's stdin")?;
        }
        let stdout = collect(name.to_owned(), child.stdout.take().context("no stdout")?, "out");
        let stderr = collect(name.to_owned(), child.stderr.take().context("no stderr")?, "err");
        Ok(Self { name: name.to_owned(), child, stdout, stderr })
    }

    fn find(lines: &Lines, needle: &str, nth: usize) -> Option<String> {
        lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|l| l.contains(needle))
            .nth(nth)
            .cloned()
    }

    /// Waits for a stdout line containing `needle`.
    pub fn wait_for_stdout(&self, needle: &str, limit: Duration) -> anyhow::Result<String> {
        self.wait_for(&self.stdout, needle, 0, limit)
    }

    /// Waits for the `nth` (from 0) stdout line containing `needle`.
    pub fn wait_for_nth_stdout(&self, needle: &str, nth: usize, limit: Duration) -> anyhow::Result<String> {
        self.wait_for(&self.stdout, needle, nth, limit)
    }

    /// Waits for a stderr line containing `needle`.
    pub fn wait_for_stderr(&self, needle: &str, limit: Duration) -> anyhow::Result<String> {
        self.wait_for(&self.stderr, needle, 0, limit)
    }

    fn wait_for(&self, lines: &Lines, needle: &str, nth: usize, limit: Duration) -> anyhow::Result<String> {
        let start = Instant::now();
        loop {
            if let Some(l) = Self::find(lines, needle, nth) {
                return Ok(l);
            }
            if start.elapsed() > limit {
                bail!(
                    "{}: no line with {needle:?} within {} s; output:\n{}",
                    self.name,
                    limit.as_secs(),
                    self.all_output()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything it printed so far.
    #[must_use]
    pub fn all_output(&self) -> String {
        let get = |l: &Lines| l.lock().unwrap_or_else(std::sync::PoisonError::into_inner).join("\n");
        format!("--- stdout ---\n{}\n--- stderr ---\n{}", get(&self.stdout), get(&self.stderr))
    }

    /// Waits for it to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> anyhow::Result<ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait()? {
                // Let the reader threads drain the pipes.
                std::thread::sleep(Duration::from_millis(100));
                return Ok(s);
            }
            if start.elapsed() > limit {
                bail!(
                    "{} did not exit within {} s; output:\n{}",
                    self.name,
                    limit.as_secs(),
                    self.all_output()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its exit status if it has exited, without waiting.
    pub fn try_status(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// Sends it a signal, such as `STOP` or `CONT`.
    pub fn signal(&self, name: &str) -> anyhow::Result<()> {
        let status = Command::new("kill").args([format!("-{name}"), self.child.id().to_string()]).status()?;
        if !status.success() {
            bail!("kill -{name} {} failed", self.name);
        }
        Ok(())
    }

    /// Its process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills it at once (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}
