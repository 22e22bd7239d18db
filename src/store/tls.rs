//! TLS to PostgreSQL, as libpq's `sslmode` and `sslrootcert` ask for it, on the bot's own rustls (ring): managed
//! databases refuse plain connections. tokio-postgres knows `sslmode` only up to `require` and no `sslrootcert`,
//! so both are taken out of the URL here and turned into its [`SslMode`] and a rustls certificate check:
//!
//! | sslmode | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | - |
//! | `prefer` (default) | when the server offers it; without `sslrootcert`, plain after a failed handshake (as libpq, per connection: the next one tries TLS again) | not checked, unless `sslrootcert` is given (then as `verify-ca`: always TLS, never plain) |
//! | `require` | always | as `prefer` |
//! | `verify-ca` | always | signed by `sslrootcert` (a file: with the system's roots it would prove nothing, and is refused, as libpq 16 does); any host name |
//! | `verify-full` | always | signed by `sslrootcert` (default: the system's roots), for the URL's host |
//!
//! `sslrootcert=system` names the system's roots, as in libpq 16. `sslcert` and `sslkey` (PEM files, both or
//! neither) present a client certificate to servers that authenticate clients by it (`cert` in `pg_hba.conf`);
//! unlike libpq, nothing is read from `~/.postgresql/` when they are not given.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::StoreError;

/// libpq's `sslmode` values this build honours (`allow`, plain first, has no tokio-postgres equivalent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Mode {
    Disable,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn parse(value: &str) -> Result<Mode, StoreError> {
        Ok(match value {
            "disable" => Mode::Disable,
            "prefer" => Mode::Prefer,
            "require" => Mode::Require,
            "verify-ca" => Mode::VerifyCa,
            "verify-full" => Mode::VerifyFull,
            other => {
                return Err(StoreError::Misconfigured(format!(
                    "sslmode={other} in SCENEBOT_DATABASE is not one of disable, prefer, require, verify-ca, \
                     verify-full"
                )))
            }
        })
    }
}

/// The TLS settings of one `SCENEBOT_DATABASE` URL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Tls {
    mode: Mode,
    /// `sslrootcert`: a PEM file of the certificates to trust, or `system`.
    root_cert: Option<PathBuf>,
    /// `sslcert`: the client's certificate (PEM), for servers that authenticate clients by certificate.
    client_cert: Option<PathBuf>,
    /// `sslkey`: the private key (PEM) of `sslcert`.
    client_key: Option<PathBuf>,
}

/// A client certificate chain and its private key, as rustls takes them.
type ClientIdentity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    ChainAndName,
}

/// `url` without its `sslmode`, `sslrootcert`, `sslcert` and `sslkey` parameters (the rest kept byte for byte, for tokio-postgres),
/// and the TLS settings they asked for.
pub(super) fn split_url(url: &str) -> Result<(String, Tls), StoreError> {
    let mut tls = Tls::default();
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), tls));
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match &*decode(key) {
            "sslmode" => tls.mode = Mode::parse(&decode(value))?,
            "sslrootcert" => tls.root_cert = Some(PathBuf::from(&*decode(value))),
            "sslcert" => tls.client_cert = Some(PathBuf::from(&*decode(value))),
            "sslkey" => tls.client_key = Some(PathBuf::from(&*decode(value))),
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, tls))
}

/// A URL component as libpq reads it: percent-decoded, `+` left as it is.
fn decode(text: &str) -> std::borrow::Cow<'_, str> {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy()
}

impl Tls {
    /// Whether a failed TLS handshake is followed by a plain connection, as libpq does for `sslmode=prefer`. Only
    /// without `sslrootcert`: a certificate asked to be checked is never traded for no TLS.
    pub(super) fn falls_back_to_plain(&self) -> bool {
        self.mode == Mode::Prefer && self.root_cert.is_none()
    }

