//! Mail: the backends a message leaves through, and the letters it is rendered from.
//!
//! Policy (DESIGN principle 6, STYLE "Jobs and mail"): nothing here is called inside a business
//! transaction. Services render a [`letters::Letter`] into an outbox row; the outbox job claims
//! rows and hands them to a [`Mailer`] after commit. Every SMTP call runs under
//! `tokio::time::timeout`, because lettre's own timeout covers only connecting.

pub mod bodies;
pub mod letters;
pub mod smtp;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};

use anyhow::Context;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{MailBackend, Settings};

/// A message ready to leave: what the outbox row holds.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub message_id: String,
}

/// A message the memory backend kept (tests read these).
#[derive(Debug, Clone)]
pub struct Kept {
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The whole message as it would go over the wire.
    pub raw: String,
}

/// Why a send failed, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The server refused for good (5xx: no such mailbox), or the message is malformed.
    #[error("{0}")]
    Permanent(String),
    /// Connection refused, timed out, 4xx: try again later.
    #[error("{0}")]
    Transient(String),
}

impl SendError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Permanent(_))
    }
}

/// The way out: one enum rather than a trait object, so every backend is visible here.
pub enum Mailer {
    Smtp {
        pool: Box<smtp::Pool>,
        timeout: Duration,
    },
    File(AsyncFileTransport<Tokio1Executor>),
    Memory(Arc<Mutex<Vec<Kept>>>),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mailer::Smtp { .. } => "Mailer::Smtp",
            Mailer::File(_) => "Mailer::File",
            Mailer::Memory(_) => "Mailer::Memory",
        })
    }
}

impl Mailer {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Mailer> {
        let m = &settings.mail;
        Ok(match m.backend {
            MailBackend::Smtp => {
                let root = Some(m.tls_root_cert.trim())
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        std::fs::read(settings.root.join(p))
                            .with_context(|| format!("reading mail.tls_root_cert {p}"))
                    })
                    .transpose()?;
                Mailer::smtp(
                    &m.smtp_url,
                    Duration::from_secs(m.timeout_seconds),
                    m.pool_size,
                    root,
                )?
            }
            MailBackend::File => {
                let dir = settings.mail_dir();
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                Mailer::File(AsyncFileTransport::new(dir))
            }
            MailBackend::Memory => Mailer::memory(),
        })
    }

    /// An SMTP mailer from a URL: `smtp://` (plain, or STARTTLS with `?tls=required`),
    /// `smtps://` (TLS from the start); credentials in the URL.
    pub fn smtp(
        url: &str,
        timeout: Duration,
        pool_size: u32,
        root_cert: Option<Vec<u8>>,
    ) -> anyhow::Result<Mailer> {
        let mut target = smtp::parse(url)
            .with_context(|| format!("mail.smtp_url `{}` is not usable", redact(url)))?;
        target.root_cert = root_cert;
        Ok(Mailer::Smtp {
            pool: Box::new(smtp::Pool::new(target, timeout, pool_size as usize)),
            timeout,
        })
    }

    pub fn memory() -> Mailer {
        Mailer::Memory(Arc::new(Mutex::new(Vec::new())))
    }

    /// What the memory backend kept (empty for the others).
    pub fn kept(&self) -> Vec<Kept> {
        match self {
            Mailer::Memory(m) => m.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            _ => Vec::new(),
        }
    }

    /// Send messages, `concurrency` at a time; a message not started by `start_by` is left
    /// unsent (its claim's lease is running out: another sender may claim it, and two sends
    /// must not overlap). The result of each message tried, by its id.
    pub async fn send_all(
        &self,
        from: &Mailbox,
        mails: Vec<Outgoing>,
        concurrency: usize,
        start_by: Instant,
    ) -> Vec<(i64, Result<String, SendError>)> {
        stream::iter(mails)
            .map(|m| async move {
                if Instant::now() > start_by {
                    return None;
                }
                Some((m.id, self.send(from, &m).await))
            })
            .buffer_unordered(concurrency.max(1))
            .filter_map(|a| async move { a })
            .collect()
            .await
    }

    /// Send one message; on success, what the server said (or where the file went).
    pub async fn send(&self, from: &Mailbox, m: &Outgoing) -> Result<String, SendError> {
        let message = build(from, m)?;
        match self {
            Mailer::Smtp { pool, timeout } => {
                let raw = message.formatted();
                match tokio::time::timeout(*timeout, pool.send(message.envelope(), &raw)).await {
                    Err(_) => Err(SendError::Transient(format!(
                        "the SMTP server did not answer within {} s",
                        timeout.as_secs()
                    ))),
                    Ok(result) => result,
                }
            }
            Mailer::File(t) => t
                .send(message)
                .await
                .map(|id| format!("written {id}.eml"))
                .map_err(|e| SendError::Transient(e.to_string())),
            Mailer::Memory(kept) => {
                let raw = String::from_utf8_lossy(&message.formatted()).into_owned();
                kept.lock().unwrap_or_else(|p| p.into_inner()).push(Kept {
                    message_id: m.message_id.clone(),
                    to: m.to.clone(),
                    subject: m.subject.clone(),
                    text: m.text.clone(),
                    html: m.html.clone(),
                    raw,
                });
                Ok("kept in memory".to_owned())
            }
        }
    }
}

fn build(from: &Mailbox, m: &Outgoing) -> Result<Message, SendError> {
    let to: Mailbox =
        m.to.parse()
            .map_err(|e| SendError::Permanent(format!("bad recipient `{}`: {e}", m.to)))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(m.subject.clone())
        .message_id(Some(m.message_id.clone()))
        .multipart(MultiPart::alternative_plain_html(
            m.text.clone(),
            m.html.clone(),
        ))
        .map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))
}

/// A URL with its password hidden, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(unparsable)".to_owned(),
    }
}

/// A stable, unique Message-ID for an outbox row, assigned when the row is written.
pub fn new_message_id(from: &Mailbox) -> String {
    let domain = from.email.domain();
    format!("<{}@{domain}>", uuid::Uuid::new_v4().simple())
}
