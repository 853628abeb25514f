//! Request bodies the API and the pages share (a page's form is turned into the API's request
//! and judged by the same rules).

use serde::Deserialize;
use validator::Validate;

use crate::domain::definition::UserKind;
use crate::domain::forms;
use crate::domain::{Lang, Problem};

#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3–64 characters: lower-case letters, digits and `_ . @ -`.
    #[validate(
        length(min = 3, max = 64),
        regex(
            path = *USERNAME,
            code = "username_characters",
            message = "只能使用小写字母、数字和 _ . @ -|may use only lower-case letters, digits and _ . @ -"
        )
    )]
    pub username: String,
    #[validate(length(min = 10, max = 128))]
    pub password: String,
    #[validate(length(min = 1, max = 100))]
    pub display_name: String,
    /// `person` (a resident) or `company`.
    pub kind: ApplicantKind,
    #[validate(email, length(max = 254))]
    pub email: Option<String>,
    #[validate(length(max = 20))]
    pub phone: Option<String>,
    /// Required for companies: 统一社会信用代码.
    pub credit_code: Option<String>,
    pub lang: Option<Lang>,
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplicantKind {
    Person,
    Company,
}

impl ApplicantKind {
    pub fn user_kind(self) -> UserKind {
        match self {
            ApplicantKind::Person => UserKind::Person,
            ApplicantKind::Company => UserKind::Company,
        }
    }
}

impl RegisterRequest {
    /// Everything wrong with a registration, at once (the API and the page share it).
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = match self.validate() {
            Ok(()) => Vec::new(),
            Err(e) => crate::web::extract::problems(&e),
        };
        if let Some(phone) = self.phone.as_deref().filter(|p| !PHONE.is_match(p)) {
            problems.push(Problem::new(
                "phone",
                "invalid_format",
                format!("手机号码「{phone}」格式不正确：应为 11 位手机号码或带区号的固定电话"),
                format!(
                    "The phone number “{phone}” is not valid: give an 11-digit mobile number or a landline with its area code"
                ),
            ));
        }
        match (&self.kind, &self.credit_code) {
            (ApplicantKind::Company, None) => problems.push(Problem::new(
                "credit_code",
                "required",
                "企业须填写统一社会信用代码",
                "A company must give its unified social credit code",
            )),
            (_, Some(code)) if !forms::credit_code_valid(code) => problems.push(Problem::new(
                "credit_code",
                "check_character",
                "统一社会信用代码无效（长度、字符或校验位不正确）",
                "The unified social credit code is not valid (length, characters or check character)",
            )),
            _ => {}
        }
        problems
    }
}

static PHONE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$")
        .unwrap_or_else(|_| unreachable!())
});

static USERNAME: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^[a-z0-9_.@-]+$").unwrap_or_else(|_| unreachable!())
});