    /// tokio-postgres's mode for these settings, and the connector that makes its TLS connections. Fails when
    /// `sslrootcert` cannot be read, or a check needs the system's roots and there are none.
    pub(super) fn connector(&self) -> Result<(SslMode, MakeRustlsConnect), StoreError> {
        let system_roots = self
            .root_cert
            .as_ref()
            .is_none_or(|path| path.as_os_str() == "system");
        let chain_only = matches!(self.mode, Mode::VerifyCa)
            || (matches!(self.mode, Mode::Prefer | Mode::Require) && self.root_cert.is_some());
        if chain_only && system_roots {
            // As libpq 16 refuses it: any publicly trusted certificate, for any host, would pass.
            return Err(StoreError::Misconfigured(
                "a certificate signed by any of the system's CAs, for any host name, proves nothing about the \
                 database: with the system's roots use sslmode=verify-full, or give sslrootcert=FILE (the CA that \
                 signs your database's certificate) for verify-ca"
                    .to_owned(),
            ));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (ssl_mode, check) = match (self.mode, &self.root_cert) {
            (Mode::Disable, _) => (SslMode::Disable, Check::Nothing),
            (Mode::Prefer, None) => (SslMode::Prefer, Check::Nothing),
            // A certificate asked to be checked is never traded for no TLS, even when the server (or whoever
            // answers for it) says it has none.
            (Mode::Prefer, Some(_)) => (SslMode::Require, Check::Chain),
            (Mode::Require, None) => (SslMode::Require, Check::Nothing),
            (Mode::Require, Some(_)) | (Mode::VerifyCa, _) => (SslMode::Require, Check::Chain),
            (Mode::VerifyFull, _) => (SslMode::Require, Check::ChainAndName),
        };
        let verifier: Arc<dyn ServerCertVerifier> = match check {
            Check::Nothing => Arc::new(AnyCertificate(Arc::clone(&provider))),
            Check::Chain | Check::ChainAndName => {
                let webpki = WebPkiServerVerifier::builder_with_provider(
                    Arc::new(self.roots()?),
                    Arc::clone(&provider),
                )
                .build()
                .map_err(|error| {
                    StoreError::Misconfigured(format!(
                        "cannot check the server's certificate: {error}"
                    ))
                })?;
                match check {
                    Check::Chain => Arc::new(AnyName(webpki)),
                    _ => webpki,
                }
            }
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| StoreError::Misconfigured(format!("cannot set up TLS: {error}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match self.client_identity()? {
            Some((certificates, key)) => config
                .with_client_auth_cert(certificates, key)
                .map_err(|error| {
                    StoreError::Misconfigured(format!(
                        "sslcert and sslkey in SCENEBOT_DATABASE do not make a usable client certificate: {error}"
                    ))
                })?,
            None => config.with_no_client_auth(),
        };
        Ok((ssl_mode, MakeRustlsConnect::new(config)))
    }

    /// `sslcert`'s certificates and `sslkey`'s key, when both are given; an error names the one missing or unreadable.
    fn client_identity(&self) -> Result<Option<ClientIdentity>, StoreError> {
        let (cert, key) = match (&self.client_cert, &self.client_key) {
            (None, None) => return Ok(None),
            (Some(cert), Some(key)) => (cert, key),
            _ => {
                return Err(StoreError::Misconfigured(
                    "sslcert and sslkey in SCENEBOT_DATABASE go together: give both (the client certificate and \
                     its private key, PEM files) or neither"
                        .to_owned(),
                ))
            }
        };
        let unreadable = |what: &str, path: &PathBuf, error: &dyn std::fmt::Display| {
            StoreError::Misconfigured(format!(
                "cannot read {what} {}: {error}; it must be a PEM file",
                path.display()
            ))
        };
        let certificates = CertificateDer::pem_file_iter(cert)
            .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
            .map_err(|error| unreadable("sslcert", cert, &error))?;
        if certificates.is_empty() {
            return Err(unreadable("sslcert", cert, &"no certificate in it"));
        }
        let key =
            PrivateKeyDer::from_pem_file(key).map_err(|error| unreadable("sslkey", key, &error))?;
        Ok(Some((certificates, key)))
    }

    /// The certificates to trust: `sslrootcert`'s, or the system's.
    fn roots(&self) -> Result<RootCertStore, StoreError> {
        let mut roots = RootCertStore::empty();
        match self.root_cert.as_ref().filter(|path| *path != "system") {
            Some(path) => {
                let unreadable = |error: &dyn std::fmt::Display| {
                    StoreError::Misconfigured(format!(
                        "cannot read sslrootcert {}: {error}; it must be a PEM file of the CA certificates \
                         that sign the server's",
                        path.display()
                    ))
                };
                let certificates = CertificateDer::pem_file_iter(path)
                    .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
                    .map_err(|error| unreadable(&error))?;
                for certificate in certificates {
                    roots.add(certificate).map_err(|error| unreadable(&error))?;
                }
                if roots.is_empty() {
                    return Err(unreadable(&"no certificate in it"));
                }
            }
            None => {
                let (added, _) =
                    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
                if added == 0 {
                    return Err(StoreError::Misconfigured(
                        "no system root certificates to check the server's certificate with: set sslrootcert \
                         in SCENEBOT_DATABASE to the CA certificate file"
                            .to_owned(),
                    ));
                }
            }
        }
        Ok(roots)
    }
}

/// How [`misconfigured`]'s texts start: a failed TLS handshake.
pub(super) const HANDSHAKE_FAILED: &str = "error performing TLS handshake";

/// What to fix when a connection failed in its TLS handshake for a reason retrying cannot change: the server
/// offers no TLS, or it or its certificate failed rustls's checks. `None` for anything else (an I/O error
/// mid-handshake is as transient as any other).
pub(super) fn misconfigured(error: &tokio_postgres::Error) -> Option<String> {
    if !error.to_string().starts_with(HANDSHAKE_FAILED) {
        return None;
    }
    // tokio-postgres's `Display` leaves the cause out.
    let cause = std::error::Error::source(error)?;
    let text = format!("{error}: {cause}");
    if text.contains("server does not support TLS") {
        return Some(format!(
            "{text}; the server offers no TLS: turn ssl on there, or set sslmode=prefer (TLS when offered) or \
             sslmode=disable in SCENEBOT_DATABASE"
        ));
    }
    let io = cause.downcast_ref::<std::io::Error>()?;
    io.get_ref()?.downcast_ref::<rustls::Error>()?;
    Some(format!(
        "{text}; check sslrootcert in SCENEBOT_DATABASE (the CA certificate that signed the server's) and \
         sslmode (verify-full also needs the URL's host name in the certificate)"
    ))
}

/// `sslmode=prefer` and `require` without `sslrootcert`: encrypted, the certificate taken as it comes (libpq's
/// behaviour); the handshake's signatures are still checked, so the session is with the certificate's key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain is checked, the host name is not. webpki checks the chain first, so a name
/// mismatch means the chain passed.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_parameters_leave_the_url_and_the_rest_stays_as_written() {
        let (url, tls) = split_url(
            "postgres://bot:p%40ss@db:5432/scenebot?sslmode=verify-full&options=-c%20a%3Db+c&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            url,
            "postgres://bot:p%40ss@db:5432/scenebot?options=-c%20a%3Db+c"
        );
        assert_eq!(
            tls,
            Tls {
                mode: Mode::VerifyFull,
                root_cert: Some(PathBuf::from("/etc/ca.pem")),
                ..Tls::default()
            }
        );
        let (url, tls) =
            split_url("postgres://db/scenebot?sslmode=disable").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (url.as_str(), tls.mode),
            ("postgres://db/scenebot", Mode::Disable)
        );
        let (url, tls) = split_url("postgres://db/scenebot").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (url.as_str(), tls),
            ("postgres://db/scenebot", Tls::default())
        );
    }

    /// Issue 29.6: a chain check against the system's roots without the host name accepts any publicly trusted
    /// certificate: refused before any connection, as libpq 16 refuses `sslrootcert=system` below verify-full.
    #[test]
    fn a_chain_check_against_the_system_roots_without_the_name_is_refused() {
        for query in [
            "sslmode=verify-ca",
            "sslmode=verify-ca&sslrootcert=system",
            "sslmode=require&sslrootcert=system",
            "sslmode=prefer&sslrootcert=system",
        ] {
            let (_, tls) =
                split_url(&format!("postgres://db/x?{query}")).unwrap_or_else(|e| panic!("{e}"));
            let error = tls.connector().err();
            assert!(
                matches!(&error, Some(StoreError::Misconfigured(text)) if text.contains("verify-full")),
                "{query}: {error:?}"
            );
        }
    }

    #[test]
    fn an_unknown_sslmode_or_an_unreadable_root_cert_is_misconfigured() {
        let error = split_url("postgres://db/x?sslmode=allow").err();
        assert!(
            matches!(&error, Some(StoreError::Misconfigured(text)) if text.contains("verify-full")),
            "{error:?}"
        );
        let (_, tls) = split_url("postgres://db/x?sslmode=verify-ca&sslrootcert=/no/such/ca.pem")
            .unwrap_or_else(|e| panic!("{e}"));
        let error = tls.connector().err();
        assert!(
            matches!(&error, Some(StoreError::Misconfigured(text)) if text.contains("/no/such/ca.pem")),
            "{error:?}"
        );
        let (url, tls) = split_url("postgres://db/x?sslcert=%2Fetc%2Fbot.crt&sslmode=require")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(url, "postgres://db/x");
        let error = tls.connector().err();
        assert!(
            matches!(&error, Some(StoreError::Misconfigured(text)) if text.contains("go together")),
            "{error:?}"
        );
    }
}
