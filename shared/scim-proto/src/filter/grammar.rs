//! The filter grammar of RFC 7644 §3.4.2.2 over `&str` with winnow. `and` binds tighter than
//! `or`; `not` needs parentheses; keywords and operators are case-insensitive. Nesting (groups,
//! `not`, brackets) is counted, and past the limit the parse stops with an error instead of
//! recursing further, so no input can overflow the stack.
//!
//! Besides the RFC's grammar it accepts `attr[filter].sub op value` (Entra's way of naming
//! `emails[type eq "work"].value`), read as `attr[filter and sub op value]`, and whitespace
//! inside parentheses and brackets.

use winnow::ascii::Caseless;
use winnow::combinator::{alt, cut_err, fail, opt, peek};
use winnow::error::{ContextError, ErrMode, ModalResult, StrContext, StrContextValue};
use winnow::prelude::*;
use winnow::token::{any, one_of, take_while};

use super::ast::{AttrPath, CompValue, CompareOp, Filter};

/// The label carried by the error raised when nesting exceeds the limit.
pub(crate) const TOO_DEEP: &str = "nesting depth";

fn expected(what: &'static str) -> StrContext {
    StrContext::Expected(StrContextValue::Description(what))
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn ws0(i: &mut &str) -> ModalResult<()> {
    take_while(0.., char::is_whitespace).void().parse_next(i)
}

fn ws1(i: &mut &str) -> ModalResult<()> {
    take_while(1.., char::is_whitespace).void().parse_next(i)
}

/// A keyword not followed by a name character (so `prx` is not `pr`).
fn keyword<'a>(word: &'static str) -> impl Parser<&'a str, (), ErrMode<ContextError>> {
    move |i: &mut &'a str| {
        Caseless(word).parse_next(i)?;
        peek(opt(one_of(is_name_char)))
            .verify(Option::is_none)
            .void()
            .parse_next(i)
    }
}

/// `ATTRNAME = ALPHA *(nameChar)`, plus RFC 7643's `$ref`.
pub(crate) fn attr_name<'a>(i: &mut &'a str) -> ModalResult<&'a str> {
    (
        opt('$'),
        one_of(|c: char| c.is_ascii_alphabetic()),
        take_while(0.., is_name_char),
    )
        .take()
        .context(expected("attribute name"))
        .parse_next(i)
}

fn name_and_sub(i: &mut &str) -> ModalResult<(String, Option<String>)> {
    let name = attr_name(i)?;
    let sub = opt(('.', cut_err(attr_name)).map(|(_, s)| s)).parse_next(i)?;
    Ok((name.to_owned(), sub.map(str::to_owned)))
}

/// `attrPath = [URI ":"] ATTRNAME *1subAttr`. A URN runs to the last `:` of the token.
pub(crate) fn attr_path(i: &mut &str) -> ModalResult<AttrPath> {
    let checkpoint = *i;
    if opt(Caseless("urn:")).parse_next(i)?.is_none() {
        let (name, sub) = name_and_sub(i)?;
        return Ok(AttrPath {
            urn: None,
            name,
            sub,
        });
    }
    *i = checkpoint;
    let token = take_while(1.., |c: char| {
        !c.is_whitespace() && !matches!(c, '[' | ']' | '(' | ')' | '"')
    })
    .parse_next(i)?;
    let Some((urn, mut rest)) = token.rsplit_once(':') else {
        return cut_err(fail.context(expected("URN-qualified attribute name"))).parse_next(i);
    };
    let parsed = (name_and_sub, winnow::combinator::eof).parse_next(&mut rest);
    match parsed {
        Ok(((name, sub), _)) => Ok(AttrPath {
            urn: Some(urn.to_owned()),
            name,
            sub,
        }),
        Err(_) => {
            cut_err(fail.context(expected("attribute name after the schema URN"))).parse_next(i)
        }
    }
}

fn compare_op(i: &mut &str) -> ModalResult<CompareOp> {
    let start = *i;
    let word = take_while(2, |c: char| c.is_ascii_alphabetic()).parse_next(i)?;
    peek(opt(one_of(is_name_char)))
        .verify(Option::is_none)
        .parse_next(i)?;
    match CompareOp::from_keyword(word) {
        Some(op) => Ok(op),
        None => {
            *i = start;
            fail.parse_next(i)
        }
    }
}

fn json_string(i: &mut &str) -> ModalResult<String> {
    let raw = (
        '"',
        cut_err((
            winnow::combinator::repeat::<_, _, (), _, _>(
                0..,
                alt((
                    ('\\', any).void(),
                    one_of(|c: char| c != '"' && c != '\\').void(),
                )),
            ),
            '"',
        ))
        .context(expected("closing quote")),
    )
        .take()
        .parse_next(i)?;
    match serde_json::from_str::<String>(raw) {
        Ok(s) => Ok(s),
        Err(_) => cut_err(fail.context(expected("valid JSON string escapes"))).parse_next(i),
    }
}

fn json_number(i: &mut &str) -> ModalResult<serde_json::Number> {
    let digits = |i: &mut &str| {
        take_while(1.., |c: char| c.is_ascii_digit())
            .void()
            .parse_next(i)
    };
    let raw = (
        opt('-'),
        digits,
        opt(('.', cut_err(digits))),
        opt((one_of(['e', 'E']), opt(one_of(['+', '-'])), cut_err(digits))),
    )
        .take()
        .parse_next(i)?;
    // std's parsers round-trip exactly; serde_json's fast float path can be one ulp off.
    let integral = !raw.contains(['.', 'e', 'E']);
    let number = match (integral, raw.parse::<i64>(), raw.parse::<u64>()) {
        (true, Ok(n), _) => Some(n.into()),
        (true, _, Ok(n)) => Some(n.into()),
        _ => raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64),
    };
    // JSON forbids leading zeros (`01`, `-01`).
    let unsigned = raw.strip_prefix('-').unwrap_or(raw);
    let leading_zero =
        unsigned.starts_with('0') && unsigned.as_bytes().get(1).is_some_and(u8::is_ascii_digit);
    match number {
        Some(n) if !leading_zero => Ok(n),
        _ => cut_err(fail.context(expected("a JSON number"))).parse_next(i),
    }
}

