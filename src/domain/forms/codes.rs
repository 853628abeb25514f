//! Codes with a structure of their own: the unified social credit code (GB 32100-2015), the
//! resident ID number (GB 11643-1999), phone numbers and e-mail addresses.

use super::dates::parse_ymd;
use crate::domain::Problem;
use crate::domain::definition::Text;

/// The longest e-mail address that can be delivered (RFC 5321 path length).
pub const EMAIL_MAX: usize = 254;

/// GB 32100-2015: the 31 characters a credit code may use (no I, O, S, V, Z).
const CREDIT_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CodeError {
    Length { expected: usize, actual: usize },
    LowerCase,
    Character(char),
    IdCharacters,
    BirthDate,
    Check,
}

impl CodeError {
    pub(super) fn problem(self, l: &Text, path: &str) -> Problem {
        match self {
            CodeError::Length { expected, actual } => Problem::new(
                path,
                "invalid_format",
                format!("「{}」应为 {expected} 位（现有 {actual} 位）", l.zh),
                format!(
                    "{} must be {expected} characters long (it has {actual})",
                    l.en
                ),
            ),
            CodeError::LowerCase => Problem::new(
                path,
                "invalid_format",
                format!("「{}」中的字母须为大写", l.zh),
                format!("{} must be written with capital letters", l.en),
            ),
            CodeError::Character(c) => Problem::new(
                path,
                "invalid_format",
                format!(
                    "「{}」含有不允许的字符「{c}」（只用数字和除 I、O、S、V、Z 以外的大写字母）",
                    l.zh
                ),
                format!(
                    "{} contains `{c}`, which is not allowed (only digits and capital letters other \
                     than I, O, S, V, Z)",
                    l.en
                ),
            ),
            CodeError::IdCharacters => Problem::new(
                path,
                "invalid_format",
                format!("「{}」应为 17 位数字加 1 位数字或大写字母 X", l.zh),
                format!(
                    "{} must be 17 digits followed by a digit or a capital X",
                    l.en
                ),
            ),
            CodeError::BirthDate => Problem::new(
                path,
                "invalid_date",
                format!("「{}」中的出生日期（第 7 至 14 位）不存在", l.zh),
                format!(
                    "The date of birth in {} (characters 7 to 14) does not exist",
                    l.en
                ),
            ),
            CodeError::Check => Problem::new(
                path,
                "check_character",
                format!("「{}」的最后一位校验码不正确，请逐位核对", l.zh),
                format!(
                    "The last (check) character of {} is wrong; please check every character",
                    l.en
                ),
            ),
        }
    }
}

