//! Reading a PatchOp request body (RFC 7644 §3.5.2) in the dialects identity providers send:
//! `op` in any case (Entra's default dialect sends `Add` / `Replace` / `Remove`), member keys
//! `Operations` / `op` / `path` / `value` matched case-insensitively.

use serde_json::Value;

use crate::error::ScimError;
use crate::filter::{get_ci, FilterLimits};
use crate::path::PatchPath;

/// The URN of the PatchOp message schema.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A PATCH operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `add`
    Add,
    /// `replace`
    Replace,
    /// `remove`
    Remove,
}

impl OpKind {
    /// The lower-case keyword.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Replace => "replace",
            Self::Remove => "remove",
        }
    }
}

/// One operation of a PatchOp request.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// What to do.
    pub op: OpKind,
    /// Where; `None` for a path-less add/replace whose value is an object of attributes.
    pub path: Option<PatchPath>,
    /// The value (`None` when absent; JSON `null` is kept as `Some(Null)`).
    pub value: Option<Value>,
}

/// A PatchOp request.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    /// The operations, applied in order, all or none.
    pub operations: Vec<PatchOperation>,
}

impl PatchRequest {
    /// Reads a request body. A body that is not a PatchOp is 400 `invalidSyntax`, a bad path
    /// 400 `invalidPath`, a `remove` without a path 400 `noTarget`.
    pub fn from_json(body: &Value, limits: &FilterLimits) -> Result<Self, ScimError> {
        if !body.is_object() {
            return Err(ScimError::invalid_syntax(
                "a PATCH body must be a JSON object",
            ));
        }
        let schemas = get_ci(body, "schemas").and_then(Value::as_array);
        let is_patch_op = schemas.is_some_and(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .any(|u| u.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
        });
        if !is_patch_op {
            return Err(ScimError::invalid_syntax(format!(
                "`schemas` must include {PATCH_OP_SCHEMA}"
            )));
        }
        let ops = get_ci(body, "Operations")
            .and_then(Value::as_array)
            .ok_or_else(|| ScimError::invalid_syntax("`Operations` must be an array"))?;
        let operations = ops
            .iter()
            .enumerate()
            .map(|(n, op)| operation(op, limits).map_err(|e| numbered(e, n)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { operations })
    }
}

fn numbered(mut e: ScimError, n: usize) -> ScimError {
    e.detail = format!("operation {}: {}", n + 1, e.detail);
    e
}

fn operation(op: &Value, limits: &FilterLimits) -> Result<PatchOperation, ScimError> {
    if !op.is_object() {
        return Err(ScimError::invalid_syntax(
            "an operation must be a JSON object",
        ));
    }
    let kind = match get_ci(op, "op").and_then(Value::as_str) {
        Some(s) if s.eq_ignore_ascii_case("add") => OpKind::Add,
        Some(s) if s.eq_ignore_ascii_case("replace") => OpKind::Replace,
        Some(s) if s.eq_ignore_ascii_case("remove") => OpKind::Remove,
        Some(s) => {
            return Err(ScimError::invalid_syntax(format!(
                "unknown op {s:?}; expected add, replace or remove"
            )))
        }
        None => return Err(ScimError::invalid_syntax("`op` must be a string")),
    };
    let path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(PatchPath::parse(p, limits)?),
        Some(_) => return Err(ScimError::invalid_path("`path` must be a string")),
    };
    let value = get_ci(op, "value").cloned();
    match (kind, &path, &value) {
        (OpKind::Remove, None, _) => Err(ScimError::no_target(
            "a remove operation needs a `path` naming what to remove",
        )),
        (OpKind::Add | OpKind::Replace, None, Some(Value::Object(_))) => Ok(PatchOperation {
            op: kind,
            path,
            value,
        }),
        (OpKind::Add | OpKind::Replace, None, _) => Err(ScimError::invalid_syntax(format!(
            "an {} without `path` needs an object of attributes as `value`",
            kind.as_str()
        ))),
        _ => Ok(PatchOperation {
            op: kind,
            path,
            value,
        }),
    }
}
