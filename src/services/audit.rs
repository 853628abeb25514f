//! Verifying the audit log: every chain is recomputed from its stored entries and compared with
//! its recorded head, then the seals over the chain heads are checked (their own chain, their
//! recorded heads, and that each sealed head is still in its chain). The first broken link is
//! reported; nothing is trusted but the hashes. Sealing is here too.

use diesel::prelude::*;
use serde::Serialize;

use crate::domain::audit::{self, Break, BreakReason};
use crate::error::AppError;
use crate::repo::audit as repo;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Verification {
    pub ok: bool,
    pub chains: u64,
    pub entries: u64,
    /// Seals checked.
    pub seals: u64,
    /// The latest seal: keep its hash outside the database (a ticket, a printed report) and
    /// compare it with the next verification's to detect a rewrite of the seals themselves.
    pub last_seal: Option<SealSummary>,
    pub first_break: Option<ChainBreak>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SealSummary {
    pub seq: i64,
    pub sealed_at: chrono::DateTime<chrono::Utc>,
    /// Chain heads this seal recorded (those that moved since the seal before).
    pub heads: i32,
    pub hash: String,
}

impl From<&repo::SealRow> for SealSummary {
    fn from(s: &repo::SealRow) -> SealSummary {
        SealSummary {
            seq: s.seq,
            sealed_at: s.sealed_at,
            heads: s.heads,
            hash: s.hash.clone(),
        }
    }
}

/// What a sealing run did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SealReport {
    /// False when no chain moved since the last seal (nothing is written).
    pub sealed: bool,
    pub heads: usize,
    pub last_seal: Option<SealSummary>,
}

/// Seal the heads of the chains that moved since the last seal, in one transaction.
pub fn seal(
    conn: &mut PgConnection,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<SealReport, AppError> {
    conn.transaction(|conn| {
        let last = repo::lock_seals(conn)?;
        let heads = repo::take_unsealed_heads(conn)?;
        if heads.is_empty() {
            return Ok(SealReport {
                sealed: false,
                heads: 0,
                last_seal: last.as_ref().map(SealSummary::from),
            });
        }
        let seq = last.as_ref().map_or(1, |l| l.seq + 1);
        let prev_hash = last
            .as_ref()
            .map_or_else(|| audit::GENESIS.to_owned(), |l| l.hash.clone());
        // Microseconds, as the column keeps them.
        let at = repo::entry_time(now);
        let sealed_at = chrono::DateTime::parse_from_rfc3339(&at)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| AppError::Internal(e.into()))?;
        let entry = audit::seal_entry(seq, &at, heads.len(), &audit::heads_digest(&heads));
        let row = repo::SealRow {
            seq,
            sealed_at,
            heads: i32::try_from(heads.len()).unwrap_or(i32::MAX),
            hash: audit::link(&prev_hash, &entry),
            entry,
            prev_hash,
        };
        repo::insert_seal(conn, &row, &heads)?;
        Ok(SealReport {
            sealed: true,
            heads: heads.len(),
            last_seal: Some(SealSummary::from(&row)),
        })
    })
}

