//! Operations on the elements of a multi-valued attribute: appending without duplicates,
//! removing exactly the values named, acting on the elements a value filter selects, and
//! keeping at most one `primary`.

use serde_json::{Map, Value};

use super::coerce;
use crate::error::ScimError;
use crate::filter::{CompValue, CompareOp, ResolvedFilter};
use crate::schema::Attribute;

/// Whether two elements are the same value: by `value` when both have one (honouring its
/// `caseExact`), else by equality.
pub(crate) fn same(attr: &Attribute, a: &Value, b: &Value) -> bool {
    let key = |v: &Value| v.get("value").and_then(Value::as_str).map(str::to_owned);
    match (key(a), key(b)) {
        (Some(x), Some(y)) => {
            let exact = attr.sub("value").is_none_or(|s| s.case_exact);
            if exact {
                x == y
            } else {
                x.to_lowercase() == y.to_lowercase()
            }
        }
        _ => a == b,
    }
}

/// `add`: each new element not already present is appended; one already present has the new
/// sub-attributes merged in. Returns the index of the last element given `primary: true`.
pub(crate) fn append(attr: &Attribute, items: &mut Vec<Value>, new: Vec<Value>) -> Option<usize> {
    let mut winner = None;
    for element in new {
        let index = match items.iter().position(|e| same(attr, e, &element)) {
            Some(i) => {
                if let (Some(old), Value::Object(add)) = (items.get_mut(i), &element) {
                    merge(old, add);
                }
                i
            }
            None => {
                items.push(without_nulls(element));
                items.len() - 1
            }
        };
        if is_primary(items.get(index)) {
            winner = Some(index);
        }
    }
    winner
}

/// A new element keeps only the sub-attributes that have a value (Entra sends
/// `{"$ref": null, "value": "..."}` for members).
fn without_nulls(mut element: Value) -> Value {
    if let Value::Object(map) = &mut element {
        map.retain(|_, v| !v.is_null());
    }
    element
}

/// `replace` of the whole attribute: the new elements, duplicates folded.
pub(crate) fn replace_all(attr: &Attribute, new: Vec<Value>) -> (Vec<Value>, Option<usize>) {
    let mut items = Vec::with_capacity(new.len());
    let winner = append(attr, &mut items, new);
    (items, winner)
}

/// `remove` with a value: exactly the elements equal to one of `given` go (never all).
pub(crate) fn remove_values(attr: &Attribute, items: &mut Vec<Value>, given: &[Value]) {
    items.retain(|e| !given.iter().any(|g| same(attr, e, g)));
}

/// Sets `sub` to `value` in an object (`null` removes it).
pub(crate) fn set_sub(element: &mut Value, sub: &str, value: Value) {
    if let Value::Object(map) = element {
        if value.is_null() {
            map.remove(sub);
        } else {
            map.insert(sub.to_owned(), value);
        }
    }
}

/// Merges sub-attributes into an object (`null` values remove).
pub(crate) fn merge(target: &mut Value, add: &Map<String, Value>) {
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    for (k, v) in add {
        set_sub(target, k, v.clone());
    }
}

fn is_primary(v: Option<&Value>) -> bool {
    v.and_then(|e| e.get("primary")).and_then(Value::as_bool) == Some(true)
}

/// RFC 7643 §2.4: at most one element is primary; the one just set wins.
pub(crate) fn one_primary(items: &mut [Value], winner: Option<usize>) {
    let Some(winner) = winner else { return };
    for (i, e) in items.iter_mut().enumerate() {
        if i != winner && is_primary(Some(e)) {
            set_sub(e, "primary", Value::Bool(false));
        }
    }
}

/// The element a filter of `eq` comparisons describes (`type eq "work"` gives
/// `{"type": "work"}`), for an add or replace whose filter matched nothing: Entra sends
/// `replace emails[type eq "work"].value` for a user who has no work email yet.
pub(crate) fn element_from_filter(filter: &ResolvedFilter) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    let mut stack = vec![filter];
    while let Some(f) = stack.pop() {
        match f {
            ResolvedFilter::And(parts) => stack.extend(parts.iter()),
            ResolvedFilter::Compare {
                attr,
                op: CompareOp::Eq,
                value,
            } => {
                let sub = attr.sub?;
                let v = match value {
                    CompValue::String(s) => Value::String(s.clone()),
                    CompValue::Number(n) => Value::Number(n.clone()),
                    CompValue::Bool(b) => Value::Bool(*b),
                    CompValue::Null => return None,
                };
                out.insert(sub.name.to_owned(), coerce::one(sub, &v).ok()?);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Applies add/replace/remove to the elements `filter` selects (or their `sub`). Returns
/// whether any element matched and the index of a new primary.
pub(crate) enum FilteredOp<'a> {
    /// Set `sub` (or merge / replace the whole element) on every match.
    Set { value: &'a Value, merge_whole: bool },
    /// Remove `sub` from every match, or the matches themselves.
    Remove,
}

pub(crate) fn on_filtered(
    attr: &Attribute,
    items: &mut Vec<Value>,
    filter: &ResolvedFilter,
    sub: Option<&Attribute>,
    op: FilteredOp<'_>,
) -> Result<(bool, Option<usize>), ScimError> {
    let matched: Vec<usize> = (0..items.len())
        .filter(|&i| items.get(i).is_some_and(|e| filter.matches_element(e)))
        .collect();
    let mut winner = None;
    match op {
        FilteredOp::Remove => {
            match sub {
                Some(sub) => {
                    for &i in &matched {
                        if let Some(e) = items.get_mut(i) {
                            set_sub(e, sub.name, Value::Null);
                        }
                    }
                }
                None => {
                    let mut i = 0;
                    items.retain(|_| {
                        i += 1;
                        !matched.contains(&(i - 1))
                    });
                }
            }
            return Ok((!matched.is_empty(), None));
        }
        FilteredOp::Set { value, merge_whole } => {
            let new = match sub {
                Some(sub) => coerce::one(sub, value)?,
                None => coerce::one(attr, value)?,
            };
            for &i in &matched {
                if let Some(e) = items.get_mut(i) {
                    set_element(e, sub, &new, merge_whole);
                    if is_primary(Some(e)) {
                        winner = Some(i);
                    }
                }
            }
            if matched.is_empty() {
                let Some(seed) = element_from_filter(filter) else {
                    return Ok((false, None));
                };
                let mut e = Value::Object(seed);
                set_element(&mut e, sub, &new, true);
                items.push(e);
                if is_primary(items.last()) {
                    winner = Some(items.len() - 1);
                }
            }
        }
    }
    Ok((true, winner))
}

fn set_element(e: &mut Value, sub: Option<&Attribute>, new: &Value, merge_whole: bool) {
    match (sub, new) {
        (Some(sub), v) => set_sub(e, sub.name, v.clone()),
        (None, Value::Object(map)) if merge_whole => merge(e, map),
        (None, v) => *e = v.clone(),
    }
}
