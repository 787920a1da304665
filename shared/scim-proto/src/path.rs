//! PATCH paths (RFC 7644 §3.5.2): `PATH = attrPath / valuePath [subAttr]`, e.g. `title`,
//! `name.givenName`, `urn:...:enterprise:2.0:User:manager`, `members[value eq "id"]`,
//! `emails[type eq "work"].value`. A bare extension URN names the whole extension object.
//! Every refusal is 400 `invalidPath`.

use std::fmt;

use winnow::combinator::{eof, opt};
use winnow::prelude::*;

use crate::error::ScimError;
use crate::filter::grammar::{attr_name, attr_path, Grammar};
use crate::filter::{
    describe, resolve_element_filter, AttrPath, Filter, FilterLimits, ResolvedFilter,
};
use crate::schema::{AttrRef, AttrType, Attribute, ResourceType, Schema};

/// A PATCH path as written.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute (with its sub-attribute when there is no filter).
    pub attr: AttrPath,
    /// The value filter in brackets.
    pub filter: Option<Filter>,
    /// The sub-attribute after the brackets.
    pub sub: Option<String>,
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl PatchPath {
    /// Parses a path (syntax only).
    pub fn parse(text: &str, limits: &FilterLimits) -> Result<Self, ScimError> {
        if text.len() > limits.max_len {
            return Err(ScimError::invalid_path(format!(
                "path is {} bytes long; at most {} are accepted",
                text.len(),
                limits.max_len
            )));
        }
        let grammar = Grammar {
            max_depth: limits.max_depth,
        };
        let mut whole = |i: &mut &str| -> ModalResult<PatchPath> {
            let attr = attr_path(i)?;
            let filter = match opt('[').parse_next(i)? {
                Some(_) => Some(grammar.group_body(i, 0, true, ']')?),
                None => None,
            };
            let sub = match filter {
                Some(_) => opt(('.', attr_name))
                    .parse_next(i)?
                    .map(|(_, s)| s.to_owned()),
                None => None,
            };
            eof(i)?;
            Ok(PatchPath { attr, filter, sub })
        };
        whole
            .parse(text.trim())
            .map_err(|e| ScimError::invalid_path(describe("path", text.trim(), &e, limits)))
    }

    /// Resolves the path for `rt`.
    pub fn resolve(&self, rt: &ResourceType) -> Result<Target, ScimError> {
        let attr = &self.attr;
        if let (Some(urn), None, None) = (&attr.urn, &attr.sub, &self.filter) {
            if let Some(schema) = rt.schema_by_urn(&format!("{urn}:{}", attr.name)) {
                if !std::ptr::eq(schema, rt.schema) {
                    return Ok(Target::Extension(schema));
                }
            }
        }
        let found = rt
            .resolve(attr.urn.as_deref(), &attr.name, attr.sub.as_deref())
            .map_err(|e| ScimError::invalid_path(e.to_string()))?;
        let Some(filter) = &self.filter else {
            return Ok(Target::Attr(found));
        };
        if found.sub.is_some() || found.attr.kind != AttrType::Complex || !found.attr.multi_valued {
            return Err(ScimError::invalid_path(format!(
                "`{}` is not a multi-valued complex attribute, so it takes no [filter]",
                self.attr
            )));
        }
        let resolved =
            resolve_element_filter(filter, rt, found).map_err(ScimError::invalid_path)?;
        let sub = match &self.sub {
            None => None,
            Some(name) => Some(found.attr.sub(name).ok_or_else(|| {
                ScimError::invalid_path(format!(
                    "`{}` has no sub-attribute `{name}`",
                    found.attr.name
                ))
            })?),
        };
        Ok(Target::Filtered {
            attr: found,
            filter: resolved,
            sub,
        })
    }
}

/// What a resolved PATCH path points at.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A whole extension object (`urn:...:enterprise:2.0:User`).
    Extension(&'static Schema),
    /// An attribute, or a sub-attribute of a complex one (of every element, if multi-valued).
    Attr(AttrRef),
    /// The elements of a multi-valued complex attribute that match `filter`, or their `sub`.
    Filtered {
        /// The multi-valued complex attribute.
        attr: AttrRef,
        /// Which elements.
        filter: ResolvedFilter,
        /// Which sub-attribute of them, if not the whole element.
        sub: Option<&'static Attribute>,
    },
}

/// Parses and resolves a PATCH path for `rt`.
pub fn parse_path(
    text: &str,
    rt: &ResourceType,
    limits: &FilterLimits,
) -> Result<Target, ScimError> {
    PatchPath::parse(text, limits)?.resolve(rt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ENTERPRISE_USER_SCHEMA, GROUP_RESOURCE, USER_RESOURCE};
    use crate::ScimType;

    fn user(text: &str) -> Result<Target, ScimError> {
        parse_path(text, &USER_RESOURCE, &FilterLimits::default())
    }

    #[test]
    fn plain_dotted_and_urn_paths_resolve_to_attributes() {
        let Ok(Target::Attr(a)) = user("name.GivenName") else {
            panic!()
        };
        assert_eq!(a.path(), "name.givenName");
        let Ok(Target::Attr(m)) =
            user("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
        else {
            panic!()
        };
        assert_eq!(m.container(), Some(ENTERPRISE_USER_SCHEMA));
        let Ok(Target::Extension(s)) = user(ENTERPRISE_USER_SCHEMA) else {
            panic!()
        };
        assert_eq!(s.id, ENTERPRISE_USER_SCHEMA);
    }

    #[test]
    fn value_paths_with_and_without_a_sub_attribute() {
        let Ok(Target::Filtered { attr, sub, .. }) = user(r#"emails[type eq "work"].value"#) else {
            panic!()
        };
        assert_eq!(attr.attr.name, "emails");
        assert_eq!(sub.map(|s| s.name), Some("value"));
        let Ok(Target::Filtered { sub, .. }) = user(r#"addresses[type eq "work"].locality"#) else {
            panic!()
        };
        assert_eq!(sub.map(|s| s.name), Some("locality"));
        let t = parse_path(
            r#"members[value eq "2819c223"]"#,
            &GROUP_RESOURCE,
            &FilterLimits::default(),
        );
        assert!(matches!(t, Ok(Target::Filtered { sub: None, .. })));
    }

    #[test]
    fn printing_a_path_parses_back_to_it() {
        let limits = FilterLimits::default();
        for text in [
            r#"emails[type eq "work" and primary eq true].value"#,
            "name.givenName",
        ] {
            let p = PatchPath::parse(text, &limits).unwrap();
            assert_eq!(PatchPath::parse(&p.to_string(), &limits).unwrap(), p);
        }
    }

    #[test]
    fn bad_paths_are_invalid_path() {
        for text in [
            "",
            "nope",
            "name.nope",
            "name[givenName eq \"x\"]",
            "emails[type eq \"work\"].nope",
            "emails[type eq \"work\"",
            "emails[nope eq \"work\"]",
            "emails[type eq \"work\"] trailing",
            "title.x.y",
            "urn:example:Other:title",
        ] {
            let e = user(text).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{text}: {e}");
        }
    }
}
