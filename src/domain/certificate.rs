//! Electronic certificates (电子证照): their identifiers, the construction permit's number, and
//! the statuses a certificate goes through after issue. Pure.
//!
//! The identifier follows the national structure as implemented (GB/T 36904; LAW.md §6):
//! `1.2.156.3005.2.<type>.<issuer credit code>.<serial>.<version>.<check>`, where the check
//! character is ISO 7064 MOD 37,36 (hybrid) over type, issuer, serial and version.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Text;

/// The fixed root of every identifier: ISO (1), member body (2), China (156), the e-licence
/// arc (3005.2).
pub const ROOT: &str = "1.2.156.3005.2";

const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// The ISO 7064 MOD 37,36 check character over `s` (digits and capital letters only; anything
/// else has no check character). Hybrid system with M = 36: `p = M`; for each character
/// `s = (p + v) mod M` (0 counts as M), `p = 2s mod (M + 1)`; the check makes the last `p` 1.
pub fn mod37_36(s: &str) -> Option<char> {
    const M: u32 = 36;
    let mut p = M;
    for c in s.chars() {
        let v = char_value(c)?;
        let mut t = (p + v) % M;
        if t == 0 {
            t = M;
        }
        p = (2 * t) % (M + 1);
    }
    Some(char::from(ALPHABET[((M + 1 - p) % M) as usize]))
}

fn char_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        'A'..='Z' => Some(c as u32 - 'A' as u32 + 10),
        _ => None,
    }
}

/// Whether `s` (check character included, last) is consistent.
pub fn mod37_36_valid(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next_back() {
        Some(last) => mod37_36(chars.as_str()) == Some(last),
        None => false,
    }
}

/// A certificate's identifier, in parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identifier {
    /// The certificate type: the catalogue owner's credit code and three digits.
    pub type_code: String,
    /// The issuing authority's unified social credit code.
    pub issuer: String,
    pub serial: String,
    /// 1 for the first issue; a change (变更) issues the next version.
    pub version: u16,
}

impl Identifier {
    /// What the check character covers.
    fn checked_part(&self) -> String {
        format!(
            "{}{}{}{:03}",
            self.type_code, self.issuer, self.serial, self.version
        )
    }

    pub fn check(&self) -> char {
        // Parts are validated as digits and capitals on every way in (`parse`, `new`).
        mod37_36(&self.checked_part()).unwrap_or('0')
    }

    /// Build one, checking each part.
    pub fn new(
        type_code: &str,
        issuer: &str,
        serial: &str,
        version: u16,
    ) -> Result<Identifier, IdentifierError> {
        for (part, value) in [
            (Part::Type, type_code),
            (Part::Issuer, issuer),
            (Part::Serial, serial),
        ] {
            if value.is_empty() || !value.chars().all(|c| char_value(c).is_some()) {
                return Err(IdentifierError::Part(part));
            }
        }
        if !(1..=999).contains(&version) {
            return Err(IdentifierError::Part(Part::Version));
        }
        Ok(Identifier {
            type_code: type_code.to_owned(),
            issuer: issuer.to_owned(),
            serial: serial.to_owned(),
            version,
        })
    }

    /// The same certificate's next version (after a change).
    pub fn next_version(&self) -> Identifier {
        Identifier {
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// Parse a full identifier; the error names the part that is wrong.
    pub fn parse(s: &str) -> Result<Identifier, IdentifierError> {
        let s = s.trim();
        let rest = s
            .strip_prefix(ROOT)
            .and_then(|r| r.strip_prefix('.'))
            .ok_or(IdentifierError::Root)?;
        let parts: Vec<&str> = rest.split('.').collect();
        let [type_code, issuer, serial, version, check] = parts.as_slice() else {
            return Err(IdentifierError::Shape);
        };
        if version.len() != 3 || !version.chars().all(|c| c.is_ascii_digit()) {
            return Err(IdentifierError::Part(Part::Version));
        }
        let version: u16 = version
            .parse()
            .map_err(|_| IdentifierError::Part(Part::Version))?;
        let id = Identifier::new(type_code, issuer, serial, version)?;
        let mut cs = check.chars();
        match (cs.next(), cs.next()) {
            (Some(c), None) if c == id.check() => Ok(id),
            _ => Err(IdentifierError::Check),
        }
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{ROOT}.{}.{}.{}.{:03}.{}",
            self.type_code,
            self.issuer,
            self.serial,
            self.version,
            self.check()
        )
    }
}

/// A part of an identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Type,
    Issuer,
    Serial,
    Version,
}

