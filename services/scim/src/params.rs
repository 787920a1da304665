//! The parameters of a list (RFC 7644 §3.4.2), from a GET's query string or a `.search` body
//! (§3.4.3): `filter`, `startIndex`, `count`, `sortBy`, `sortOrder`, `attributes`,
//! `excludedAttributes`. Names are read in any case. `count` is capped at
//! `scim.max_page_size` (advertised as `filter.maxResults`); `count=0` answers only
//! `totalResults`.

use axum::extract::{FromRequestParts, Query as UrlQuery};
use axum::http::request::Parts;
use scimsync_scim_proto::filter::{parse_filter, FilterLimits};
use scimsync_scim_proto::{Page, ResourceType, ScimError};
use serde_json::Value;

use crate::error::ScimFailure;
use crate::render::Projection;
use crate::store::listing::{Query, Sort};

/// The URN a `.search` body lists in `schemas`.
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// A list request's parameters, as sent.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub projection: Projection,
}

/// A request's query string as name-value pairs (a query string that cannot be read is a SCIM
/// error like any other refusal).
pub struct Pairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Pairs {
    type Rejection = ScimFailure;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ScimFailure> {
        UrlQuery::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|q| Self(q.0))
            .map_err(|e| {
                ScimError::invalid_value(format!("the query string cannot be read: {e}")).into()
            })
    }
}

fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

fn integer(name: &str, text: &str) -> Result<i64, ScimError> {
    text.trim()
        .parse()
        .map_err(|_| ScimError::invalid_value(format!("`{name}` must be an integer, not {text:?}")))
}

/// `attributes` / `excludedAttributes` of any request's query string.
pub fn projection(pairs: &[(String, String)]) -> Projection {
    Projection {
        attributes: get(pairs, "attributes").map(str::to_owned),
        excluded: get(pairs, "excludedAttributes").map(str::to_owned),
    }
}

impl ListParams {
    pub fn from_query(pairs: &[(String, String)]) -> Result<Self, ScimError> {
        Ok(Self {
            filter: get(pairs, "filter").map(str::to_owned),
            start_index: get(pairs, "startIndex")
                .map(|v| integer("startIndex", v))
                .transpose()?,
            count: get(pairs, "count")
                .map(|v| integer("count", v))
                .transpose()?,
            sort_by: get(pairs, "sortBy").map(str::to_owned),
            sort_order: get(pairs, "sortOrder").map(str::to_owned),
            projection: projection(pairs),
        })
    }

    /// A `.search` body: the same parameters as JSON members; `attributes` as a list of names
    /// (or one comma-separated string).
    pub fn from_search(body: &Value) -> Result<Self, ScimError> {
        let Value::Object(map) = body else {
            return Err(ScimError::invalid_syntax(
                "a search request must be a JSON object",
            ));
        };
        let member = |name: &str| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
                .filter(|v| !v.is_null())
        };
        let text = |name: &str| -> Result<Option<String>, ScimError> {
            match member(name) {
                None => Ok(None),
                Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "`{name}` must be a string"
                ))),
            }
        };
        let number = |name: &str| -> Result<Option<i64>, ScimError> {
            match member(name) {
                None => Ok(None),
                Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
                    ScimError::invalid_value(format!("`{name}` must be an integer"))
                }),
                Some(Value::String(s)) => integer(name, s).map(Some),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "`{name}` must be an integer"
                ))),
            }
        };
        let names = |name: &str| -> Result<Option<String>, ScimError> {
            match member(name) {
                Some(Value::Array(items)) => {
                    let names: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                    let names = names.ok_or_else(|| {
                        ScimError::invalid_value(format!("`{name}` must be a list of strings"))
                    })?;
                    Ok(Some(names.join(",")).filter(|s| !s.is_empty()))
                }
                _ => text(name),
            }
        };
        Ok(Self {
            filter: text("filter")?,
            start_index: number("startIndex")?,
            count: number("count")?,
            sort_by: text("sortBy")?,
            sort_order: text("sortOrder")?,
            projection: Projection {
                attributes: names("attributes")?,
                excluded: names("excludedAttributes")?,
            },
        })
    }

    /// The request checked against the resource type: 400 `invalidFilter` for a filter it
    /// cannot run, `invalidValue` for an unknown `sortBy` or a `sortOrder` that is neither
    /// `ascending` nor `descending`.
    pub fn query(&self, rt: &ResourceType, max_page_size: usize) -> Result<Query, ScimError> {
        let filter = self
            .filter
            .as_deref()
            .map(|f| parse_filter(f, rt, &FilterLimits::default()))
            .transpose()?;
        let descending = match self.sort_order.as_deref() {
            None => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(o) => {
                return Err(ScimError::invalid_value(format!(
                    "`sortOrder` is ascending or descending, not {o:?}"
                )))
            }
        };
        let sort = self
            .sort_by
            .as_deref()
            .map(|name| {
                rt.attribute(name.trim())
                    .map(|attr| Sort { attr, descending })
                    .map_err(|e| ScimError::invalid_value(format!("`sortBy`: {e}")))
            })
            .transpose()?;
        let max = u32::try_from(max_page_size).unwrap_or(u32::MAX);
        Ok(Query {
            filter,
            sort,
            page: Page::new(self.start_index, self.count, max),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scimsync_scim_proto::USER_RESOURCE;
    use serde_json::json;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn query_parameters_are_read_in_any_case_and_count_is_capped() {
        let p = ListParams::from_query(&pairs(&[
            ("FILTER", "userName eq \"a\""),
            ("startindex", "3"),
            ("Count", "5000"),
            ("excludedAttributes", "groups"),
        ]))
        .expect("params");
        let q = p.query(&USER_RESOURCE, 1000).expect("query");
        assert!(q.filter.is_some());
        assert_eq!(q.page.start_index, 3);
        assert_eq!(q.page.count, 1000);
        assert_eq!(p.projection.excluded.as_deref(), Some("groups"));
        let e = ListParams::from_query(&pairs(&[("count", "ten")])).expect_err("not a number");
        assert_eq!(e.scim_type.map(|t| t.as_str()), Some("invalidValue"));
    }

    #[test]
    fn a_search_body_takes_lists_of_names_and_checks_sorting() {
        let p = ListParams::from_search(&json!({
            "schemas": [SEARCH_REQUEST], "attributes": ["userName", "name.givenName"],
            "filter": "active eq true", "startIndex": 1, "count": 0,
            "sortBy": "name.familyName", "sortOrder": "Descending"
        }))
        .expect("params");
        assert_eq!(
            p.projection.attributes.as_deref(),
            Some("userName,name.givenName")
        );
        let q = p.query(&USER_RESOURCE, 100).expect("query");
        assert_eq!(q.page.count, 0);
        assert!(q.sort.expect("sorted").descending);
        let bad = ListParams {
            sort_by: Some("nope".into()),
            ..ListParams::default()
        };
        let e = bad.query(&USER_RESOURCE, 100).expect_err("unknown sortBy");
        assert_eq!(e.scim_type.map(|t| t.as_str()), Some("invalidValue"));
        let bad = ListParams {
            filter: Some("userName eq".into()),
            ..ListParams::default()
        };
        let e = bad.query(&USER_RESOURCE, 100).expect_err("bad filter");
        assert_eq!(e.scim_type.map(|t| t.as_str()), Some("invalidFilter"));
    }
}