/// `compValue = false / null / true / number / string`.
pub(crate) fn comp_value(i: &mut &str) -> ModalResult<CompValue> {
    alt((
        json_string.map(CompValue::String),
        keyword("true").value(CompValue::Bool(true)),
        keyword("false").value(CompValue::Bool(false)),
        keyword("null").value(CompValue::Null),
        json_number.map(CompValue::Number),
    ))
    .context(expected(
        "a value: a quoted string, a number, true, false or null",
    ))
    .parse_next(i)
}

/// The grammar, with its nesting limit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grammar {
    pub max_depth: usize,
}

impl Grammar {
    fn deeper(&self, i: &mut &str, depth: usize) -> ModalResult<usize> {
        if depth >= self.max_depth {
            return cut_err(fail.context(StrContext::Label(TOO_DEEP))).parse_next(i);
        }
        Ok(depth + 1)
    }

    /// `FILTER`: an `or` of `and`s of unary expressions.
    pub(crate) fn filter(&self, i: &mut &str, depth: usize, inside: bool) -> ModalResult<Filter> {
        let mut parts = vec![self.conjunction(i, depth, inside)?];
        while opt((ws1, keyword("or"), ws1)).parse_next(i)?.is_some() {
            parts.push(self.conjunction(i, depth, inside)?);
        }
        Ok(one_or(parts, Filter::Or))
    }

    fn conjunction(&self, i: &mut &str, depth: usize, inside: bool) -> ModalResult<Filter> {
        let mut parts = vec![self.unary(i, depth, inside)?];
        loop {
            let checkpoint = *i;
            if opt((ws1, keyword("and"), ws1)).parse_next(i)?.is_none() {
                break;
            }
            match self.unary(i, depth, inside) {
                Ok(f) => parts.push(f),
                Err(ErrMode::Backtrack(_)) => {
                    // `a and or b`: let the error point at the `and`.
                    *i = checkpoint;
                    return cut_err(fail.context(expected("an expression after `and`")))
                        .parse_next(i);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(one_or(parts, Filter::And))
    }

    fn unary(&self, i: &mut &str, depth: usize, inside: bool) -> ModalResult<Filter> {
        let checkpoint = *i;
        if opt((keyword("not"), ws0, '(')).parse_next(i)?.is_some() {
            let inner = self.group_body(i, depth, inside, ')')?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        *i = checkpoint;
        if opt('(').parse_next(i)?.is_some() {
            return self.group_body(i, depth, inside, ')');
        }
        self.attr_exp(i, depth, inside)
    }

    /// After an opening `(` or `[`: the nested filter and its closing character.
    pub(crate) fn group_body(
        &self,
        i: &mut &str,
        depth: usize,
        inside: bool,
        close: char,
    ) -> ModalResult<Filter> {
        let depth = self.deeper(i, depth)?;
        ws0(i)?;
        let inner = cut_err(|i: &mut &str| self.filter(i, depth, inside))
            .context(expected("a filter expression"))
            .parse_next(i)?;
        ws0(i)?;
        cut_err(close)
            .context(StrContext::Expected(StrContextValue::CharLiteral(close)))
            .parse_next(i)?;
        Ok(inner)
    }

    fn attr_exp(&self, i: &mut &str, depth: usize, inside: bool) -> ModalResult<Filter> {
        let path = attr_path(i)?;
        if !inside && opt('[').parse_next(i)?.is_some() {
            let inner = self.group_body(i, depth, true, ']')?;
            if opt('.').parse_next(i)?.is_none() {
                return Ok(Filter::ValuePath(path, Box::new(inner)));
            }
            let sub = cut_err(attr_name).parse_next(i)?;
            let leaf = match operation(i, AttrPath::simple(sub)) {
                Err(ErrMode::Backtrack(e)) => return Err(ErrMode::Cut(e)),
                other => other?,
            };
            let both = Filter::And(vec![inner, leaf]);
            return Ok(Filter::ValuePath(path, Box::new(both)));
        }
        match operation(i, path) {
            Err(ErrMode::Backtrack(e)) => Err(ErrMode::Cut(e)),
            other => other,
        }
    }
}

/// ` pr` or ` op value` after a path.
fn operation(i: &mut &str, path: AttrPath) -> ModalResult<Filter> {
    ws1.context(expected("a space and an operator"))
        .parse_next(i)?;
    if opt(keyword("pr")).parse_next(i)?.is_some() {
        return Ok(Filter::Present(path));
    }
    let op = compare_op
        .context(expected("an operator: eq ne co sw ew gt ge lt le pr"))
        .parse_next(i)?;
    ws1.context(expected("a space and a value")).parse_next(i)?;
    let value = comp_value(i)?;
    Ok(Filter::Compare(path, op, value))
}

fn one_or(mut parts: Vec<Filter>, many: fn(Vec<Filter>) -> Filter) -> Filter {
    if parts.len() == 1 {
        if let Some(only) = parts.pop() {
            return only;
        }
    }
    many(parts)
}
