//! Applying a PatchOp request to a stored resource (RFC 7644 §3.5.2), all operations or none.
//!
//! Semantics, where the RFC leaves room, chosen for what identity providers send:
//! - `add` on a multi-valued attribute appends what is not there yet; on a complex attribute it
//!   merges sub-attributes; `replace` on a complex attribute merges too (§3.5.2.3).
//! - `null` (or an empty array) is "unassigned" (RFC 7643 §2.5): `replace` with it clears,
//!   `add` with it does nothing.
//! - `remove` of a multi-valued attribute with a `value` removes exactly those values (Entra's
//!   member removal), never all of them; with no value it clears the attribute. A `remove`
//!   whose filter matches nothing changes nothing (a retried removal succeeds).
//! - `add` / `replace` with a filter that matches nothing creates the element the filter's
//!   `eq` terms describe (`emails[type eq "work"].value`); with any other filter it is
//!   400 `noTarget`.
//! - Changing a `readOnly` attribute, or an `immutable` one that has a value, is
//!   400 `mutability`; writing the value it already has is accepted. Removing a required
//!   attribute is 400 `invalidValue`.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::coerce;
use super::multi::{self, FilteredOp};
use super::request::{OpKind, PatchOperation, PatchRequest};
use super::store::{array_mut, holder_mut, sync_extension_schemas, tidy};
use crate::error::ScimError;
use crate::filter::FilterLimits;
use crate::filter::{is_present, top_value};
use crate::path::{PatchPath, Target};
use crate::schema::{AttrRef, Attribute, Mutability, ResourceType, Schema};

/// The result of applying a PatchOp request.
#[derive(Debug, Clone, PartialEq)]
pub struct Patched {
    /// The resource after every operation.
    pub resource: Value,
    /// Whether anything differs from the stored resource (bump the version, emit a change
    /// event, only when true).
    pub changed: bool,
    /// Canonical paths of the top-level attributes whose value changed.
    pub changed_attributes: Vec<String>,
    /// For a Group: member ids added and removed.
    pub members: MemberChanges,
}

/// Member ids added to and removed from a Group, in resource order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberChanges {
    /// Ids present after and not before.
    pub added: Vec<String>,
    /// Ids present before and not after.
    pub removed: Vec<String>,
}

impl PatchRequest {
    /// Applies the operations to `resource` (a stored resource of `rt`, canonical names) and
    /// says what changed. On error nothing is applied.
    pub fn apply(&self, rt: &'static ResourceType, resource: &Value) -> Result<Patched, ScimError> {
        let mut doc = resource.clone();
        if !doc.is_object() {
            doc = Value::Object(Map::new());
        }
        let mut touched = Touched::default();
        for (n, op) in self.operations.iter().enumerate() {
            apply_op(rt, &mut doc, op, &mut touched).map_err(|mut e| {
                e.detail = format!("operation {}: {}", n + 1, e.detail);
                e
            })?;
        }
        sync_extension_schemas(rt, &mut doc);
        let changed_attributes = touched.check(resource, &doc)?;
        Ok(Patched {
            changed: doc != *resource,
            members: member_changes(resource, &doc),
            changed_attributes,
            resource: doc,
        })
    }
}

/// The top-level attributes an operation wrote to, checked for mutability at the end.
#[derive(Default)]
struct Touched(Vec<AttrRef>);

impl Touched {
    fn add(&mut self, attr: AttrRef) {
        let top = AttrRef { sub: None, ..attr };
        if !self.0.contains(&top) {
            self.0.push(top);
        }
    }

    fn check(&self, before: &Value, after: &Value) -> Result<Vec<String>, ScimError> {
        let mut changed = BTreeSet::new();
        for attr in &self.0 {
            let old = top_value(before, attr).filter(|v| is_present(v));
            let new = top_value(after, attr).filter(|v| is_present(v));
            if old == new {
                continue;
            }
            let name = attr.path();
            match attr.attr.mutability {
                Mutability::ReadOnly => {
                    return Err(ScimError::mutability(format!("`{name}` is readOnly")));
                }
                Mutability::Immutable if old.is_some() => {
                    return Err(ScimError::mutability(format!(
                        "`{name}` is immutable and already set"
                    )));
                }
                _ => {}
            }
            if attr.attr.required && new.is_none() {
                return Err(ScimError::invalid_value(format!(
                    "`{name}` is required and cannot be removed"
                )));
            }
            changed.insert(name);
        }
        Ok(changed.into_iter().collect())
    }
}

