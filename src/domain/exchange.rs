//! Code sets of the data exchange with the approval platforms (GB/T 39046-2020 appendix A,
//! LAW.md §7.3) and the shape of the SPGL rows (LAW.md §7.1). Pure.

use serde::{Deserialize, Serialize};

/// A.5 办理形式: how a filing was submitted, recorded at submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// 1 窗口: filed at the office's window, by a clerk for the applicant.
    Window,
    /// 2 电脑端网上: filed online.
    Online,
    /// 3 移动端: filed from a phone (the province's app or mini-program).
    Mobile,
}

impl Channel {
    pub fn code(self) -> i16 {
        match self {
            Channel::Window => 1,
            Channel::Online => 2,
            Channel::Mobile => 3,
        }
    }

    pub fn from_code(code: i16) -> Option<Channel> {
        match code {
            1 => Some(Channel::Window),
            2 => Some(Channel::Online),
            3 => Some(Channel::Mobile),
            _ => None,
        }
    }

    /// Online in the sense of 全流程网络办理: from a computer or a phone.
    pub fn is_online(self) -> bool {
        matches!(self, Channel::Online | Channel::Mobile)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Channel::Window => "窗口",
            Channel::Online => "网上",
            Channel::Mobile => "移动端",
        }
    }
}

/// A.6 办件类型: 1 即办件 (decided on the spot: no limit), 2 承诺件 (decided within a limit).
pub fn case_type(statutory_days: u32) -> i16 {
    if statutory_days == 0 { 1 } else { 2 }
}

/// A.7 特别程序种类: 1 延长审批, 2 other (expert review, inspection, hearing …).
pub fn special_kind(extends: bool) -> i16 {
    if extends { 1 } else { 2 }
}

/// A.8 满意度 of a rating: the service's score runs 1 (very dissatisfied) to 5 (very
/// satisfied); the standard's code runs the other way, 1 非常满意 … 5 非常不满意 (4 and 5 are 差评,
/// bad ratings).
pub fn satisfaction_code(score: i16) -> Option<i16> {
    (1..=5).contains(&score).then(|| 6 - score)
}

pub fn satisfaction_label_zh(code: i16) -> &'static str {
    match code {
        1 => "非常满意",
        2 => "满意",
        3 => "基本满意",
        4 => "不满意",
        5 => "非常不满意",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_codes_round_trip_and_only_window_is_offline() {
        for c in [Channel::Window, Channel::Online, Channel::Mobile] {
            assert_eq!(Channel::from_code(c.code()), Some(c));
        }
        assert_eq!(Channel::from_code(4), None);
        assert!(!Channel::Window.is_online());
        assert!(Channel::Online.is_online() && Channel::Mobile.is_online());
        assert_eq!(case_type(0), 1);
        // Five stars is 非常满意 (code 1); one star 非常不满意 (5), a bad rating.
        assert_eq!(satisfaction_code(5), Some(1));
        assert_eq!(
            satisfaction_code(5).map(satisfaction_label_zh),
            Some("非常满意")
        );
        assert_eq!(satisfaction_code(1), Some(5));
        assert_eq!(
            satisfaction_code(2).map(satisfaction_label_zh),
            Some("不满意")
        );
        assert_eq!(satisfaction_code(0), None);
        assert_eq!(case_type(20), 2);
    }
}
