//! SCIM filters (RFC 7644 §3.4.2.2): parsing the whole grammar, resolving attribute names
//! against a resource type, and evaluating in memory. [`crate::sql`] turns a
//! [`ResolvedFilter`] into a PostgreSQL condition.
//!
//! Every refusal is 400 `invalidFilter` with a detail naming the problem: a syntax error with
//! its position, an unknown attribute, an operand of the wrong type, a filter longer or more
//! deeply nested than [`FilterLimits`] allow.

mod ast;
mod eval;
pub(crate) mod grammar;
mod resolve;

pub use ast::{AttrPath, CompValue, CompareOp, Filter};
pub use resolve::{resolve, ResolvedFilter};

pub(crate) use eval::{get_ci, is_present, top_value};
pub(crate) use resolve::resolve_element_filter;

use winnow::error::{ContextError, ParseError, StrContext, StrContextValue};
use winnow::prelude::*;

use crate::error::ScimError;
use crate::schema::ResourceType;

/// Bounds on what a filter may be, so no request costs unbounded work or stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterLimits {
    /// Longest filter text, in bytes.
    pub max_len: usize,
    /// Deepest nesting of parentheses, `not (...)` and `[...]`.
    pub max_depth: usize,
}

impl Default for FilterLimits {
    /// 4 KiB and 32 levels: far beyond what Entra (`userName eq "..."`) or Okta send.
    fn default() -> Self {
        Self {
            max_len: 4096,
            max_depth: 32,
        }
    }
}

impl Filter {
    /// Parses filter text (syntax only; names are not checked).
    pub fn parse(text: &str, limits: &FilterLimits) -> Result<Self, ScimError> {
        if text.len() > limits.max_len {
            return Err(ScimError::invalid_filter(format!(
                "filter is {} bytes long; at most {} are accepted",
                text.len(),
                limits.max_len
            )));
        }
        let grammar = grammar::Grammar {
            max_depth: limits.max_depth,
        };
        let mut whole = |i: &mut &str| -> ModalResult<Filter> {
            winnow::ascii::multispace0.parse_next(i)?;
            let filter = grammar.filter(i, 0, false)?;
            winnow::ascii::multispace0.parse_next(i)?;
            winnow::combinator::eof
                .context(StrContext::Expected(StrContextValue::Description(
                    "`and` or `or` and an expression, or the end of the filter",
                )))
                .parse_next(i)?;
            Ok(filter)
        };
        whole
            .parse(text)
            .map_err(|e| ScimError::invalid_filter(describe("filter", text, &e, limits)))
    }
}

/// Parses and resolves `text` for `rt`: the filter of a list request.
pub fn parse_filter(
    text: &str,
    rt: &ResourceType,
    limits: &FilterLimits,
) -> Result<ResolvedFilter, ScimError> {
    resolve(&Filter::parse(text, limits)?, rt)
}

/// A readable syntax error: where, and what was expected there.
pub(crate) fn describe(
    what: &str,
    text: &str,
    e: &ParseError<&str, ContextError>,
    limits: &FilterLimits,
) -> String {
    let ctx = e.inner();
    if ctx
        .context()
        .any(|c| matches!(c, StrContext::Label(l) if *l == grammar::TOO_DEEP))
    {
        return format!(
            "{what} nests deeper than {} levels of parentheses or brackets",
            limits.max_depth
        );
    }
    let offset = e.offset();
    let rest: String = text.get(offset..).unwrap_or("").chars().take(24).collect();
    let at = if rest.is_empty() {
        "at the end".to_owned()
    } else {
        let column = text.get(..offset).map_or(0, |s| s.chars().count()) + 1;
        format!("at character {column} (`{rest}`)")
    };
    let wanted: Vec<String> = ctx
        .context()
        .filter_map(|c| match c {
            StrContext::Expected(v) => Some(v.to_string()),
            _ => None,
        })
        .collect();
    if wanted.is_empty() {
        format!("invalid {what} {at}")
    } else {
        format!("invalid {what} {at}: expected {}", wanted.join(", or "))
    }
}

#[cfg(test)]
mod tests;