fn apply_op(
    rt: &'static ResourceType,
    doc: &mut Value,
    op: &PatchOperation,
    touched: &mut Touched,
) -> Result<(), ScimError> {
    let null = Value::Null;
    let value = op.value.as_ref().unwrap_or(&null);
    match &op.path {
        None => path_less(rt, doc, op.op, value, touched),
        Some(path) => at_target(rt, doc, path, op.op, value, touched),
    }
}

fn at_target(
    rt: &'static ResourceType,
    doc: &mut Value,
    path: &PatchPath,
    op: OpKind,
    value: &Value,
    touched: &mut Touched,
) -> Result<(), ScimError> {
    match path.resolve(rt)? {
        Target::Extension(schema) => extension(rt, doc, schema, op, value, touched),
        Target::Attr(attr) => {
            touched.add(attr);
            on_attr(doc, attr, op, value)
        }
        Target::Filtered { attr, filter, sub } => {
            touched.add(attr);
            let items = array_mut(doc, attr)?;
            let set = |merge_whole| FilteredOp::Set { value, merge_whole };
            let fop = match (op, value.is_null()) {
                (OpKind::Remove, _) | (OpKind::Replace, true) => FilteredOp::Remove,
                (OpKind::Add, true) => return Ok(()),
                (OpKind::Add, false) => set(true),
                (OpKind::Replace, false) => set(false),
            };
            let remove = matches!(fop, FilteredOp::Remove);
            let (hit, winner) = multi::on_filtered(attr.attr, items, &filter, sub, fop)?;
            multi::one_primary(items, winner);
            tidy(doc, attr)?;
            if !hit && !remove {
                return Err(ScimError::no_target(format!(
                    "no element of `{path}` matches, and the filter does not describe one to create"
                )));
            }
            Ok(())
        }
    }
}

/// A path-less add/replace: each key of the value object is a path (plain, dotted,
/// URN-qualified, or with a value filter: Entra sends `"emails[type eq \"work\"].value"`), or
/// an extension URN whose object holds that extension's attributes.
fn path_less(
    rt: &'static ResourceType,
    doc: &mut Value,
    op: OpKind,
    value: &Value,
    touched: &mut Touched,
) -> Result<(), ScimError> {
    let Value::Object(map) = value else {
        return Err(ScimError::invalid_syntax(
            "an operation without `path` needs an object of attributes as `value`",
        ));
    };
    for (key, v) in map {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(schema) = rt.schema_by_urn(key) {
            if std::ptr::eq(schema, rt.schema) {
                path_less(rt, doc, op, v, touched)?;
            } else {
                extension(rt, doc, schema, op, v, touched)?;
            }
            continue;
        }
        let path = PatchPath::parse(key, &FilterLimits::default()).map_err(|e| {
            ScimError::invalid_path(format!(
                "key {key:?} of the {} value: {}",
                op.as_str(),
                e.detail
            ))
        })?;
        at_target(rt, doc, &path, op, v, touched)?;
    }
    Ok(())
}

/// An operation on a whole extension object: remove clears it, add/replace take its keys.
fn extension(
    rt: &'static ResourceType,
    doc: &mut Value,
    schema: &'static Schema,
    op: OpKind,
    value: &Value,
    touched: &mut Touched,
) -> Result<(), ScimError> {
    for attr in schema.attributes {
        touched.add(AttrRef {
            schema,
            extension: true,
            attr,
            sub: None,
        });
    }
    match (op, value) {
        (OpKind::Remove, _) | (OpKind::Replace, Value::Null) => {
            if let Value::Object(map) = doc {
                map.retain(|k, _| !k.eq_ignore_ascii_case(schema.id));
            }
            Ok(())
        }
        (OpKind::Add, Value::Null) => Ok(()),
        (_, Value::Object(map)) => {
            for (key, v) in map {
                // The resource's `schemas`, which client libraries put in an extension's object
                // too: server-owned (kept in step by `sync_extension_schemas`), as at the top.
                if key.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                let attr = rt
                    .attribute(&format!("{}:{key}", schema.id))
                    .map_err(|e| ScimError::invalid_path(e.to_string()))?;
                on_attr(doc, attr, op, v)?;
            }
            Ok(())
        }
        _ => Err(ScimError::invalid_value(format!(
            "`{}` takes an object of its attributes",
            schema.id
        ))),
    }
}

