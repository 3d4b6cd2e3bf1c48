//! TLS for QUIC: server identities, pinned server verification, and the
//! throwaway certificates peers use (peer identity comes from Noise).
//!
//! Every verifier still checks the TLS handshake signature, so the exporter
//! secret that binds Noise to the QUIC connection belongs to whoever holds
//! the certificate's key.

use std::path::Path;
use std::sync::{Arc, Mutex};

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

use crate::TransportError;

/// ALPN for the rendezvous protocol.
pub const ALPN_RENDEZVOUS: &[u8] = b"tether-rendezvous/1";
/// ALPN for peer sessions.
pub const ALPN_PEER: &[u8] = b"tether-peer/1";

/// SHA-256 of a certificate, shown as hex and pinned by clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// Fingerprint of a DER certificate.
    #[must_use]
    pub fn of(cert: &[u8]) -> Self {
        Self(Sha256::digest(cert).into())
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = TransportError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let clean: String = s.trim().trim_start_matches("sha256:").chars().filter(|c| *c != ':').collect();
        let mut out = [0u8; 32];
        hex::decode_to_slice(&clean, &mut out)
            .map_err(|_| TransportError::Tls("a server certificate fingerprint is 64 hex digits".into()))?;
        Ok(Self(out))
    }
}

/// A certificate and its private key.
#[derive(Debug)]
pub struct Identity {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl Identity {
    /// A fresh self-signed identity.
    pub fn generate() -> Result<Self, TransportError> {
        let ck = rcgen::generate_simple_self_signed(vec!["tether".to_owned()])
            .map_err(|e| TransportError::Tls(e.to_string()))?;
        Ok(Self { cert: ck.cert.der().clone(), key: PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()) })
    }

    /// Loads `cert.der` and `key.der` from `dir`, creating them on first start.
    pub fn load_or_create(dir: &Path) -> Result<Self, TransportError> {
        let (cert_path, key_path) = (dir.join("cert.der"), dir.join("key.der"));
        if cert_path.exists() && key_path.exists() {
            let cert =
                std::fs::read(&cert_path).map_err(TransportError::io("reading the server certificate"))?;
            let key = std::fs::read(&key_path).map_err(TransportError::io("reading the server key"))?;
            return Ok(Self { cert: cert.into(), key: key.into() });
        }
        let id = Self::generate()?;
        std::fs::create_dir_all(dir).map_err(TransportError::io("creating the data directory"))?;
        write_private(&key_path, id.key.secret_pkcs8_der())?;
        std::fs::write(&cert_path, id.cert.as_ref())
            .map_err(TransportError::io("writing the server certificate"))?;
        Ok(id)
    }

    /// This identity's fingerprint.
    #[must_use]
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.cert)
    }

    /// A QUIC server configuration presenting this identity for `alpn`.
    pub fn server_config(&self, alpn: &[u8]) -> Result<quinn::ServerConfig, TransportError> {
        let mut tls = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| TransportError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert.clone()], PrivateKeyDer::Pkcs8(self.key.clone_key()))
            .map_err(|e| TransportError::Tls(e.to_string()))?;
        tls.alpn_protocols = vec![alpn.to_vec()];
        let quic = QuicServerConfig::try_from(tls).map_err(|e| TransportError::Tls(e.to_string()))?;
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(quic));
        config.transport_config(crate::transport_config());
        Ok(config)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TransportError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(TransportError::io("writing the server key"))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(TransportError::io("writing the server key"))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// What a client accepts as the server's certificate.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// Exactly this fingerprint.
    Pinned(Fingerprint),
    /// Anything, recording what was seen (trust on first use, and peers).
    Any,
}

/// Verifies the server certificate against an [`Expect`] and records it.
#[derive(Debug)]
pub(crate) struct Verifier {
    expect: Expect,
    seen: Mutex<Option<Fingerprint>>,
    provider: Arc<CryptoProvider>,
}

impl Verifier {
    pub(crate) fn new(expect: Expect) -> Arc<Self> {
        Arc::new(Self { expect, seen: Mutex::new(None), provider: provider() })
    }

    /// The fingerprint the server presented, once the handshake reached it.
    pub(crate) fn seen(&self) -> Option<Fingerprint> {
        *self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn client_config(
        self: &Arc<Self>,
        alpn: &[u8],
    ) -> Result<quinn::ClientConfig, TransportError> {
        let mut tls = rustls::ClientConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| TransportError::Tls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(self.clone())
            .with_no_client_auth();
        tls.alpn_protocols = vec![alpn.to_vec()];
        let quic = QuicClientConfig::try_from(tls).map_err(|e| TransportError::Tls(e.to_string()))?;
        let mut config = quinn::ClientConfig::new(Arc::new(quic));
        config.transport_config(crate::transport_config());
        Ok(config)
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = Fingerprint::of(end_entity);
        *self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(got);
        match self.expect {
            Expect::Pinned(want) if want != got => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            )),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::PeerIncompatible(rustls::PeerIncompatible::Tls12NotOffered))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
