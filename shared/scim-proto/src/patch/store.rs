//! Where an attribute lives in a stored resource (at the top, or in its extension object), and
//! keeping the stored form canonical: unassigned attributes and empty extension objects are
//! absent, and `schemas` lists exactly the extensions the resource holds.

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::filter::is_present;
use crate::schema::{AttrRef, ResourceType};

/// The object that holds `attr`: the resource, or its extension object (created if absent).
pub(crate) fn holder_mut(
    doc: &mut Value,
    attr: AttrRef,
) -> Result<&mut Map<String, Value>, ScimError> {
    let root = ensure_object(doc)?;
    match attr.container() {
        None => Ok(root),
        Some(urn) => ensure_object(root.entry(urn).or_insert(Value::Null)),
    }
}

/// The array of a multi-valued attribute (created empty if absent or not an array).
pub(crate) fn array_mut(doc: &mut Value, attr: AttrRef) -> Result<&mut Vec<Value>, ScimError> {
    let slot = holder_mut(doc, attr)?
        .entry(attr.attr.name)
        .or_insert(Value::Null);
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    slot.as_array_mut().ok_or_else(shape_error)
}

fn ensure_object(v: &mut Value) -> Result<&mut Map<String, Value>, ScimError> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut().ok_or_else(shape_error)
}

// Only reachable if serde_json's accessors disagreed with the value just written.
fn shape_error() -> ScimError {
    ScimError::status(
        500,
        "the stored resource could not be shaped for this change",
    )
}

/// Unassigned is stored as absent: an attribute left empty (`null`, `[]`, `{}`) is removed,
/// and so is an extension object left empty.
pub(crate) fn tidy(doc: &mut Value, attr: AttrRef) -> Result<(), ScimError> {
    let holder = holder_mut(doc, attr)?;
    if holder.get(attr.attr.name).is_some_and(|v| !is_present(v)) {
        holder.remove(attr.attr.name);
    }
    if let (Some(urn), Value::Object(root)) = (attr.container(), doc) {
        if root.get(urn).is_some_and(|v| !is_present(v)) {
            root.remove(urn);
        }
    }
    Ok(())
}

/// `schemas` lists an extension URN exactly when the resource holds that extension.
pub(crate) fn sync_extension_schemas(rt: &ResourceType, doc: &mut Value) {
    let Value::Object(root) = doc else { return };
    for ext in rt.extensions {
        let present = root.get(ext.id).is_some_and(is_present);
        if let Some(Value::Array(schemas)) = root.get_mut("schemas") {
            let listed = schemas.iter().any(|s| s.as_str() == Some(ext.id));
            if present && !listed {
                schemas.push(Value::String(ext.id.to_owned()));
            } else if !present && listed {
                schemas.retain(|s| s.as_str() != Some(ext.id));
            }
        }
    }
}
