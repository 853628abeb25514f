//! The audit page (auditors and administrators): the log, newest first, a page at a time,
//! filtered by filing and by actor, each entry with its time (the office's), actor, action in
//! words and hash, linked to its filing; a button that recomputes every chain and the seals
//! and says what it found; and a check of a seal hash the auditor kept outside the system.
//!
//! Reading the page does not verify: a verification reads the whole log, so it runs when
//! asked (a POST with the form's token, so that no link or prefetch starts one).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{PageError, Ui, Viewer, words};
use crate::app::AppState;
use crate::domain::Lang;
use crate::services::audit::{self, ChainOwner, LogFilter, SealSummary};
use crate::web::extract::{Form, Query};

/// Entries on a page of the log.
const PER_PAGE: i64 = 50;

pub struct SealLine {
    /// Which seal, when, and how many heads, in a sentence.
    pub said: String,
    pub hash: String,
}

/// What a verification found, in words.
pub struct Verdict {
    pub ok: bool,
    pub chains: u64,
    pub entries: u64,
    pub seals: u64,
    /// Where the first break is (a filing, a person's account, administration, the seals).
    pub place: Option<String>,
    /// Why, in words.
    pub why: Option<String>,
    /// The log of the filing where it broke.
    pub log_link: Option<String>,
}

/// The seal hash an auditor pasted, checked.
pub enum Kept {
    Matches(SealLine),
    Missing,
}

pub struct EntryLine {
    pub at: String,
    pub actor: String,
    pub action: String,
    /// (the filing's page, its number).
    pub filing: Option<(String, String)>,
    /// The filing's log on this page.
    pub filing_log: Option<String>,
    pub hash: String,
}

#[derive(Template)]
#[template(path = "pages/audit.html", config = "config/askama.toml")]
struct AuditPage {
    ui: Ui,
    zone: String,
    verdict: Option<Verdict>,
    last_seal: Option<SealLine>,
    kept: String,
    kept_error: Option<String>,
    kept_result: Option<Kept>,
    filing: String,
    actor: String,
    /// Why the list is empty when a filter named no one.
    unknown: Option<String>,
    lines: Vec<EntryLine>,
    page: i64,
    prev: Option<String>,
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    pub filing: Option<String>,
    pub actor: Option<String>,
    pub page: Option<String>,
    /// A seal hash kept outside the system, to look up.
    pub seal: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct VerifyForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
}

fn seal_line(s: &SealSummary, offset: chrono::FixedOffset, lang: Lang) -> SealLine {
    let at = words::local_second(s.sealed_at, offset);
    SealLine {
        said: match lang {
            Lang::Zh => format!("第 {} 次封存，封存于 {at}，记录链头 {} 条", s.seq, s.heads),
            Lang::En => format!(
                "seal no. {}, sealed at {at}, recording {}",
                s.seq,
                words::en_count(s.heads, "chain head", "chain heads")
            ),
        },
        hash: s.hash.clone(),
    }
}

fn trimmed(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().chars().take(100).collect::<String>())
        .filter(|s| !s.is_empty())
}

