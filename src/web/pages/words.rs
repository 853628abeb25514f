//! The pages' vocabulary: every code the service keeps (a role, a kind of account, a mail
//! status, a job and what it returned, an audit action, an error from the network or the
//! operating system) said in words, in the viewer's language.
//!
//! Policy: a page never shows a code where a word exists. An error's raw text (an OS error
//! number, a driver's message, a host and port) stays in the log, where the service wrote it
//! when it happened; the page says what failed and what to do.

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::Value;

use crate::domain::Lang;
use crate::domain::audit::BreakReason;
use crate::domain::definition::{Role, UserKind};
use crate::domain::notify::MailStatus;
use crate::services::items::Item;

fn pick(lang: Lang, zh: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

/// `n` things in English: "1 working day", "3 working days".
pub fn en_count(n: impl Into<i64>, one: &str, many: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

pub fn role(lang: Lang, r: Role) -> &'static str {
    match r {
        Role::Applicant => pick(lang, "申请人", "applicant"),
        Role::Clerk => pick(lang, "窗口受理", "clerk"),
        Role::Reviewer => pick(lang, "审查", "reviewer"),
        Role::Inspector => pick(lang, "检查", "inspector"),
        Role::Manager => pick(lang, "科室负责人", "manager"),
        Role::Admin => pick(lang, "管理员", "administrator"),
        Role::Auditor => pick(lang, "审计", "auditor"),
        Role::System => pick(lang, "系统", "the service"),
    }
}

pub fn user_kind(lang: Lang, k: UserKind) -> &'static str {
    match k {
        UserKind::Person => pick(lang, "个人", "person"),
        UserKind::Company => pick(lang, "企业", "company"),
        UserKind::Staff => pick(lang, "工作人员", "staff"),
        UserKind::System => pick(lang, "系统", "the service"),
    }
}

/// How many letters have a status: "已发送 97 封", "97 sent".
pub fn mail_count(lang: Lang, s: MailStatus, n: i64) -> String {
    match (lang, s) {
        (Lang::Zh, MailStatus::Pending) => format!("待发送 {n} 封"),
        (Lang::Zh, MailStatus::Sent) => format!("已发送 {n} 封"),
        (Lang::Zh, MailStatus::Failed) => format!("发送失败 {n} 封"),
        (Lang::En, MailStatus::Pending) => format!("{n} waiting"),
        (Lang::En, MailStatus::Sent) => format!("{n} sent"),
        (Lang::En, MailStatus::Failed) => format!("{n} failed"),
    }
}

