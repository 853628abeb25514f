//! What the fields of the account forms are called, in both languages: a problem found at a
//! field names it as the person reads it on the form ("用户名须为 3 到 64 个字符"), never by
//! its code (`username`). The API's problems carry the code in `path` as well.
//!
//! Only the fields of the forms people fill in on the pages (registration, sign-in, password,
//! staff accounts) are here; a field without a label (an API-only one) is named by its code.

/// The label of a form field, (Chinese, English), without a colon.
pub fn label(field: &str) -> Option<(&'static str, &'static str)> {
    Some(match field {
        "username" => ("用户名", "User name"),
        "display_name" => ("名称", "Name"),
        "password" => ("密码", "Password"),
        "password2" => ("再次输入的密码", "The password repeated"),
        "current_password" => ("当前密码", "Current password"),
        "new_password" => ("新密码", "New password"),
        "email" => ("电子邮箱", "Email"),
        "phone" => ("手机号码", "Mobile phone"),
        "credit_code" => ("统一社会信用代码", "Unified social credit code"),
        "kind" => ("申请人类型", "Applicant type"),
        "lang" => ("通知语言", "Language of notifications"),
        "department" => ("部门", "Department"),
        "roles" | "role" => ("角色", "Roles"),
        "notice" => ("通知文号", "Notice"),
        "holidays" => ("放假日期", "Holidays"),
        "workdays" => ("调休上班日期", "Make-up working days"),
        _ => return None,
    })
}

/// A field as a problem names it: its label, else its code.
pub fn named(field: &str) -> (String, String) {
    match label(field) {
        Some((zh, en)) => (zh.to_owned(), en.to_owned()),
        None => (field.to_owned(), field.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_of_the_registration_form_has_a_label() {
        for f in [
            "username",
            "display_name",
            "password",
            "password2",
            "email",
            "phone",
            "credit_code",
            "kind",
            "lang",
        ] {
            assert!(label(f).is_some(), "{f}");
        }
        assert_eq!(named("reason"), ("reason".to_owned(), "reason".to_owned()));
    }
}