pub(super) fn credit_code_error(s: &str) -> Option<CodeError> {
    let actual = s.chars().count();
    if actual != 18 {
        return Some(CodeError::Length {
            expected: 18,
            actual,
        });
    }
    if s.bytes().any(|b| b.is_ascii_lowercase()) {
        return Some(CodeError::LowerCase);
    }
    let mut values = [0u32; 18];
    for (slot, c) in values.iter_mut().zip(s.chars()) {
        match CREDIT_CHARSET.iter().position(|&x| char::from(x) == c) {
            Some(i) => *slot = i as u32,
            None => return Some(CodeError::Character(c)),
        }
    }
    let sum: u32 = values.iter().zip(CREDIT_WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    (values[17] != check).then_some(CodeError::Check)
}

/// Whether `s` is a 统一社会信用代码 with a correct check character (GB 32100-2015).
pub fn credit_code_valid(s: &str) -> bool {
    credit_code_error(s).is_none()
}

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

pub(super) fn id_card_errors(s: &str) -> Vec<CodeError> {
    let actual = s.chars().count();
    if actual != 18 {
        return vec![CodeError::Length {
            expected: 18,
            actual,
        }];
    }
    let b = s.as_bytes(); // 18 chars that are all ASCII from here on, or refused below
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return vec![CodeError::IdCharacters];
    }
    if b[17] == b'x' {
        return vec![CodeError::LowerCase];
    }
    if !(b[17].is_ascii_digit() || b[17] == b'X') {
        return vec![CodeError::IdCharacters];
    }
    let mut errors = Vec::new();
    if parse_ymd(&s[6..14], false).is_err() {
        errors.push(CodeError::BirthDate);
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    if ID_CHECK[(sum % 11) as usize] != b[17] {
        errors.push(CodeError::Check);
    }
    errors
}

/// Whether `s` is an 18-character 居民身份证号码 with a real birth date and a correct check
/// character (GB 11643-1999). The check X must be upper case.
pub fn id_card_valid(s: &str) -> bool {
    id_card_errors(s).is_empty()
}

/// A mainland mobile number (1[3-9] and nine digits) or a landline (0, a 2–3 digit area code, an
/// optional dash, 7–8 digits). ASCII digits only: full-width digits look alike but do not dial.
pub(super) fn phone_valid(s: &str) -> bool {
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let b = s.as_bytes();
    if b.first() == Some(&b'1') {
        return b.len() == 11 && (b'3'..=b'9').contains(&b[1]) && digits(s);
    }
    if b.first() != Some(&b'0') {
        return false;
    }
    match s.split_once('-') {
        Some((area, local)) => {
            (3..=4).contains(&area.len())
                && (7..=8).contains(&local.len())
                && digits(area)
                && digits(local)
        }
        None => (10..=12).contains(&b.len()) && digits(s),
    }
}

/// A sane address, not RFC 5322: one @, something before it, a dotted domain after it, no spaces.
pub(super) fn email_valid(s: &str) -> bool {
    if s.chars().count() > EMAIL_MAX || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::forms::tests::{codes, one, one_code};
    use proptest::prelude::*;
    use serde_json::json;

    /// A credit code with its check character computed (GB 32100-2015).
    fn with_check(first17: &str) -> String {
        let sum: u32 = first17
            .bytes()
            .zip(CREDIT_WEIGHTS)
            .map(|(c, w)| CREDIT_CHARSET.iter().position(|&x| x == c).unwrap() as u32 * w)
            .sum();
        let check = (31 - sum % 31) % 31;
        format!("{first17}{}", char::from(CREDIT_CHARSET[check as usize]))
    }

    #[test]
    fn known_credit_codes_are_valid_and_a_one_character_change_is_not() {
        for code in ["91350100M000100Y43", "91110000600037341L"] {
            assert!(credit_code_valid(code), "{code}");
            assert_eq!(with_check(&code[..17]), code);
            for i in 0..18 {
                let mut bytes = code.as_bytes().to_vec();
                bytes[i] = if bytes[i] == b'1' { b'2' } else { b'1' };
                let changed = String::from_utf8(bytes).unwrap();
                assert!(!credit_code_valid(&changed), "{changed}");
            }
        }
    }

    #[test]
    fn credit_code_problems_say_what_is_wrong() {
        assert_eq!(
            one_code("builder_code", json!("91350100M000100Y44")),
            vec!["check_character"]
        );
        assert_eq!(
            one_code("builder_code", json!("91350100M000100Y4")),
            vec!["invalid_format"]
        );
        let lower = one("builder_code", json!("91350100m000100y43"));
        assert_eq!(codes(&lower), vec![("form.builder_code", "invalid_format")]);
        assert!(lower[0].message.zh.contains("大写"));
        assert!(lower[0].message.en.contains("capital"));
        assert!(!credit_code_valid("91350100m000100y43"));
        let bad_char = one("builder_code", json!("91350100I000100Y43"));
        assert!(bad_char[0].message.zh.contains("「I」"));
        assert!(!credit_code_valid("９1350100M000100Y43"));
        assert!(!credit_code_valid(""));
    }

    #[test]
    fn id_cards_need_a_real_birth_date_and_the_right_check() {
        assert!(id_card_valid("11010519491231002X"));
        assert!(!id_card_valid("110105194912310021"));
        assert!(!id_card_valid("11010519491231002x"));
        assert!(!id_card_valid("110105194912310"));
        assert_eq!(
            one_code("id", json!("11010519491231002X")),
            Vec::<String>::new()
        );
        assert_eq!(
            one_code("id", json!("110105194912310021")),
            vec!["check_character"]
        );
        // 1949-02-31 does not exist; the check character is right for these digits.
        let digits = "11010519490231002";
        let sum: u32 = digits
            .bytes()
            .zip(ID_WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        let valid_check = format!("{digits}{}", char::from(ID_CHECK[(sum % 11) as usize]));
        assert!(!id_card_valid(&valid_check));
        assert_eq!(one_code("id", json!(valid_check)), vec!["invalid_date"]);
        // Both wrong: both reported.
        let wrong = format!(
            "{digits}{}",
            if valid_check.ends_with('0') { '1' } else { '0' }
        );
        assert_eq!(
            one_code("id", json!(wrong)),
            vec!["invalid_date", "check_character"]
        );
        assert_eq!(
            one_code("id", json!("11010519491231002x")),
            vec!["invalid_format"]
        );
        assert_eq!(
            one_code("id", json!("1101051949123100AX")),
            vec!["invalid_format"]
        );
    }

    #[test]
    fn phones_are_mobiles_or_landlines_with_area_codes() {
        for ok in [
            "13812345678",
            "19912345678",
            "010-12345678",
            "0571-8888999",
            "057188889999",
            "0101234567",
        ] {
            assert!(phone_valid(ok), "{ok}");
        }
        for bad in [
            "12812345678",
            "1381234567",
            "138123456789",
            "+8613812345678",
            "0571-888899",
            "05-12345678",
            "0571--8888999",
            "138 1234 5678",
            "１３８12345678",
            "",
        ] {
            assert!(!phone_valid(bad), "{bad}");
        }
    }

    #[test]
    fn emails_are_checked_sanely() {
        assert!(email_valid("a@b.cn"));
        for bad in [
            "a@b", "@b.cn", "a b@c.cn", "a@b@c.cn", "a@.cn", "a@b.", "a@b..cn", "ab.cn",
        ] {
            assert!(!email_valid(bad), "{bad}");
        }
        assert_eq!(one_code("email", json!("nobody")), vec!["invalid_format"]);
        let long = format!("{}@example.cn", "a".repeat(250));
        assert_eq!(one_code("email", json!(long)), vec!["too_long"]);
    }

    proptest! {
        #[test]
        fn a_generated_credit_code_is_accepted_and_any_one_change_refused(
            body in prop::collection::vec(prop::sample::select(CREDIT_CHARSET.to_vec()), 17),
            at in 0usize..18,
            to in prop::sample::select(CREDIT_CHARSET.to_vec()),
        ) {
            let code = with_check(&String::from_utf8(body).unwrap());
            prop_assert!(credit_code_valid(&code));
            let mut bytes = code.clone().into_bytes();
            prop_assume!(bytes[at] != to);
            bytes[at] = to;
            prop_assert!(!credit_code_valid(&String::from_utf8(bytes).unwrap()));
        }
    }
}