/// Why a string is not an identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    #[error("an identifier starts with {ROOT}")]
    Root,
    #[error("an identifier has five parts after {ROOT}: type, issuer, serial, version, check")]
    Shape,
    #[error("the {0:?} part is not digits and capital letters (the version: three digits)")]
    Part(Part),
    #[error("the check character does not match (ISO 7064 MOD 37,36)")]
    Check,
}

impl IdentifierError {
    pub fn message(&self) -> Text {
        let part = |p: &Part| match p {
            Part::Type => ("证照类型代码", "type code"),
            Part::Issuer => ("颁发机构代码", "issuer code"),
            Part::Serial => ("流水号", "serial"),
            Part::Version => ("版本号", "version"),
        };
        let (zh, en) = match self {
            IdentifierError::Root => (
                format!("证照标识应以 {ROOT} 开头"),
                format!("An identifier starts with {ROOT}"),
            ),
            IdentifierError::Shape => (
                "证照标识应为：根.类型代码.颁发机构代码.流水号.版本号.校验位".to_owned(),
                "An identifier reads root.type.issuer.serial.version.check".to_owned(),
            ),
            IdentifierError::Part(p) => {
                let (zh, en) = part(p);
                (
                    format!("证照标识的{zh}格式不正确"),
                    format!("The identifier's {en} is malformed"),
                )
            }
            IdentifierError::Check => (
                "证照标识的校验位不正确，请核对后重新输入".to_owned(),
                "The identifier's check character is wrong: check it and enter it again".to_owned(),
            ),
        };
        Text { zh, en }
    }
}

/// The construction permit's 18-digit number (paper practice, LAW.md §6): the 6-digit
/// administrative division, the 8-digit date of issue, a 2-digit serial of that day and the
/// 2-digit professional class (01 一般工业与民用建筑 … 19 其他).
pub fn permit_number(
    division: &str,
    issued_on: NaiveDate,
    serial_of_day: u32,
    class: &str,
) -> Option<String> {
    let digits = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_digit());
    if !digits(division, 6) || !digits(class, 2) || !(1..=99).contains(&serial_of_day) {
        return None;
    }
    Some(format!(
        "{division}{}{serial_of_day:02}{class}",
        issued_on.format("%Y%m%d")
    ))
}

/// Where a certificate stands (the verify page shows it). A change issues a new version and
/// leaves the old one `Changed`; the others follow the life after issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CertStatus {
    /// 有效
    Valid,
    /// 变更: superseded by a later version.
    Changed,
    /// 延期: valid, its validity extended.
    Extended,
    /// 中止: works suspended; not to be relied on until resumption is reported.
    Suspended,
    /// 废止: lapsed (works not started in time).
    Lapsed,
    /// 撤销: revoked.
    Revoked,
    /// 注销: cancelled.
    Cancelled,
}