/// A time in the office's zone, to the minute (`2026-11-23 18:05`).
pub fn local_minute(t: DateTime<Utc>, offset: FixedOffset) -> String {
    t.with_timezone(&offset)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// A time in the office's zone, to the second (for evidence: the audit log, seals).
pub fn local_second(t: DateTime<Utc>, offset: FixedOffset) -> String {
    t.with_timezone(&offset)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The office's zone as people say it: `UTC+8`, `UTC+5:30`, `UTC`.
pub fn zone(offset: FixedOffset) -> String {
    let secs = offset.local_minus_utc();
    if secs == 0 {
        return "UTC".into();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let (h, m) = (secs.abs() / 3600, secs.abs() % 3600 / 60);
    if m == 0 {
        format!("UTC{sign}{h}")
    } else {
        format!("UTC{sign}{h}:{m:02}")
    }
}

/// What was being reached when an error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failing {
    MailServer,
    FrontDatabase,
    Platform,
    /// A scheduled job, failing as a whole.
    Job,
}

impl Failing {
    /// (Chinese, English at the start of a sentence, English inside one).
    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Failing::MailServer => ("邮件服务器", "The mail server", "the mail server"),
            Failing::FrontDatabase => (
                "工改系统前置库",
                "The province's front database",
                "the province's front database",
            ),
            Failing::Platform => (
                "建筑市场监管平台",
                "The construction-market platform",
                "the construction-market platform",
            ),
            Failing::Job => ("任务", "The job", "the job"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Refused,
    TimedOut,
    NoHost,
    Unreachable,
    Cut,
    Tls,
    Login,
    Recipient,
    Permission,
    NoFile,
    DiskFull,
    Unknown,
}

/// What an error's raw text (a driver's, the OS's: "Connection refused (os error 111)") says
/// happened. The text itself is not shown.
fn cause(raw: &str) -> Cause {
    let r = raw.to_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| r.contains(n));
    if has(&[
        "connection refused",
        "os error 111)",
        "os error 61)",
        "os error 10061)",
    ]) {
        Cause::Refused
    } else if has(&["timed out", "timeout", "os error 110)"]) {
        Cause::TimedOut
    } else if has(&[
        "failed to lookup address",
        "name or service not known",
        "no such host",
        "nodename nor servname",
        "temporary failure in name resolution",
        "could not translate host name",
    ]) {
        Cause::NoHost
    } else if has(&[
        "network is unreachable",
        "no route to host",
        "os error 101)",
        "os error 113)",
    ]) {
        Cause::Unreachable
    } else if has(&[
        "connection reset",
        "broken pipe",
        "connection closed",
        "unexpected eof",
        "server closed the connection",
    ]) {
        Cause::Cut
    } else if has(&["certificate", "tls", "ssl", "handshake"]) {
        Cause::Tls
    } else if has(&[
        "authentication failed",
        "password authentication",
        "(535)",
        "invalid credentials",
    ]) {
        Cause::Login
    } else if has(&[
        "bad recipient",
        "mailbox",
        "user unknown",
        "(550)",
        "(553)",
        "invalid address",
    ]) {
        Cause::Recipient
    } else if has(&["permission denied", "os error 13)"]) {
        Cause::Permission
    } else if has(&["no such file", "os error 2)"]) {
        Cause::NoFile
    } else if has(&["no space left", "os error 28)"]) {
        Cause::DiskFull
    } else {
        Cause::Unknown
    }
}

/// An error in words: what failed and what to do. The raw text is in the log already (each
/// place that records one also logs it).
pub fn failure(lang: Lang, what: Failing, raw: &str) -> String {
    let (zh, en_start, en) = what.names();
    let retried = what != Failing::MailServer;
    match (lang, cause(raw)) {
        (Lang::Zh, Cause::Refused) => {
            format!("{zh}拒绝连接：请确认配置的地址和端口正确、对方服务已经启动。")
        }
        (Lang::En, Cause::Refused) => format!(
            "{en_start} refused the connection: check the configured address and port, and that the service is running."
        ),
        (Lang::Zh, Cause::TimedOut) => format!(
            "{zh}在规定时间内没有应答：请检查网络和防火墙。{}",
            if retried { "系统会自动重试。" } else { "" }
        ),
        (Lang::En, Cause::TimedOut) => format!(
            "{en_start} did not answer in time: check the network and the firewall.{}",
            if retried { " It is retried by itself." } else { "" }
        ),
        (Lang::Zh, Cause::NoHost) => format!("找不到{zh}的主机：请检查配置的主机名。"),
        (Lang::En, Cause::NoHost) => {
            format!("The host of {en} was not found: check the configured host name.")
        }
        (Lang::Zh, Cause::Unreachable) => format!("网络不通，无法到达{zh}：请检查网络。"),
        (Lang::En, Cause::Unreachable) => {
            format!("The network cannot reach {en}: check the network.")
        }
        (Lang::Zh, Cause::Cut) => format!(
            "与{zh}的连接中途断开。{}",
            if retried {
                "系统会自动重试。"
            } else {
                "请稍后重发。"
            }
        ),
        (Lang::En, Cause::Cut) => format!(
            "The connection to {en} broke off.{}",
            if retried {
                " It is retried by itself."
            } else {
                " Send it again later."
            }
        ),
        (Lang::Zh, Cause::Tls) => format!("与{zh}建立加密连接失败：请检查证书和加密设置。"),
        (Lang::En, Cause::Tls) => format!(
            "The encrypted connection to {en} failed: check the certificates and the TLS settings."
        ),
        (Lang::Zh, Cause::Login) => format!("{zh}拒绝登录：请检查配置的账号和密码。"),
        (Lang::En, Cause::Login) => format!(
            "{en_start} refused the sign-in: check the configured account and password."
        ),
        (Lang::Zh, Cause::Recipient) if what == Failing::MailServer => {
            "收件地址被拒收：请核对收件人的电子邮箱，改正后再重发。".into()
        }
        (Lang::En, Cause::Recipient) if what == Failing::MailServer => {
            "The address was refused: check the recipient's email address, then send again."
                .into()
        }
        (Lang::Zh, Cause::Permission) => "没有读写所需文件的权限：请检查存储目录的权限。".into(),
        (Lang::En, Cause::Permission) => {
            "Permission to read or write a file was denied: check the storage directory's permissions.".into()
        }
        (Lang::Zh, Cause::NoFile) => "找不到所需的文件或目录：请检查存储目录的配置。".into(),
        (Lang::En, Cause::NoFile) => {
            "A file or directory is missing: check the storage directory's settings.".into()
        }
        (Lang::Zh, Cause::DiskFull) => "磁盘已满：请清理或扩充存储空间。".into(),
        (Lang::En, Cause::DiskFull) => "The disk is full: free or add storage space.".into(),
        (Lang::Zh, _) => format!("{zh}出错，详细原因已记入系统日志（按时间查找）。"),
        (Lang::En, _) => format!(
            "{en_start} failed; the details are in the service's log (look them up by the time)."
        ),
    }
}

/// A scheduled job's name in words.
pub fn job_name(lang: Lang, job: &str) -> String {
    let (zh, en) = match job {
        "deadline_scan" => (
            "期限扫描（预警和催办）",
            "Deadline scan (warnings, reminders)",
        ),
        "digest" => ("每日待办清单", "Daily work lists"),
        "outbox" => ("发送邮件", "Sending mail"),
        "release_stale_claims" => ("释放超时认领", "Releasing stale claims"),
        "documents" => ("补生成文书", "Rendering documents left over"),
        "exchange" => ("推送工改系统", "Export to the province's system"),
        "platform" => ("上报施工许可证", "Permit uploads"),
        "draw" => ("双随机抽取", "Spot-check draw"),
        "audit_seal" => ("审计日志封存", "Sealing the audit log"),
        other => (other, other),
    };
    match lang {
        Lang::Zh => zh.to_owned(),
        Lang::En => en.to_owned(),
    }
}

/// What a job's run returned, in words (each job's report, as `src/jobs` records it).
pub fn job_result(lang: Lang, job: &str, r: &Value) -> String {
    let n = |k: &str| r.get(k).and_then(Value::as_u64).unwrap_or(0);
    let len = |v: Option<&Value>| v.and_then(Value::as_array).map_or(0, Vec::len) as u64;
    let flag = |k: &str| r.get(k).and_then(Value::as_bool).unwrap_or(false);
    let zh = lang == Lang::Zh;
    let c =
        |n: u64, one: &str, many: &str| en_count(i64::try_from(n).unwrap_or(i64::MAX), one, many);
    if r.get("skipped").is_some() {
        return pick(
            lang,
            "已跳过：另一实例正在运行",
            "Skipped: another instance is running it",
        )
        .into();
    }
    match job {
        "deadline_scan" => {
            let moved = len(r.get("expired").and_then(|e| e.get("moved")));
            let (y, red, rem, m) = (
                n("yellow_filings"),
                n("red_filings"),
                n("reminders"),
                n("mails"),
            );
            match (zh, flag("rest_day")) {
                (true, true) => format!("休息日，不发预警和提醒；到期流转 {moved} 件"),
                (false, true) => format!(
                    "A rest day: no warnings or reminders; {} moved at expiry",
                    c(moved, "filing", "filings")
                ),
                (true, false) => format!(
                    "黄色预警 {y} 件、红色预警 {red} 件，提醒申请人 {rem} 次，发出邮件 {m} 封；到期流转 {moved} 件"
                ),
                (false, false) => format!(
                    "{} turned yellow and {red} red, {}, {}; {} moved at expiry",
                    c(y, "filing", "filings"),
                    c(rem, "reminder", "reminders"),
                    c(m, "letter", "letters"),
                    c(moved, "filing", "filings"),
                ),
            }
        }
        "digest" => match (zh, flag("rest_day")) {
            (true, true) => "休息日，不发送".into(),
            (false, true) => "A rest day: nothing sent".into(),
            (true, false) => format!(
                "向 {} 名工作人员发送待办清单，共 {} 封邮件",
                n("staff"),
                n("mails")
            ),
            (false, false) => format!(
                "Work lists for {}, {}",
                c(n("staff"), "person", "people"),
                c(n("mails"), "letter", "letters")
            ),
        },
        "release_stale_claims" => {
            if zh {
                format!("释放超时认领 {} 件", n("released"))
            } else {
                format!("{} released", c(n("released"), "claim", "claims"))
            }
        }
        "documents" => {
            if zh {
                format!("补生成文书 {} 份", n("rendered"))
            } else {
                format!("{} rendered", c(n("rendered"), "document", "documents"))
            }
        }
        "outbox" => {
            if zh {
                format!(
                    "发出 {} 封，等待重试 {} 封，放弃 {} 封",
                    n("sent"),
                    n("retrying"),
                    n("parked")
                )
            } else {
                format!(
                    "{} sent, {} to retry, {} given up",
                    n("sent"),
                    n("retrying"),
                    n("parked")
                )
            }
        }
        "exchange" => {
            let mut s = if zh {
                format!("推送 {} 条，尚待推送 {} 条", n("exported"), n("waiting"))
            } else {
                format!(
                    "{} exported, {} waiting",
                    c(n("exported"), "row", "rows"),
                    n("waiting")
                )
            };
            if let Some(e) = r.get("error").and_then(Value::as_str) {
                s.push_str(pick(lang, "。", ". "));
                s.push_str(&failure(lang, Failing::FrontDatabase, e));
            }
            s
        }
        "platform" => {
            let mut s = if zh {
                format!("上报 {} 件，失败 {} 件", n("sent"), n("failed"))
            } else {
                format!(
                    "{} uploaded, {} failed",
                    c(n("sent"), "permit", "permits"),
                    n("failed")
                )
            };
            if let Some(e) = r.get("error").and_then(Value::as_str) {
                s.push_str(pick(lang, "。", ". "));
                s.push_str(&failure(lang, Failing::Platform, e));
            }
            s
        }
        "draw" => {
            let (committed, failed) = (len(r.get("committed")), len(r.get("failed")));
            let mut s = if zh {
                format!(
                    "登记抽取 {committed} 次，完成抽取 {} 次，办件流转 {} 件",
                    n("drawn"),
                    n("moved")
                )
            } else {
                format!(
                    "{} recorded, {} drawn, {} moved on",
                    c(committed, "draw", "draws"),
                    n("drawn"),
                    c(n("moved"), "filing", "filings")
                )
            };
            if failed > 0 {
                s.push_str(&if zh {
                    format!("；{failed} 项未完成，下次运行时重试")
                } else {
                    format!("; {failed} left for the next run")
                });
            }
            s
        }
        "audit_seal" => {
            let seq = r
                .get("last_seal")
                .and_then(|l| l.get("seq"))
                .and_then(Value::as_u64);
            match (zh, flag("sealed"), seq) {
                (true, true, Some(seq)) => {
                    format!("第 {seq} 次封存，记录 {} 条链头", n("heads"))
                }
                (false, true, Some(seq)) => {
                    format!(
                        "Seal no. {seq}: {} recorded",
                        c(n("heads"), "chain head", "chain heads")
                    )
                }
                (true, _, _) => "自上次封存以来没有新记录，无需封存".into(),
                (false, _, _) => "Nothing new since the last seal: nothing sealed".into(),
            }
        }
        _ => pick(lang, "已完成", "Done").into(),
    }
}

/// An audit entry's action in words; a filing's workflow action (`action:accept`) by the
/// item's own label for it.
pub fn audit_action(lang: Lang, action: &str, item: Option<&Item>) -> String {
    if let Some(a) = action.strip_prefix("action:") {
        return item
            .and_then(|i| i.def.action(a))
            .map(|x| x.label.get(lang).to_owned())
            .unwrap_or_else(|| pick(lang, "办理操作", "Workflow action").to_owned());
    }
    let (zh, en) = match action {
        "create" => ("创建申请", "Filing created"),
        "edit" => ("修改申请", "Filing edited"),
        "upload_material" => ("上传材料", "Material uploaded"),
        "remove_material" => ("删除材料", "Material removed"),
        "claim" => ("认领任务", "Task claimed"),
        "release" => ("释放认领", "Claim released"),
        "release_stale_claim" => ("认领超时释放", "Stale claim released"),
        "release_on_deactivation" => ("停用账号时释放认领", "Claim released (account deactivated)"),
        "assign" => ("分派任务", "Task assigned"),
        "extend" => ("延长办理期限", "Time limit extended"),
        "rate" => ("服务评价", "Service rated"),
        "register" => ("申请人注册", "Applicant registered"),
        "login" => ("登录", "Signed in"),
        "login_failed" => ("登录失败", "Failed sign-in"),
        "logout" => ("退出登录", "Signed out"),
        "change_password" => ("修改密码", "Password changed"),
        "reset_password" => ("重置密码", "Password reset"),
        "create_user" => ("创建工作人员账号", "Staff account created"),
        "activate_user" => ("启用账号", "Account activated"),
        "deactivate_user" => ("停用账号", "Account deactivated"),
        "move_clock" => ("调整系统时钟", "Service clock moved"),
        "load_calendar_year" => ("载入放假安排", "Holiday notice loaded"),
        "recompute_deadlines" => ("重算办理期限", "Deadlines recomputed"),
        "retry_mail" => ("重发邮件", "Mail sent again"),
        "draw:commit" => ("登记抽查对象", "Spot-check pool recorded"),
        "draw:result" => ("抽取结果", "Spot-check drawn"),
        "draw:conflict" => ("抽查回避冲突", "Spot-check conflict"),
        _ => ("其他操作", "Other action"),
    };
    pick(lang, zh, en).to_owned()
}

/// Why a verification failed, in words.
pub fn break_reason(lang: Lang, r: BreakReason) -> &'static str {
    match r {
        BreakReason::HashMismatch => pick(
            lang,
            "记录内容与其哈希不符：这条记录被改动过。",
            "The entry no longer matches its hash: it was altered.",
        ),
        BreakReason::BrokenLink => pick(
            lang,
            "记录没有指向前一条记录的哈希：有记录被删除或替换。",
            "The entry does not point at the one before it: an entry was removed or replaced.",
        ),
        BreakReason::Gap => pick(
            lang,
            "序号不连续：有记录被删除或插入。",
            "The numbers are not consecutive: an entry was removed or inserted.",
        ),
        BreakReason::HeadMismatch => pick(
            lang,
            "链头与最后一条记录不符：链尾的记录被截去。",
            "The chain's head does not match its last entry: entries were cut off the end.",
        ),
        BreakReason::ColumnMismatch => pick(
            lang,
            "记录的操作、操作人或时间与其哈希内容不符：有字段被改写。",
            "The entry's action, actor or time no longer says what was hashed: a column was rewritten.",
        ),
        BreakReason::SealBroken => pick(
            lang,
            "封存记录被改动，或没有指向前一次封存。",
            "A seal was altered or does not point at the seal before it.",
        ),
        BreakReason::SealHeadsMismatch => pick(
            lang,
            "封存时记录的链头与封存摘要不符。",
            "The chain heads a seal recorded no longer match its digest.",
        ),
        BreakReason::SealedEntryChanged => pick(
            lang,
            "已封存的记录后来被改写（即使改写得前后一致）。",
            "An entry was rewritten after it was sealed, however consistently.",
        ),
        BreakReason::KeptSealMissing => pick(
            lang,
            "您保存的封存哈希不在封存记录中：封存记录可能被改写，或该哈希来自另一套系统。",
            "The seal hash you kept is not among the seals: the seals were rewritten, or the hash is from another system.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_are_said_in_words_without_their_raw_text() {
        let raw = "connecting to the front database (postgres://x@127.0.0.1:5999/spgl): connection to server at \"127.0.0.1\", port 5999 failed: Connection refused (os error 111)";
        for lang in [Lang::Zh, Lang::En] {
            let said = failure(lang, Failing::FrontDatabase, raw);
            assert!(
                !said.contains("os error") && !said.contains("127.0.0.1"),
                "{said}"
            );
        }
        assert!(
            failure(Lang::Zh, Failing::FrontDatabase, raw).starts_with("工改系统前置库拒绝连接")
        );
        assert!(
            failure(
                Lang::Zh,
                Failing::MailServer,
                "permanent error (550): user unknown"
            )
            .starts_with("收件地址被拒收")
        );
        assert!(
            failure(Lang::En, Failing::Platform, "operation timed out").contains("did not answer")
        );
        assert!(
            failure(Lang::Zh, Failing::Job, "internal error: something odd").contains("系统日志")
        );
    }

    #[test]
    fn the_zone_is_said_as_an_offset_from_utc() {
        let east = |m: i32| FixedOffset::east_opt(m * 60).unwrap_or_else(|| unreachable!());
        assert_eq!(zone(east(480)), "UTC+8");
        assert_eq!(zone(east(330)), "UTC+5:30");
        assert_eq!(zone(east(-180)), "UTC-3");
        assert_eq!(zone(east(0)), "UTC");
    }

    #[test]
    fn one_is_singular_in_english() {
        assert_eq!(en_count(1, "working day", "working days"), "1 working day");
        assert_eq!(en_count(0, "working day", "working days"), "0 working days");
        assert_eq!(
            en_count(20, "working day", "working days"),
            "20 working days"
        );
    }

    #[test]
    fn job_results_are_sentences() {
        let r = serde_json::json!({ "sealed": true, "heads": 3, "last_seal": { "seq": 2 } });
        assert_eq!(
            job_result(Lang::Zh, "audit_seal", &r),
            "第 2 次封存，记录 3 条链头"
        );
        assert_eq!(
            job_result(Lang::En, "audit_seal", &r),
            "Seal no. 2: 3 chain heads recorded"
        );
        let r = serde_json::json!({ "exported": 0, "waiting": 1, "error": "Connection refused (os error 111)" });
        let s = job_result(Lang::Zh, "exchange", &r);
        assert!(
            s.starts_with("推送 0 条，尚待推送 1 条。工改系统前置库拒绝连接"),
            "{s}"
        );
        let r = serde_json::json!({ "skipped": "running on another instance" });
        assert!(job_result(Lang::Zh, "draw", &r).starts_with("已跳过"));
    }
}