/// The page: the log as filtered, the seal check when a hash was given, and the verification
/// when `verify` (all in one trip to the database).
async fn audit_page(
    state: &AppState,
    v: &mut Viewer,
    q: AuditQuery,
    verify: bool,
) -> Result<AuditPage, PageError> {
    let lang = v.lang;
    let offset = state.offset;
    let filing = trimmed(q.filing);
    let actor = trimmed(q.actor);
    let page = q
        .page
        .and_then(|p| p.trim().parse::<i64>().ok())
        .filter(|p| (1..=100_000).contains(p))
        .unwrap_or(1);
    // A pasted hash may carry spaces, line breaks or capitals.
    let kept: Option<String> = q
        .seal
        .map(|s| {
            s.chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_lowercase()
        })
        .filter(|s| !s.is_empty());
    let kept_error = kept
        .as_deref()
        .filter(|s| !audit::is_seal_hash(s))
        .map(|_| match lang {
            Lang::Zh => "封存哈希应为 64 位十六进制字符（0-9、a-f），请完整粘贴。".to_owned(),
            Lang::En => {
                "A seal hash is 64 hexadecimal digits (0-9, a-f): paste it whole.".to_owned()
            }
        });
    let lookup = kept.clone().filter(|_| kept_error.is_none());
    let filter = LogFilter {
        filing_number: filing.clone(),
        actor: actor.clone(),
        limit: PER_PAGE,
        offset: (page - 1) * PER_PAGE,
    };
    let (log, kept_seal, verification) = v
        .run(state, move |conn, _, p| {
            let log = audit::browse(conn, p, &filter)?;
            let kept_seal = match &lookup {
                Some(h) => Some(audit::kept_seal(conn, p, h)?),
                None => None,
            };
            let verification = if verify {
                let result = audit::verify_as(conn, p, None)?;
                let owner = match &result.first_break {
                    Some(b) => Some(audit::chain_owner(conn, &b.chain)?),
                    None => None,
                };
                Some((result, owner))
            } else {
                None
            };
            Ok((log, kept_seal, verification))
        })
        .await?;
    // After the use case: the header knows who is signed in.
    let ui = v.ui();
    let verdict = verification.map(|(r, owner)| {
        let place = r.first_break.as_ref().map(|b| {
            let entry = b.at.seq;
            match (&owner, lang) {
                (Some(ChainOwner::Filing(_, Some(n))), Lang::Zh) => {
                    format!("办件 {n} 的记录，第 {entry} 条")
                }
                (Some(ChainOwner::Filing(_, Some(n))), Lang::En) => {
                    format!("filing {n}'s record, entry {entry}")
                }
                (Some(ChainOwner::Filing(..)), Lang::Zh) => {
                    format!("一件草稿办件的记录，第 {entry} 条")
                }
                (Some(ChainOwner::Filing(..)), Lang::En) => {
                    format!("a draft filing's record, entry {entry}")
                }
                (Some(ChainOwner::User(_, name)), Lang::Zh) => format!(
                    "{} 的账号记录，第 {entry} 条",
                    name.as_deref().unwrap_or("（已不存在的账号）")
                ),
                (Some(ChainOwner::User(_, name)), Lang::En) => format!(
                    "the account record of {}, entry {entry}",
                    name.as_deref().unwrap_or("(an account no longer there)")
                ),
                (Some(ChainOwner::Admin), Lang::Zh) => format!("系统管理记录，第 {entry} 条"),
                (Some(ChainOwner::Admin), Lang::En) => {
                    format!("the administration record, entry {entry}")
                }
                (Some(ChainOwner::Draw), Lang::Zh) => format!("一次抽查的记录，第 {entry} 条"),
                (Some(ChainOwner::Draw), Lang::En) => {
                    format!("a spot-check draw's record, entry {entry}")
                }
                (Some(ChainOwner::Seals), Lang::Zh) => format!("第 {entry} 次封存"),
                (Some(ChainOwner::Seals), Lang::En) => format!("seal no. {entry}"),
                (Some(ChainOwner::Other(_)) | None, Lang::Zh) => {
                    format!("其他记录，第 {entry} 条")
                }
                (Some(ChainOwner::Other(_)) | None, Lang::En) => {
                    format!("another record, entry {entry}")
                }
            }
        });
        let log_link = match &owner {
            Some(ChainOwner::Filing(_, Some(n))) => Some(query_link(Some(n), None, 1)),
            _ => None,
        };
        Verdict {
            ok: r.ok,
            chains: r.chains,
            entries: r.entries,
            seals: r.seals,
            place,
            why: r
                .first_break
                .as_ref()
                .map(|b| words::break_reason(lang, b.at.reason).to_owned()),
            log_link,
        }
    });
    let unknown = if log.no_such_filing {
        Some(match lang {
            Lang::Zh => format!("没有编号为「{}」的办件。", filing.as_deref().unwrap_or("")),
            Lang::En => format!(
                "No filing is numbered “{}”.",
                filing.as_deref().unwrap_or("")
            ),
        })
    } else if log.no_such_actor {
        Some(match lang {
            Lang::Zh => format!(
                "没有用户名或姓名为「{}」的人员。",
                actor.as_deref().unwrap_or("")
            ),
            Lang::En => format!(
                "Nobody's user name or name is “{}”.",
                actor.as_deref().unwrap_or("")
            ),
        })
    } else {
        None
    };
    let lines = log
        .lines
        .iter()
        .map(|l| {
            let item = l.item_code.as_deref().and_then(|c| state.items.latest(c));
            EntryLine {
                at: words::local_second(l.at, offset),
                actor: l
                    .actor_name
                    .clone()
                    .unwrap_or_else(|| ui.t("系统", "The service").to_owned()),
                action: words::audit_action(lang, &l.action, item.as_deref()),
                filing: l.filing_id.map(|id| {
                    (
                        format!("/filings/{id}"),
                        l.filing_number
                            .clone()
                            .unwrap_or_else(|| ui.t("（草稿）", "(draft)").to_owned()),
                    )
                }),
                filing_log: l
                    .filing_number
                    .as_deref()
                    .filter(|n| filing.as_deref() != Some(*n))
                    .map(|n| query_link(Some(n), None, 1)),
                hash: l.hash.clone(),
            }
        })
        .collect();
    let link = |p: i64| query_link(filing.as_deref(), actor.as_deref(), p);
    Ok(AuditPage {
        zone: words::zone(offset),
        verdict,
        last_seal: log.last_seal.as_ref().map(|s| seal_line(s, offset, lang)),
        kept: kept.unwrap_or_default(),
        kept_error,
        kept_result: kept_seal.map(|found| match found {
            Some(s) => Kept::Matches(seal_line(&s, offset, lang)),
            None => Kept::Missing,
        }),
        unknown,
        lines,
        page,
        prev: (page > 1).then(|| link(page - 1)),
        next: log.more.then(|| link(page + 1)),
        filing: filing.unwrap_or_default(),
        actor: actor.unwrap_or_default(),
        ui,
    })
}

