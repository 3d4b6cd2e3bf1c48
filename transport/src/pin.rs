//! Remembered server keys (trust on first use) in a small text file.
//!
//! Each line is `HOST:PORT SHA256HEX`. A client that is given `--server-cert`
//! pins that fingerprint; otherwise it pins what it finds here, or, the
//! first time, accepts the server's key and remembers it.

use std::path::{Path, PathBuf};

use crate::TransportError;
use crate::tls::Fingerprint;

/// The file of remembered server keys.
#[derive(Debug, Clone)]
pub struct KnownServers {
    path: PathBuf,
}

impl KnownServers {
    /// The file `known_servers` in `dir`.
    #[must_use]
    pub fn in_dir(dir: &Path) -> Self {
        Self { path: dir.join("known_servers") }
    }

    /// The remembered fingerprint for `server`.
    pub fn get(&self, server: &str) -> Result<Option<Fingerprint>, TransportError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(TransportError::Io { context: "reading known servers", source: e });
            }
        };
        for line in text.lines() {
            if let Some((host, fp)) = line.split_once(' ')
                && host == server
            {
                return fp.parse().map(Some);
            }
        }
        Ok(None)
    }

    /// Remembers `fingerprint` for `server`, replacing nothing: a changed
    /// key must be removed by hand, on purpose.
    pub fn remember(&self, server: &str, fingerprint: Fingerprint) -> Result<(), TransportError> {
        use std::io::Write;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(TransportError::io("creating the data directory"))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(TransportError::io("writing known servers"))?;
        writeln!(f, "{server} {fingerprint}")
            .and_then(|()| f.sync_all())
            .map_err(TransportError::io("writing known servers"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_per_server() {
        let dir = std::env::temp_dir().join(format!("tether-pin-{}", std::process::id()));
        let ks = KnownServers::in_dir(&dir);
        assert_eq!(ks.get("a:1").unwrap(), None);
        ks.remember("a:1", Fingerprint([1; 32])).unwrap();
        ks.remember("b:2", Fingerprint([2; 32])).unwrap();
        assert_eq!(ks.get("a:1").unwrap(), Some(Fingerprint([1; 32])));
        assert_eq!(ks.get("b:2").unwrap(), Some(Fingerprint([2; 32])));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