/// The seals' own chain, each seal's recorded heads against its digest, and each sealed head
/// against its chain. The first finding.
fn verify_seals(
    conn: &mut PgConnection,
) -> Result<(u64, Option<SealSummary>, Option<ChainBreak>), AppError> {
    let seals = repo::seals(conn)?;
    let last = seals.last().map(SealSummary::from);
    let broken = |s: &repo::SealRow, reason: BreakReason| ChainBreak {
        chain: "seals".into(),
        at: Break {
            id: s.seq,
            seq: s.seq,
            reason,
        },
    };
    let mut prev = audit::GENESIS.to_owned();
    for (expected, s) in (1..).zip(&seals) {
        let stated: Option<serde_json::Value> = serde_json::from_str(&s.entry).ok();
        let says = |k: &str| stated.as_ref().and_then(|v| v.get(k)).cloned();
        let columns_agree = says("seq") == Some(s.seq.into())
            && says("heads") == Some(s.heads.into())
            && says("at") == Some(repo::entry_time(s.sealed_at).into());
        if s.seq != expected || s.prev_hash != prev || !columns_agree {
            return Ok((
                expected as u64,
                last,
                Some(broken(s, BreakReason::SealBroken)),
            ));
        }
        if audit::link(&s.prev_hash, &s.entry) != s.hash {
            return Ok((
                expected as u64,
                last,
                Some(broken(s, BreakReason::SealBroken)),
            ));
        }
        let heads = repo::seal_heads(conn, s.seq)?;
        let digest = says("heads_digest");
        if heads.len() != s.heads as usize || digest != Some(audit::heads_digest(&heads).into()) {
            return Ok((
                expected as u64,
                last,
                Some(broken(s, BreakReason::SealHeadsMismatch)),
            ));
        }
        prev = s.hash.clone();
    }
    if let Some(c) = repo::first_changed_sealed_entry(conn)? {
        return Ok((
            seals.len() as u64,
            last,
            Some(ChainBreak {
                chain: c.chain,
                at: Break {
                    id: c.id.unwrap_or(0),
                    seq: c.seq,
                    reason: BreakReason::SealedEntryChanged,
                },
            }),
        ));
    }
    Ok((seals.len() as u64, last, None))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChainBreak {
    pub chain: String,
    #[serde(flatten)]
    pub at: Break,
}

/// Is this a seal hash as `verify` prints it (64 lower-case hex digits)?
pub fn is_seal_hash(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// [`verify`], and that a seal hash kept outside the system is still among the seals.
pub fn verify_kept(conn: &mut PgConnection, kept_seal: &str) -> Result<Verification, AppError> {
    let mut v = verify(conn)?;
    if v.first_break.is_none() && !repo::seal_exists(conn, kept_seal)? {
        v.ok = false;
        v.first_break = Some(ChainBreak {
            chain: "seals".into(),
            at: Break {
                id: 0,
                seq: 0,
                reason: BreakReason::KeptSealMissing,
            },
        });
    }
    Ok(v)
}

/// Verification asked for by a person: auditors and administrators; with a seal hash they
/// kept, that seal must still be among the seals.
pub fn verify_as(
    conn: &mut PgConnection,
    p: &crate::services::auth::Principal,
    kept_seal: Option<&str>,
) -> Result<Verification, AppError> {
    p.require(&[
        crate::domain::definition::Role::Auditor,
        crate::domain::definition::Role::Admin,
    ])?;
    match kept_seal {
        Some(s) => verify_kept(conn, s),
        None => verify(conn),
    }
}

pub fn verify(conn: &mut PgConnection) -> Result<Verification, AppError> {
    // One consistent snapshot: appends that commit meanwhile are not half-seen.
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(|conn| {
            let heads = repo::heads(conn)?;
            let mut chains: Vec<String> = heads.iter().map(|h| h.0.clone()).collect();
            for c in repo::chains(conn)? {
                if !chains.contains(&c) {
                    chains.push(c);
                }
            }
            chains.sort();
            let mut entries = 0;
            for chain in &chains {
                let head = heads
                    .iter()
                    .find(|h| &h.0 == chain)
                    .map(|h| (h.1, h.2.as_str()));
                let links = repo::links(conn, chain)?;
                // A chain with entries and no head is as suspicious as a wrong head.
                let head = head.or(Some((0, audit::GENESIS)));
                match audit::verify(links, head) {
                    Ok(n) => entries += n,
                    Err(b) => {
                        return Ok(Verification {
                            ok: false,
                            chains: chains.len() as u64,
                            entries,
                            seals: 0,
                            last_seal: repo::latest_seal(conn)?.as_ref().map(SealSummary::from),
                            first_break: Some(ChainBreak {
                                chain: chain.clone(),
                                at: b,
                            }),
                        });
                    }
                }
            }
            let (seals, last_seal, first_break) = verify_seals(conn)?;
            Ok(Verification {
                ok: first_break.is_none(),
                chains: chains.len() as u64,
                entries,
                seals,
                last_seal,
                first_break,
            })
        })
}

/// Who may read the log and check it: auditors and administrators.
fn may_audit(p: &crate::services::auth::Principal) -> Result<(), AppError> {
    p.require(&[
        crate::domain::definition::Role::Auditor,
        crate::domain::definition::Role::Admin,
    ])
}

/// Which entries of the log to show: a filing's (by its number), some people's (by user name
/// or a part of their name), a page at a time.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub filing_number: Option<String>,
    pub actor: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// A page of the log, newest first, and the latest seal.
#[derive(Debug, Default)]
pub struct LogPage {
    pub lines: Vec<repo::LogLine>,
    /// There is a page after this one.
    pub more: bool,
    /// No filing has the number asked for.
    pub no_such_filing: bool,
    /// No account has the user name or name asked for.
    pub no_such_actor: bool,
    pub last_seal: Option<SealSummary>,
}

/// People who match an actor filter: enough for any office, and a bound on the query.
const ACTORS_MATCHED: i64 = 200;

/// Browse the log (auditors and administrators).
pub fn browse(
    conn: &mut PgConnection,
    p: &crate::services::auth::Principal,
    f: &LogFilter,
) -> Result<LogPage, AppError> {
    may_audit(p)?;
    let last_seal = repo::latest_seal(conn)?.as_ref().map(SealSummary::from);
    let filing = match &f.filing_number {
        Some(n) => match crate::repo::filings::id_by_number(conn, n)? {
            Some(id) => Some(id),
            None => {
                return Ok(LogPage {
                    no_such_filing: true,
                    last_seal,
                    ..LogPage::default()
                });
            }
        },
        None => None,
    };
    let actors = match &f.actor {
        Some(a) => {
            let ids = crate::repo::users::ids_matching(conn, a, ACTORS_MATCHED)?;
            if ids.is_empty() {
                return Ok(LogPage {
                    no_such_actor: true,
                    last_seal,
                    ..LogPage::default()
                });
            }
            Some(ids)
        }
        None => None,
    };
    let mut lines = repo::browse(conn, filing, actors.as_deref(), f.limit + 1, f.offset)?;
    let more = lines.len() as i64 > f.limit;
    lines.truncate(usize::try_from(f.limit).unwrap_or(0));
    Ok(LogPage {
        lines,
        more,
        no_such_filing: false,
        no_such_actor: false,
        last_seal,
    })
}

/// The seal a hash kept outside the system belongs to, if it is among the seals (auditors and
/// administrators). Whether the seals themselves still verify is [`verify_as`]'s question.
pub fn kept_seal(
    conn: &mut PgConnection,
    p: &crate::services::auth::Principal,
    hash: &str,
) -> Result<Option<SealSummary>, AppError> {
    may_audit(p)?;
    Ok(repo::seal_by_hash(conn, hash)?
        .as_ref()
        .map(SealSummary::from))
}

/// Whose a chain is, for saying where a verification broke.
#[derive(Debug, Clone)]
pub enum ChainOwner {
    /// A filing's history: its number once it has one.
    Filing(uuid::Uuid, Option<String>),
    /// A person's own account (sign-ins, password): their name.
    User(uuid::Uuid, Option<String>),
    /// Administration (accounts, calendars, the clock, mail).
    Admin,
    /// The seals themselves.
    Seals,
    /// A spot-check draw's record (its pool, its seed, its result).
    Draw,
    Other(String),
}

/// Whose the chain `chain` is.
pub fn chain_owner(conn: &mut PgConnection, chain: &str) -> Result<ChainOwner, AppError> {
    let id = |s: &str| uuid::Uuid::parse_str(s).ok();
    Ok(match chain.split_once(':') {
        Some(("filing", f)) => match id(f) {
            Some(f) => ChainOwner::Filing(
                f,
                crate::repo::filings::find(conn, f)?.and_then(|r| r.number),
            ),
            None => ChainOwner::Other(chain.to_owned()),
        },
        Some(("user", u)) => match id(u) {
            Some(u) => ChainOwner::User(
                u,
                crate::repo::users::by_id(conn, u)?.map(|r| r.display_name),
            ),
            None => ChainOwner::Other(chain.to_owned()),
        },
        Some(("draw", _)) => ChainOwner::Draw,
        _ if chain == "admin" => ChainOwner::Admin,
        _ if chain == "seals" => ChainOwner::Seals,
        _ => ChainOwner::Other(chain.to_owned()),
    })
}