impl CertStatus {
    pub const ALL: [CertStatus; 7] = [
        CertStatus::Valid,
        CertStatus::Changed,
        CertStatus::Extended,
        CertStatus::Suspended,
        CertStatus::Lapsed,
        CertStatus::Revoked,
        CertStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CertStatus::Valid => "valid",
            CertStatus::Changed => "changed",
            CertStatus::Extended => "extended",
            CertStatus::Suspended => "suspended",
            CertStatus::Lapsed => "lapsed",
            CertStatus::Revoked => "revoked",
            CertStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<CertStatus> {
        CertStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn label(self) -> Text {
        let (zh, en) = match self {
            CertStatus::Valid => ("有效", "Valid"),
            CertStatus::Changed => ("变更", "Changed (superseded)"),
            CertStatus::Extended => ("延期", "Extended"),
            CertStatus::Suspended => ("中止", "Suspended"),
            CertStatus::Lapsed => ("废止", "Lapsed"),
            CertStatus::Revoked => ("撤销", "Revoked"),
            CertStatus::Cancelled => ("注销", "Cancelled"),
        };
        Text {
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// Whether the certificate may still be relied on.
    pub fn in_force(self) -> bool {
        matches!(self, CertStatus::Valid | CertStatus::Extended)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A real file on Zhejiang's investment-project platform (LAW.md §6).
    const ZHEJIANG: &str =
        "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0";

    #[test]
    fn the_zhejiang_identifier_checks_to_zero() {
        let id = Identifier::parse(ZHEJIANG).expect("parses");
        assert_eq!(id.type_code, "11100000000013338W009");
        assert_eq!(id.issuer, "11330105002500287C");
        assert_eq!(id.serial, "2025052201");
        assert_eq!(id.version, 2);
        assert_eq!(id.check(), '0');
        assert_eq!(id.to_string(), ZHEJIANG);
    }

    #[test]
    fn worked_examples_of_iso_7064_mod_37_36() {
        // The Global Release Identifier (GRid, IFPI), which also uses MOD 37,36: its published
        // example A1-2425G-ABC1234002-M.
        assert!(mod37_36_valid("A12425GABC1234002M"));
        assert_eq!(mod37_36("A12425GABC1234002"), Some('M'));
        assert_eq!(mod37_36("a1"), None, "lower case has no value");
    }

    #[test]
    fn a_changed_character_or_check_is_refused_naming_the_check() {
        let wrong_check = ZHEJIANG.replace(".002.0", ".002.1");
        assert_eq!(Identifier::parse(&wrong_check), Err(IdentifierError::Check));
        let wrong_serial = ZHEJIANG.replace("2025052201", "2025052202");
        assert_eq!(
            Identifier::parse(&wrong_serial),
            Err(IdentifierError::Check)
        );
        assert_eq!(Identifier::parse("1.2.3"), Err(IdentifierError::Root));
        assert_eq!(
            Identifier::parse("1.2.156.3005.2.A.B"),
            Err(IdentifierError::Shape)
        );
        assert_eq!(
            Identifier::parse("1.2.156.3005.2.a.B.C.001.0"),
            Err(IdentifierError::Part(Part::Type))
        );
        assert_eq!(
            Identifier::parse("1.2.156.3005.2.A.B.C.1.0"),
            Err(IdentifierError::Part(Part::Version))
        );
    }

    #[test]
    fn the_permit_number_has_eighteen_digits_in_their_order() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).expect("date");
        assert_eq!(
            permit_number("430102", day, 3, "01").as_deref(),
            Some("430102202612040301")
        );
        assert_eq!(permit_number("43010", day, 3, "01"), None);
        assert_eq!(permit_number("430102", day, 100, "01"), None);
        assert_eq!(permit_number("430102", day, 1, "1"), None);
    }

    #[test]
    fn every_status_round_trips_and_only_valid_or_extended_are_in_force() {
        for s in CertStatus::ALL {
            assert_eq!(CertStatus::parse(s.as_str()), Some(s));
        }
        let in_force: Vec<_> = CertStatus::ALL
            .into_iter()
            .filter(|s| s.in_force())
            .collect();
        assert_eq!(in_force, [CertStatus::Valid, CertStatus::Extended]);
    }

    fn part() -> impl Strategy<Value = String> {
        "[0-9A-Z]{1,24}"
    }

    proptest! {
        /// Any identifier built from valid parts parses back to itself, and its check character
        /// makes the whole string valid under MOD 37,36.
        #[test]
        fn identifiers_round_trip_and_their_check_is_consistent(
            t in part(), i in part(), s in part(), v in 1u16..=999
        ) {
            let id = Identifier::new(&t, &i, &s, v).expect("valid parts");
            let text = id.to_string();
            prop_assert_eq!(Identifier::parse(&text), Ok(id.clone()));
            let whole = format!("{}{}", id.checked_part(), id.check());
            prop_assert!(mod37_36_valid(&whole));
        }

        /// MOD 37,36 detects every single-character substitution.
        #[test]
        fn a_single_substitution_is_always_detected(
            s in "[0-9A-Z]{2,30}", pos in any::<prop::sample::Index>(), c in "[0-9A-Z]"
        ) {
            let check = mod37_36(&s).expect("valid");
            let mut chars: Vec<char> = s.chars().collect();
            let i = pos.index(chars.len());
            let c = c.chars().next().expect("one char");
            prop_assume!(chars[i] != c);
            chars[i] = c;
            let changed: String = chars.into_iter().collect();
            prop_assert_ne!(mod37_36(&changed), Some(check));
        }
    }
}
