//! Lists in pages: at most [`MAX_LIMIT`] items a page, the total of the whole list, and an
//! opaque cursor to the next page. A cursor carries the sort key of the last item shown (keyset
//! paging): the next page starts after it, whatever was added or removed before it meanwhile,
//! and costs the same at the thousandth page as at the first.

use base64::Engine;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::Problem;
use crate::error::AppError;

/// The most items one page holds.
pub const MAX_LIMIT: i64 = 200;
/// Items a page holds unless asked.
pub const DEFAULT_LIMIT: i64 = 50;

/// What page of a list is asked for.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// 1 to [`MAX_LIMIT`]; [`DEFAULT_LIMIT`] when not given.
    pub limit: Option<i64>,
    /// Items to skip (before the cursor's position, if any). Kept for callers that page by
    /// number; the cursor is the way on.
    pub offset: Option<i64>,
    /// Where the previous page ended (its `next`).
    pub cursor: Option<String>,
}

impl PageRequest {
    /// Every problem with the request at once, by parameter name.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Some(l) = self.limit
            && !(1..=MAX_LIMIT).contains(&l)
        {
            problems.push(Problem::new(
                "limit",
                "out_of_range",
                format!("limit 须在 1 到 {MAX_LIMIT} 之间（每页最多 {MAX_LIMIT} 项）"),
                format!("limit must be 1 to {MAX_LIMIT} (a page holds at most {MAX_LIMIT} items)"),
            ));
        }
        if self.offset.is_some_and(|o| o < 0) {
            problems.push(Problem::new(
                "offset",
                "out_of_range",
                "offset 不能为负数",
                "offset cannot be negative",
            ));
        }
        problems
    }

    /// The request, or 422 naming every bad parameter.
    pub fn checked(self) -> Result<PageRequest, AppError> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(AppError::Validation(problems))
        }
    }

    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }

    pub fn offset(&self) -> i64 {
        self.offset.unwrap_or(0).max(0)
    }

    /// The cursor's sort key, or 422 naming `cursor` for one this list did not give.
    pub fn after<K: DeserializeOwned>(&self) -> Result<Option<K>, AppError> {
        self.cursor.as_deref().map(decode).transpose()
    }
}

/// One page of a list.
#[derive(Debug)]
pub struct Paged<T> {
    pub items: Vec<T>,
    /// Items in the whole list (every page).
    pub total: i64,
    /// The cursor of the next page, when there is one.
    pub next: Option<String>,
}

impl<T> Paged<T> {
    /// A page read with one item more than asked (`limit + 1`): that extra item says a next
    /// page exists and is not shown; the cursor is the key of the last item shown.
    pub fn from_probe<K: Serialize>(
        mut items: Vec<T>,
        limit: i64,
        total: i64,
        key: impl Fn(&T) -> K,
    ) -> Paged<T> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more {
            items.last().map(|last| encode(&key(last)))
        } else {
            None
        };
        Paged { items, total, next }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            next: self.next,
        }
    }
}

fn encode(key: &impl Serialize) -> String {
    let json = serde_json::to_vec(key).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode<K: DeserializeOwned>(cursor: &str) -> Result<K, AppError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()
        .filter(|b| b.len() <= 512)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| {
            AppError::one_invalid(
                "cursor",
                "invalid_cursor",
                "cursor 无效：请使用上一页返回的 Link 中的 cursor",
                "cursor is not one this list gave: use the cursor of the previous page's Link",
            )
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_page_read_with_one_more_item_has_a_cursor_to_the_rest_and_the_last_page_none() {
        let page = Paged::from_probe(vec![1, 2, 3], 2, 3, |i| *i);
        assert_eq!(page.items, [1, 2]);
        let next = page.next.unwrap();
        let after: Option<i32> = PageRequest {
            cursor: Some(next),
            ..Default::default()
        }
        .after()
        .unwrap();
        assert_eq!(after, Some(2));
        let last = Paged::from_probe(vec![3], 2, 3, |i| *i);
        assert_eq!(last.next, None);
    }

    #[test]
    fn a_limit_out_of_range_a_negative_offset_and_a_forged_cursor_are_named() {
        let bad = PageRequest {
            limit: Some(10_000),
            offset: Some(-1),
            cursor: None,
        };
        let paths: Vec<_> = bad.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["limit", "offset"]);
        assert!(
            PageRequest {
                limit: Some(0),
                ..Default::default()
            }
            .checked()
            .is_err()
        );
        for forged in ["not base64!", "bm90IGpzb24", ""] {
            let r = PageRequest {
                cursor: Some(forged.into()),
                ..Default::default()
            };
            assert!(r.after::<(String, i64)>().is_err(), "{forged}");
        }
    }
}
