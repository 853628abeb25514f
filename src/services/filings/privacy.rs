//! Who sees a filing's personal data in full — the one place the policy is written.
//!
//! 个人信息保护法 §6 (最小必要) and DESIGN ("mask personal data for everyone who does not need
//! it"): the ID numbers, phones and names a form marks personal, an owners' roster's names, and
//! a person applicant's name in the timeline are shown whole only to
//! - the applicant themself, and the window's clerk who stands for them on a draft filed at the
//!   counter (代办);
//! - the staff who handle the filing: a clerk, reviewer or inspector of the department it is
//!   with now (`filings.department` follows the state: the window while it awaits acceptance,
//!   the item's department in review), or of a department with an open task on it (a joint
//!   review's department while it reviews). They check identities, call the contact and
//!   examine the roster.
//!
//! Everyone else reads them masked as the public verification page does (138****5678,
//! 110105********002X, 王**): a manager, who supervises by the numbers and assigns work; staff
//! of a department whose part is done; administrators and auditors, who read and do not handle.
//! The workbench lists only the open tasks of the caller's department for the roles they hold,
//! so everyone who sees its lines handles them.

use uuid::Uuid;

use crate::domain::definition::Role;
use crate::services::auth::Principal;

/// Whether `p` needs the filing's personal data whole. `department`: the one the filing is
/// with now; `open`:
/// the departments of its open tasks; `stands_for_applicant`: `p` is the applicant or files
/// for them at the window.
pub fn needs_personal<'a>(
    p: &Principal,
    applicant: Uuid,
    stands_for_applicant: bool,
    department: &str,
    open: impl IntoIterator<Item = &'a str>,
) -> bool {
    if p.user_id == applicant || stands_for_applicant {
        return true;
    }
    let handles = p
        .roles
        .iter()
        .any(|r| matches!(r, Role::Clerk | Role::Reviewer | Role::Inspector));
    let Some(own) = p.department.as_deref() else {
        return false;
    };
    handles && (own == department || open.into_iter().any(|d| d == own))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Lang;
    use crate::domain::definition::UserKind;

    fn staff(roles: &[Role], department: &str) -> Principal {
        Principal {
            user_id: Uuid::new_v4(),
            username: "s".into(),
            display_name: "s".into(),
            kind: UserKind::Staff,
            roles: roles.to_vec(),
            department: Some(department.into()),
            lang: Lang::Zh,
        }
    }

    #[test]
    fn only_the_applicant_and_those_who_handle_the_filing_see_personal_data_whole() {
        let applicant = Uuid::new_v4();
        let needs = |p: &Principal, open: &[&str]| {
            needs_personal(p, applicant, false, "construction", open.iter().copied())
        };
        let reviewer = staff(&[Role::Reviewer], "construction");
        assert!(needs(&reviewer, &[]));
        let clerk = staff(&[Role::Clerk], "window");
        assert!(needs(&clerk, &["window"]), "at intake");
        assert!(!needs(&clerk, &["construction"]), "once accepted");
        let fire = staff(&[Role::Reviewer], "fire");
        assert!(needs(&fire, &["construction", "fire"]), "in a joint review");
        assert!(!needs(&fire, &["construction"]), "its part done");
        assert!(!needs(&staff(&[Role::Manager], "construction"), &[]));
        assert!(!needs(&staff(&[Role::Admin], "construction"), &[]));
        assert!(!needs(&staff(&[Role::Auditor], "construction"), &[]));
        let mut owner = staff(&[Role::Applicant], "x");
        owner.user_id = applicant;
        owner.department = None;
        assert!(needs(&owner, &[]));
        let mut other = owner.clone();
        other.user_id = Uuid::new_v4();
        assert!(!needs(&other, &[]));
        assert!(needs_personal(&clerk, applicant, true, "construction", []));
    }
}
