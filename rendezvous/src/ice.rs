//! Per-session STUN/TURN credentials in coturn's shared-secret scheme
//! (`use-auth-secret`): the user name is `EXPIRY:SESSION` and the password
//! is base64(HMAC-SHA1(secret, user name)). The embedded TURN server and an
//! external coturn check them the same way, and they stop working at EXPIRY.

use std::time::Duration;

use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use tether_protocol::ice::IceServers;

use crate::record::unix_now;

/// The password for `username` under `secret`.
#[must_use]
pub fn password(secret: &str, username: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    BASE64_STANDARD.encode(ring::hmac::sign(&key, username.as_bytes()).as_ref())
}

/// The expiry (Unix seconds) in a user name, if it has the right shape.
#[must_use]
pub fn expiry(username: &str) -> Option<u64> {
    let (expiry, session) = username.split_once(':').unwrap_or((username, ""));
    if session.len() > 64 {
        return None;
    }
    expiry.parse().ok()
}

/// Hands each session its STUN/TURN servers and credentials.
#[derive(Debug, Clone)]
pub enum IceIssuer {
    /// No STUN/TURN: peers use host candidates only.
    None,
    /// The server's own STUN/TURN on this UDP port.
    Embedded {
        /// The port clients reach it at.
        port: u16,
        /// The shared secret.
        secret: String,
        /// How long credentials work.
        ttl: Duration,
    },
    /// An external server such as coturn with `use-auth-secret`.
    External {
        /// `turn:HOST:PORT` (a `stun:` URL for the same host is added).
        url: String,
        /// coturn's `static-auth-secret`.
        secret: String,
        /// How long credentials work.
        ttl: Duration,
    },
}

impl IceIssuer {
    /// What session `session` gets.
    #[must_use]
    pub fn issue(&self, session: u64) -> IceServers {
        let credentials = |secret: &str, ttl: &Duration| {
            let username = format!("{}:{session}", unix_now() + ttl.as_secs());
            let credential = password(secret, &username);
            (username, credential)
        };
        match self {
            Self::None => IceServers::none(),
            Self::Embedded { port, secret, ttl } => {
                let (username, credential) = credentials(secret, ttl);
                IceServers { embedded_port: Some(*port), urls: Vec::new(), username, credential }
            }
            Self::External { url, secret, ttl } => {
                let (username, credential) = credentials(secret, ttl);
                let stun = url.replacen("turn:", "stun:", 1);
                let stun = stun.split('?').next().unwrap_or_default().to_owned();
                IceServers { embedded_port: None, urls: vec![stun, url.clone()], username, credential }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_follow_the_coturn_scheme() {
        // RFC 2202 test case 2 for HMAC-SHA1, in base64.
        assert_eq!(password("Jefe", "what do ya want for nothing?"), "7/zfauXrL6LSdBbV8YTfnCWafHk=");
        let issuer = IceIssuer::External {
            url: "turn:192.0.2.1:3478?transport=udp".into(),
            secret: "s3cret".into(),
            ttl: Duration::from_secs(600),
        };
        let ice = issuer.issue(42);
        assert_eq!(ice.urls, ["stun:192.0.2.1:3478", "turn:192.0.2.1:3478?transport=udp"]);
        assert!(ice.username.ends_with(":42"));
        let exp = expiry(&ice.username).unwrap();
        assert!(exp >= unix_now() + 590 && exp <= unix_now() + 600);
        assert_eq!(ice.credential, password("s3cret", &ice.username));
        assert_eq!(IceIssuer::None.issue(1), IceServers::none());
    }

    #[test]
    fn odd_user_names_have_no_expiry() {
        assert_eq!(expiry("1700000000:7"), Some(1_700_000_000));
        assert_eq!(expiry("1700000000"), Some(1_700_000_000));
        assert_eq!(expiry("alice"), None);
        assert_eq!(expiry(":7"), None);
        assert_eq!(expiry(&format!("1:{}", "x".repeat(65))), None);
    }
}