/// The page's address with a filter and page.
fn query_link(filing: Option<&str>, actor: Option<&str>, page: i64) -> String {
    let mut pairs = form_urlencoded::Serializer::new(String::new());
    if let Some(f) = filing {
        pairs.append_pair("filing", f);
    }
    if let Some(a) = actor {
        pairs.append_pair("actor", a);
    }
    if page > 1 {
        pairs.append_pair("page", &page.to_string());
    }
    let q = pairs.finish();
    if q.is_empty() {
        "/admin/audit#log".into()
    } else {
        format!("/admin/audit?{q}#log")
    }
}

/// The audit page (auditors and administrators).
#[get("/admin/audit")]
pub async fn audit_log(
    state: web::Data<AppState>,
    mut v: Viewer,
    q: Query<AuditQuery>,
) -> Result<HttpResponse, PageError> {
    let q = v.query(q)?;
    let page = audit_page(&state, &mut v, q, false).await?;
    let status = if page.kept_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    v.render(status, &page)
}

/// Recompute every chain and check the seals, and show what was found.
#[post("/admin/audit/verify")]
pub async fn run_verification(
    state: web::Data<AppState>,
    mut v: Viewer,
    form: Form<VerifyForm>,
) -> Result<HttpResponse, PageError> {
    let form = v.form(form)?;
    v.check_csrf(&form.csrf)?;
    let page = audit_page(&state, &mut v, AuditQuery::default(), true).await?;
    v.render(StatusCode::OK, &page)
}
