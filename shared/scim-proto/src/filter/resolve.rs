//! Resolving a parsed filter against a resource type: attribute names become schema
//! attributes (case-insensitively), and each comparison is checked against the attribute's
//! type, so the SQL translation and the evaluator only see comparisons that make sense.

use super::ast::{AttrPath, CompValue, CompareOp, Filter};
use crate::error::ScimError;
use crate::schema::{AttrRef, AttrType, ResourceType};

/// A filter whose paths are schema attributes.
#[derive(Debug, Clone, PartialEq)]
pub enum ResolvedFilter {
    /// The attribute (a leaf, never a complex attribute) compared with a value. A complex
    /// attribute named alone is compared through its `value` sub-attribute.
    Compare {
        /// What is compared.
        attr: AttrRef,
        /// How.
        op: CompareOp,
        /// With what (type-checked against the attribute).
        value: CompValue,
    },
    /// The attribute has a non-empty value.
    Present(AttrRef),
    /// Negation.
    Not(Box<ResolvedFilter>),
    /// Conjunction.
    And(Vec<ResolvedFilter>),
    /// Disjunction.
    Or(Vec<ResolvedFilter>),
    /// Some element of the complex attribute `attr` matches `filter`, whose paths are `attr`'s
    /// sub-attributes (`AttrRef::sub` is set on each).
    ValuePath {
        /// The complex attribute (no sub-attribute).
        attr: AttrRef,
        /// The condition on one element.
        filter: Box<ResolvedFilter>,
    },
}

/// Resolves `filter` for `rt`; errors are 400 `invalidFilter` naming the problem.
pub fn resolve(filter: &Filter, rt: &ResourceType) -> Result<ResolvedFilter, ScimError> {
    resolve_in(filter, rt, None).map_err(ScimError::invalid_filter)
}

/// Resolves the inner filter of `parent[...]` (a complex attribute); errors are plain
/// messages the caller wraps in its own `scimType`.
pub(crate) fn resolve_element_filter(
    filter: &Filter,
    rt: &ResourceType,
    parent: AttrRef,
) -> Result<ResolvedFilter, String> {
    resolve_in(filter, rt, Some(parent))
}

fn resolve_in(
    filter: &Filter,
    rt: &ResourceType,
    parent: Option<AttrRef>,
) -> Result<ResolvedFilter, String> {
    let all = |parts: &[Filter]| -> Result<Vec<ResolvedFilter>, String> {
        parts.iter().map(|p| resolve_in(p, rt, parent)).collect()
    };
    Ok(match filter {
        Filter::Compare(path, op, value) => {
            let attr = comparable(lookup(path, rt, parent)?)?;
            check_operand(&attr, *op, value)?;
            ResolvedFilter::Compare {
                attr,
                op: *op,
                value: value.clone(),
            }
        }
        Filter::Present(path) => ResolvedFilter::Present(lookup(path, rt, parent)?),
        Filter::Not(inner) => ResolvedFilter::Not(Box::new(resolve_in(inner, rt, parent)?)),
        Filter::And(parts) => ResolvedFilter::And(all(parts)?),
        Filter::Or(parts) => ResolvedFilter::Or(all(parts)?),
        Filter::ValuePath(path, inner) => {
            if parent.is_some() {
                return Err(format!("`{path}[...]` cannot be nested in another filter"));
            }
            let attr = lookup(path, rt, None)?;
            if attr.sub.is_some() || attr.attr.kind != AttrType::Complex {
                return Err(format!(
                    "`{path}` is not a complex attribute, so it takes no [filter]"
                ));
            }
            ResolvedFilter::ValuePath {
                attr,
                filter: Box::new(resolve_in(inner, rt, Some(attr))?),
            }
        }
    })
}

fn lookup(path: &AttrPath, rt: &ResourceType, parent: Option<AttrRef>) -> Result<AttrRef, String> {
    match parent {
        None => rt
            .resolve(path.urn.as_deref(), &path.name, path.sub.as_deref())
            .map_err(|e| e.to_string()),
        Some(parent) => {
            if path.urn.is_some() || path.sub.is_some() {
                return Err(format!(
                    "inside `{}[...]` name a sub-attribute alone, not `{path}`",
                    parent.attr.name
                ));
            }
            parent
                .attr
                .sub(&path.name)
                .map(|s| parent.with_sub(s))
                .ok_or_else(|| {
                    format!(
                        "`{}` has no sub-attribute `{}`",
                        parent.attr.name, path.name
                    )
                })
        }
    }
}

/// A complex attribute compared directly means its `value` (RFC 7644 §3.4.2.2 on
/// multi-valued attributes); one without `value` cannot be compared.
fn comparable(attr: AttrRef) -> Result<AttrRef, String> {
    if attr.leaf().kind != AttrType::Complex {
        return Ok(attr);
    }
    match attr.attr.sub("value") {
        Some(value) if attr.sub.is_none() => Ok(attr.with_sub(value)),
        _ => Err(format!(
            "`{}` is complex: compare one of its sub-attributes",
            attr.path()
        )),
    }
}

fn check_operand(attr: &AttrRef, op: CompareOp, value: &CompValue) -> Result<(), String> {
    let leaf = attr.leaf();
    let name = attr.path();
    let kind = leaf.kind.as_str();
    let op_name = op.as_str();
    if matches!(value, CompValue::Null) {
        return match op {
            CompareOp::Eq | CompareOp::Ne => Ok(()),
            _ => Err(format!(
                "`{op_name} null` is not a comparison; use eq, ne or pr"
            )),
        };
    }
    if op.is_substring() && !leaf.kind.is_textual() {
        return Err(format!(
            "`{op_name}` needs a string attribute; `{name}` is {kind}"
        ));
    }
    match (leaf.kind, value) {
        (AttrType::Boolean, CompValue::Bool(_)) if !op.is_ordering() => Ok(()),
        (AttrType::Boolean, CompValue::Bool(_)) => Err(format!(
            "`{op_name}` cannot order the boolean `{name}`; use eq or ne"
        )),
        (AttrType::Binary, CompValue::String(_)) if op.is_ordering() => {
            Err(format!("`{op_name}` cannot order the binary `{name}`"))
        }
        (t, CompValue::String(_)) if t.is_textual() => Ok(()),
        (AttrType::DateTime, CompValue::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|_| ())
            .map_err(|_| format!("`{name}` is a dateTime; {s:?} is not an RFC 3339 date-time")),
        (AttrType::Integer, CompValue::Number(n)) if n.is_i64() || n.is_u64() => Ok(()),
        (AttrType::Decimal, CompValue::Number(_)) => Ok(()),
        (_, v) => Err(format!("`{name}` is {kind}; {v} is not a {kind} value")),
    }
}
