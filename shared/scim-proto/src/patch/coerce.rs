//! Checking an incoming value against its attribute and bringing it to the canonical stored
//! form: canonical sub-attribute names, booleans from Entra's `"True"` / `"False"` strings, a
//! bare string for a complex attribute with a `value` (Entra's `manager: "id"`), read-only
//! sub-attributes dropped (the server computes them). Anything else of the wrong type is
//! 400 `invalidValue`.

use serde_json::{Map, Number, Value};

use crate::error::ScimError;
use crate::schema::{AttrType, Attribute, Mutability};

/// One value of `attr` (an element, for a multi-valued attribute). `Null` stays `Null`.
pub(crate) fn one(attr: &Attribute, v: &Value) -> Result<Value, ScimError> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let wrong = || {
        ScimError::invalid_value(format!(
            "`{}` takes a {} value, not {}",
            attr.name,
            attr.kind.as_str(),
            shown(v)
        ))
    };
    match attr.kind {
        AttrType::Complex => complex(attr, v),
        AttrType::Boolean => match v {
            Value::Bool(_) => Ok(v.clone()),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(wrong()),
        },
        AttrType::Integer => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(v.clone()),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(|n| Value::Number(n.into()))
                .map_err(|_| wrong()),
            _ => Err(wrong()),
        },
        AttrType::Decimal => match v {
            Value::Number(_) => Ok(v.clone()),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
                .ok_or_else(wrong),
            _ => Err(wrong()),
        },
        AttrType::DateTime => match v {
            Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => Ok(v.clone()),
            _ => Err(wrong()),
        },
        AttrType::String | AttrType::Reference | AttrType::Binary => match v {
            Value::String(_) => Ok(v.clone()),
            _ => Err(wrong()),
        },
    }
}

/// The whole value of `attr`: an array of elements if it is multi-valued (a single element is
/// taken as a one-element array; `null` elements are dropped).
pub(crate) fn whole(attr: &Attribute, v: &Value) -> Result<Value, ScimError> {
    if !attr.multi_valued || v.is_null() {
        return one(attr, v);
    }
    let items: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let c = one(attr, item)?;
        if !c.is_null() {
            out.push(c);
        }
    }
    Ok(Value::Array(out))
}

fn complex(attr: &Attribute, v: &Value) -> Result<Value, ScimError> {
    let map = match v {
        Value::Object(map) => map,
        Value::String(_) if attr.sub("value").is_some() => {
            let mut m = Map::new();
            m.insert("value".to_owned(), v.clone());
            return Ok(Value::Object(m));
        }
        _ => {
            return Err(ScimError::invalid_value(format!(
                "`{}` is complex and takes an object, not {}",
                attr.name,
                shown(v)
            )))
        }
    };
    let mut out = Map::new();
    for (key, sub_value) in map {
        let sub = attr.sub(key).ok_or_else(|| {
            ScimError::invalid_value(format!("`{}` has no sub-attribute `{key}`", attr.name))
        })?;
        // A read-only sub-attribute of a writable attribute is the server's to compute
        // (`manager.displayName`, Okta's `members.display`); one of a read-only attribute is
        // kept so the mutability check sees the attempt.
        if sub.mutability == Mutability::ReadOnly && attr.mutability != Mutability::ReadOnly {
            continue;
        }
        out.insert(sub.name.to_owned(), one(sub, sub_value)?);
    }
    Ok(Value::Object(out))
}

fn shown(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 40 {
        let head: String = text.chars().take(40).collect();
        format!("{head}...")
    } else {
        text
    }
}