/// add / replace / remove on an attribute or a sub-attribute.
fn on_attr(doc: &mut Value, attr: AttrRef, op: OpKind, value: &Value) -> Result<(), ScimError> {
    let top = attr.attr;
    if let Some(sub) = attr.sub {
        if sub.mutability == Mutability::ReadOnly && op != OpKind::Remove {
            return Err(ScimError::mutability(format!(
                "`{}` is readOnly",
                attr.path()
            )));
        }
        let new = match op {
            OpKind::Remove => Value::Null,
            _ => coerce::one(sub, value)?,
        };
        if op == OpKind::Add && new.is_null() {
            return Ok(());
        }
        if top.multi_valued {
            for e in array_mut(doc, attr)?.iter_mut() {
                multi::set_sub(e, sub.name, new.clone());
            }
        } else {
            let holder = holder_mut(doc, attr)?;
            let parent = holder
                .entry(top.name)
                .or_insert_with(|| Value::Object(Map::new()));
            multi::set_sub(parent, sub.name, new);
        }
        tidy(doc, attr)?;
        return Ok(());
    }
    match op {
        // Any value, even `[]`, names what to remove: never read it as "remove all".
        OpKind::Remove if top.multi_valued && !value.is_null() => {
            let given = coerce::whole(top, value)?;
            let given = given.as_array().map(Vec::as_slice).unwrap_or_default();
            multi::remove_values(top, array_mut(doc, attr)?, given);
        }
        OpKind::Remove => {
            holder_mut(doc, attr)?.remove(top.name);
        }
        OpKind::Add | OpKind::Replace => set(doc, attr, top, op, value)?,
    }
    tidy(doc, attr)?;
    Ok(())
}

fn set(
    doc: &mut Value,
    attr: AttrRef,
    top: &'static Attribute,
    op: OpKind,
    value: &Value,
) -> Result<(), ScimError> {
    let new = coerce::whole(top, value)?;
    if new.is_null() {
        if op == OpKind::Replace {
            holder_mut(doc, attr)?.remove(top.name);
        }
        return Ok(());
    }
    match new {
        Value::Array(elements) if op == OpKind::Add => {
            let items = array_mut(doc, attr)?;
            let winner = multi::append(top, items, elements);
            multi::one_primary(items, winner);
        }
        Value::Array(elements) => {
            let (mut items, winner) = multi::replace_all(top, elements);
            multi::one_primary(&mut items, winner);
            holder_mut(doc, attr)?.insert(top.name.to_owned(), Value::Array(items));
        }
        Value::Object(subs) => {
            let holder = holder_mut(doc, attr)?;
            let target = holder
                .entry(top.name)
                .or_insert_with(|| Value::Object(Map::new()));
            multi::merge(target, &subs);
        }
        scalar => {
            holder_mut(doc, attr)?.insert(top.name.to_owned(), scalar);
        }
    }
    Ok(())
}

fn member_ids(doc: &Value) -> Vec<String> {
    doc.get("members")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn member_changes(before: &Value, after: &Value) -> MemberChanges {
    let old = member_ids(before);
    let new = member_ids(after);
    let old_set: BTreeSet<&String> = old.iter().collect();
    let new_set: BTreeSet<&String> = new.iter().collect();
    MemberChanges {
        added: new
            .iter()
            .filter(|id| !old_set.contains(id))
            .cloned()
            .collect(),
        removed: old
            .iter()
            .filter(|id| !new_set.contains(id))
            .cloned()
            .collect(),
    }
}
