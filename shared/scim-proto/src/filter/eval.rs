//! Evaluating a resolved filter against a stored resource in memory, with the same meaning as
//! the SQL translation: `caseExact` honoured, a multi-valued attribute matches when any value
//! does, `ne` and `not` match a resource that lacks the attribute, `pr` means present and not
//! null or empty. PATCH uses it to pick the elements a value filter selects.

use std::cmp::Ordering;

use serde_json::Value;

use super::ast::{CompValue, CompareOp};
use super::resolve::ResolvedFilter;
use crate::schema::{AttrRef, AttrType};

impl ResolvedFilter {
    /// Whether the stored `resource` matches.
    pub fn matches(&self, resource: &Value) -> bool {
        self.eval(resource, false)
    }

    /// Whether one element of a complex attribute matches (for the inner filter of a value
    /// path, whose paths are that attribute's sub-attributes).
    pub fn matches_element(&self, element: &Value) -> bool {
        self.eval(element, true)
    }

    fn eval(&self, v: &Value, element: bool) -> bool {
        match self {
            Self::Compare { attr, op, value } => {
                compare_any(&values(v, attr, element), attr, *op, value)
            }
            Self::Present(attr) => values(v, attr, element).into_iter().any(is_present),
            Self::Not(inner) => !inner.eval(v, element),
            Self::And(parts) => parts.iter().all(|p| p.eval(v, element)),
            Self::Or(parts) => parts.iter().any(|p| p.eval(v, element)),
            Self::ValuePath { attr, filter } => {
                let Some(found) = top_value(v, attr) else {
                    return false;
                };
                match found {
                    Value::Array(items) => items.iter().any(|e| filter.matches_element(e)),
                    one => filter.matches_element(one),
                }
            }
        }
    }
}

/// `obj[key]`, falling back to a case-insensitive key match.
pub(crate) fn get_ci<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    let map = obj.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The attribute's value in a stored resource (under its extension URN if it has one).
pub(crate) fn top_value<'a>(resource: &'a Value, attr: &AttrRef) -> Option<&'a Value> {
    let holder = match attr.container() {
        Some(urn) => get_ci(resource, urn)?,
        None => resource,
    };
    get_ci(holder, attr.attr.name)
}

/// Every value the path names: one per element for a multi-valued attribute.
fn values<'a>(v: &'a Value, attr: &AttrRef, element: bool) -> Vec<&'a Value> {
    if element {
        return attr
            .sub
            .and_then(|s| get_ci(v, s.name))
            .into_iter()
            .collect();
    }
    let Some(top) = top_value(v, attr) else {
        return Vec::new();
    };
    let items: Vec<&Value> = match top {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    match attr.sub {
        None => items,
        Some(sub) => items
            .into_iter()
            .filter_map(|e| get_ci(e, sub.name))
            .collect(),
    }
}

pub(crate) fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(is_present),
        Value::Object(o) => o.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare_any(found: &[&Value], attr: &AttrRef, op: CompareOp, expected: &CompValue) -> bool {
    match (op, expected) {
        (CompareOp::Eq, CompValue::Null) => !found.iter().any(|v| is_present(v)),
        (CompareOp::Ne, CompValue::Null) => found.iter().any(|v| is_present(v)),
        // `ne` is "no value equals", so a missing attribute matches, as `not (eq)` does.
        (CompareOp::Ne, _) => !compare_any(found, attr, CompareOp::Eq, expected),
        _ => found.iter().any(|v| compare_one(v, attr, op, expected)),
    }
}

fn compare_one(actual: &Value, attr: &AttrRef, op: CompareOp, expected: &CompValue) -> bool {
    let leaf = attr.leaf();
    match (leaf.kind, actual, expected) {
        (AttrType::DateTime, Value::String(a), CompValue::String(e)) => {
            match (parse_time(a), parse_time(e)) {
                (Some(a), Some(e)) => ordered(a.cmp(&e), op),
                _ => false,
            }
        }
        (_, Value::String(a), CompValue::String(e)) => {
            if leaf.case_exact {
                strings(a, e, op)
            } else {
                strings(&a.to_lowercase(), &e.to_lowercase(), op)
            }
        }
        (_, Value::Bool(a), CompValue::Bool(e)) => ordered(a.cmp(e), op),
        (_, Value::Number(a), CompValue::Number(e)) => match (a.as_f64(), e.as_f64()) {
            (Some(a), Some(e)) => a.partial_cmp(&e).is_some_and(|o| ordered(o, op)),
            _ => false,
        },
        _ => false,
    }
}

fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

fn strings(a: &str, e: &str, op: CompareOp) -> bool {
    match op {
        CompareOp::Co => a.contains(e),
        CompareOp::Sw => a.starts_with(e),
        CompareOp::Ew => a.ends_with(e),
        _ => ordered(a.cmp(e), op),
    }
}

fn ordered(o: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}
