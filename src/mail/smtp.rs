//! SMTP connections with Nagle's algorithm off, pooled.
//!
//! Why not lettre's `AsyncSmtpTransport`: lettre 0.11 writes a message's body and its final
//! `.` as two writes on a socket without `TCP_NODELAY`, so each message waits ~40 ms for the
//! server's delayed acknowledgement (README, Benchmarks, has the figures). Here the socket is
//! opened with `TCP_NODELAY` and handed to lettre's own SMTP conversation
//! (`AsyncSmtpConnection`), which does the EHLO, STARTTLS, AUTH and DATA; implicit TLS
//! (`smtps://`) uses lettre's connect, where the TLS layer is in the way anyway.

use std::time::Duration;

use anyhow::{Context, bail};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::sync::Mutex;

use super::SendError;

fn lettre_error(e: lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() {
        SendError::Permanent(e.to_string())
    } else {
        SendError::Transient(e.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    None,
    /// STARTTLS when the server offers it.
    Opportunistic,
    /// STARTTLS or fail.
    Required,
    /// TLS from the first byte (`smtps://`, port 465).
    Implicit,
}

/// Where and how to connect, from `mail.smtp_url`.
#[derive(Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub credentials: Option<Credentials>,
    pub hello: ClientId,
    /// PEM of an extra trusted root (the relay's internal CA).
    pub root_cert: Option<Vec<u8>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} ({:?})", self.host, self.port, self.tls)
    }
}

/// `smtp://[user:pass@]host[:port][?tls=required|opportunistic]`, `smtps://…` (lettre's URL
/// scheme).
pub fn parse(url: &str) -> anyhow::Result<Target> {
    let u = url::Url::parse(url).context("not a URL")?;
    let query = |k: &str| {
        u.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    let tls = match (u.scheme(), query("tls").as_deref()) {
        ("smtps", _) => Tls::Implicit,
        ("smtp", None | Some("none")) => Tls::None,
        ("smtp", Some("opportunistic")) => Tls::Opportunistic,
        ("smtp", Some("required")) => Tls::Required,
        ("smtp", Some(other)) => bail!("tls={other}: use required or opportunistic"),
        (other, _) => bail!("scheme {other}: use smtp or smtps"),
    };
    let host = u.host_str().context("no host")?.to_owned();
    let port = u.port().unwrap_or(match tls {
        Tls::Implicit => 465,
        Tls::Required => 587,
        _ => 25,
    });
    let decode = percent_decode;
    let credentials = (!u.username().is_empty()).then(|| {
        Credentials::new(
            decode(u.username()),
            decode(u.password().unwrap_or_default()),
        )
    });
    let hello = query("helo_name").map(ClientId::Domain).unwrap_or_default();
    Ok(Target {
        host,
        port,
        tls,
        credentials,
        hello,
        root_cert: None,
    })
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A small pool of open SMTP connections.
pub struct Pool {
    target: Target,
    timeout: Duration,
    idle: Mutex<Vec<AsyncSmtpConnection>>,
    max_idle: usize,
}

impl Pool {
    pub fn new(target: Target, timeout: Duration, max_idle: usize) -> Pool {
        Pool {
            target,
            timeout,
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let t = &self.target;
        let tls = || {
            let mut b = TlsParameters::builder(t.host.clone());
            if let Some(pem) = &t.root_cert {
                b = b.add_root_certificate(Certificate::from_pem(pem).map_err(lettre_error)?);
            }
            b.build().map_err(lettre_error)
        };
        let mut conn = match t.tls {
            Tls::Implicit => AsyncSmtpConnection::connect_tokio1(
                (t.host.as_str(), t.port),
                Some(self.timeout),
                &t.hello,
                Some(tls()?),
                None,
            )
            .await
            .map_err(lettre_error)?,
            _ => {
                let stream = tokio::net::TcpStream::connect((t.host.as_str(), t.port))
                    .await
                    .map_err(|e| {
                        SendError::Transient(format!("connecting to {}:{}: {e}", t.host, t.port))
                    })?;
                // The point of this module: no Nagle stall between a body and its final dot.
                let _ = stream.set_nodelay(true);
                let mut conn =
                    AsyncSmtpConnection::connect_with_transport(Box::new(stream), &t.hello)
                        .await
                        .map_err(lettre_error)?;
                match t.tls {
                    Tls::Required => conn
                        .starttls(tls()?, &t.hello)
                        .await
                        .map_err(lettre_error)?,
                    Tls::Opportunistic if conn.can_starttls() => conn
                        .starttls(tls()?, &t.hello)
                        .await
                        .map_err(lettre_error)?,
                    _ => {}
                }
                conn
            }
        };
        if let Some(c) = &t.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], c)
                .await
                .map_err(lettre_error)?;
        }
        Ok(conn)
    }

    /// Send one message on a pooled connection (a new one when none is idle). A connection
    /// that failed is dropped, never returned.
    pub async fn send(&self, envelope: &Envelope, raw: &[u8]) -> Result<String, SendError> {
        let idle = self.idle.lock().await.pop();
        let mut conn = match idle {
            Some(c) if !c.has_broken() => c,
            _ => self.connect().await?,
        };
        let response = conn.send(envelope, raw).await;
        if response.is_ok() && !conn.has_broken() {
            let mut idle = self.idle.lock().await;
            if idle.len() < self.max_idle {
                idle.push(conn);
            }
        }
        let r = response.map_err(lettre_error)?;
        Ok(format!(
            "{} {}",
            r.code(),
            r.message().collect::<Vec<_>>().join(" ")
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_tls_mode_port_and_credentials() {
        let t = parse("smtp://relay.example.gov.cn").unwrap();
        assert_eq!((t.port, t.tls), (25, Tls::None));
        assert!(t.credentials.is_none());
        let t = parse("smtp://user%40bureau:p%40ss@relay:2525?tls=required").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.tls),
            ("relay", 2525, Tls::Required)
        );
        assert!(t.credentials.is_some());
        let t = parse("smtp://relay?tls=required").unwrap();
        assert_eq!(t.port, 587);
        let t = parse("smtps://relay").unwrap();
        assert_eq!((t.port, t.tls), (465, Tls::Implicit));
        assert!(parse("smtp://relay?tls=maybe").is_err());
        assert!(parse("http://relay").is_err());
        assert!(parse("relay:25").is_err());
    }

    #[test]
    fn percent_encoded_credentials_are_decoded() {
        assert_eq!(percent_decode("p%40ss%2Bword"), "p@ss+word");
    }
}
