//! The list answer (RFC 7644 §3.4.2) and the paging parameters that shape it.

use serde::Serialize;
use serde_json::Value;

/// The URN of the ListResponse message schema.
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A page of resources. `Serialize` writes the RFC 7644 §3.4.2 body.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T> {
    /// Always `[LIST_RESPONSE_SCHEMA]`.
    pub schemas: Vec<&'static str>,
    /// How many resources match in all, across pages.
    pub total_results: u64,
    /// The 1-based index of the first resource in this page.
    pub start_index: u64,
    /// How many resources this page holds.
    pub items_per_page: u64,
    /// The resources of this page.
    #[serde(rename = "Resources")]
    pub resources: Vec<T>,
}

impl<T> ListResponse<T> {
    /// A page of `resources` out of `total_results`, starting at `start_index` (1-based).
    pub fn new(resources: Vec<T>, total_results: u64, start_index: u64) -> Self {
        Self {
            schemas: vec![LIST_RESPONSE_SCHEMA],
            total_results,
            start_index,
            items_per_page: resources.len() as u64,
            resources,
        }
    }

    /// All the results in one page.
    pub fn complete(resources: Vec<T>) -> Self {
        let total = resources.len() as u64;
        Self::new(resources, total, 1)
    }
}

impl<T: Serialize> ListResponse<T> {
    /// The response as a JSON value.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// `startIndex` and `count` after RFC 7644 §3.4.2.4's rules: a `startIndex` below 1 means 1, a
/// negative `count` means 0, and `count` is capped at the advertised `maxResults`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based index of the first result.
    pub start_index: u64,
    /// How many results at most.
    pub count: u64,
}

impl Page {
    /// The page asked for, clamped; `count` absent means `max_results`.
    pub fn new(start_index: Option<i64>, count: Option<i64>, max_results: u32) -> Self {
        let max = u64::from(max_results);
        Self {
            start_index: start_index.map_or(1, |s| u64::try_from(s).unwrap_or(0).max(1)),
            count: count.map_or(max, |c| u64::try_from(c).unwrap_or(0).min(max)),
        }
    }

    /// The SQL `OFFSET` (`start_index - 1`).
    pub fn offset(&self) -> u64 {
        self.start_index - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_empty_list_is_what_test_connection_expects() {
        let v = ListResponse::<Value>::complete(vec![]).to_json();
        assert_eq!(
            v,
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 0,
                "startIndex": 1,
                "itemsPerPage": 0,
                "Resources": []
            })
        );
    }

    #[test]
    fn paging_parameters_are_clamped_as_the_rfc_says() {
        assert_eq!(
            Page::new(None, None, 100),
            Page {
                start_index: 1,
                count: 100
            }
        );
        assert_eq!(Page::new(Some(0), Some(-5), 100).start_index, 1);
        assert_eq!(Page::new(Some(0), Some(-5), 100).count, 0);
        assert_eq!(Page::new(Some(-3), Some(1000), 100).count, 100);
        assert_eq!(Page::new(Some(11), Some(10), 100).offset(), 10);
    }
}
