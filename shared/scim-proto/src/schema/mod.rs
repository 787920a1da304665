//! The schemas this service speaks (core User, Enterprise User, Group), the resource types
//! that combine them, and attribute lookup by name.
//!
//! Lookup is case-insensitive (RFC 7643 §2.1) and accepts `name`, `name.sub`, and both with a
//! schema URN in front (`urn:...:core:2.0:User:name.givenName`,
//! `urn:...:enterprise:2.0:User:manager`). An extension attribute is also found without its
//! URN, since no extension name shadows a core one.

mod attribute;
mod documents;
mod enterprise;
mod group;
mod user;

pub use attribute::{AttrType, Attribute, Mutability, Returned, Uniqueness};
pub use documents::{resource_types_json, schemas_json, ServiceProviderConfig};
pub use enterprise::{ENTERPRISE_USER, ENTERPRISE_USER_SCHEMA};
pub use group::{GROUP, GROUP_SCHEMA};
pub use user::{COMMON_ATTRIBUTES, USER, USER_SCHEMA};

/// A schema: its URN and attributes.
#[derive(Debug, PartialEq, Eq)]
pub struct Schema {
    /// The URN, e.g. `urn:ietf:params:scim:schemas:core:2.0:User`.
    pub id: &'static str,
    /// Short name.
    pub name: &'static str,
    /// Human-readable description.
    pub description: &'static str,
    /// Top-level attributes (the common ones excluded).
    pub attributes: &'static [Attribute],
}

impl Schema {
    /// The top-level attribute called `name`, compared case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// A resource type: a core schema plus its extensions, served at an endpoint.
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// The resource type id and name (`User`, `Group`); also `meta.resourceType`.
    pub name: &'static str,
    /// The endpoint under the base URL, e.g. `/Users`.
    pub endpoint: &'static str,
    /// Human-readable description.
    pub description: &'static str,
    /// The core schema.
    pub schema: &'static Schema,
    /// Extension schemas (none of them required).
    pub extensions: &'static [&'static Schema],
}

/// Users, with the Enterprise User extension.
pub static USER_RESOURCE: ResourceType = ResourceType {
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER,
    extensions: &[&ENTERPRISE_USER],
};

/// Groups.
pub static GROUP_RESOURCE: ResourceType = ResourceType {
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: &GROUP,
    extensions: &[],
};

/// Why an attribute name did not resolve; callers turn it into `invalidFilter` or
/// `invalidPath`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The URN prefix is not one of the resource type's schemas.
    #[error("unknown schema `{0}`")]
    UnknownSchema(String),
    /// No attribute has this name.
    #[error("unknown attribute `{0}`")]
    UnknownAttribute(String),
    /// The attribute has no such sub-attribute.
    #[error("`{attr}` has no sub-attribute `{sub}`")]
    UnknownSubAttribute {
        /// The parent attribute.
        attr: String,
        /// The sub-attribute asked for.
        sub: String,
    },
}

/// A resolved attribute: which schema holds it, the attribute and perhaps a sub-attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttrRef {
    /// The schema that defines it (the core schema for common attributes).
    pub schema: &'static Schema,
    /// Whether it lives under its extension URN in a stored resource.
    pub extension: bool,
    /// The top-level attribute.
    pub attr: &'static Attribute,
    /// The sub-attribute, if the path names one.
    pub sub: Option<&'static Attribute>,
}

impl AttrRef {
    /// The attribute whose value the path names (the sub-attribute if there is one).
    pub fn leaf(&self) -> &'static Attribute {
        self.sub.unwrap_or(self.attr)
    }

    /// The extension URN under which the attribute is stored, if it is an extension's.
    pub fn container(&self) -> Option<&'static str> {
        self.extension.then_some(self.schema.id)
    }

    /// The same attribute with `sub` as sub-attribute.
    pub fn with_sub(self, sub: &'static Attribute) -> Self {
        Self {
            sub: Some(sub),
            ..self
        }
    }

    /// The canonical path, e.g. `name.givenName` or
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`.
    pub fn path(&self) -> String {
        let mut out = String::new();
        if let Some(urn) = self.container() {
            out.push_str(urn);
            out.push(':');
        }
        out.push_str(self.attr.name);
        if let Some(sub) = self.sub {
            out.push('.');
            out.push_str(sub.name);
        }
        out
    }
}

/// Splits `[urn:...:]name[.sub]` into its parts; `None` if there are more dots.
pub fn split_path(path: &str) -> Option<(Option<&str>, &str, Option<&str>)> {
    let (urn, rest) = if starts_with_ignore_case(path, "urn:") {
        let (urn, rest) = path.rsplit_once(':')?;
        (Some(urn), rest)
    } else {
        (None, path)
    };
    let mut parts = rest.split('.');
    let name = parts.next()?;
    let sub = parts.next();
    if parts.next().is_some() || name.is_empty() || sub == Some("") {
        return None;
    }
    Some((urn, name, sub))
}

pub(crate) fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

impl ResourceType {
    /// The core schema and then the extensions.
    pub fn schemas(&self) -> impl Iterator<Item = &'static Schema> + '_ {
        std::iter::once(self.schema).chain(self.extensions.iter().copied())
    }

    /// The schema (core or extension) with this URN, compared case-insensitively.
    pub fn schema_by_urn(&self, urn: &str) -> Option<&'static Schema> {
        self.schemas().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Resolves a path string (`userName`, `name.givenName`, `urn:...:User:manager.value`).
    pub fn attribute(&self, path: &str) -> Result<AttrRef, LookupError> {
        let (urn, name, sub) =
            split_path(path).ok_or_else(|| LookupError::UnknownAttribute(path.to_owned()))?;
        self.resolve(urn, name, sub)
    }

    /// Resolves the parts of a path.
    pub fn resolve(
        &self,
        urn: Option<&str>,
        name: &str,
        sub: Option<&str>,
    ) -> Result<AttrRef, LookupError> {
        let top = match urn {
            Some(urn) => {
                let schema = self
                    .schema_by_urn(urn)
                    .ok_or_else(|| LookupError::UnknownSchema(urn.to_owned()))?;
                self.top_level(name, Some(schema))
            }
            None => self.top_level(name, None),
        }
        .ok_or_else(|| LookupError::UnknownAttribute(display_name(urn, name)))?;
        match sub {
            None => Ok(top),
            Some(sub) => top.attr.sub(sub).map(|s| top.with_sub(s)).ok_or_else(|| {
                LookupError::UnknownSubAttribute {
                    attr: top.attr.name.to_owned(),
                    sub: sub.to_owned(),
                }
            }),
        }
    }

    fn top_level(&self, name: &str, only: Option<&'static Schema>) -> Option<AttrRef> {
        let core = only.is_none_or(|s| std::ptr::eq(s, self.schema));
        if core {
            let common = COMMON_ATTRIBUTES
                .iter()
                .find(|a| a.name.eq_ignore_ascii_case(name));
            if let Some(attr) = self.schema.attribute(name).or(common) {
                return Some(AttrRef {
                    schema: self.schema,
                    extension: false,
                    attr,
                    sub: None,
                });
            }
        }
        self.extensions
            .iter()
            .filter(|s| only.is_none_or(|o| std::ptr::eq(o, **s)))
            .find_map(|schema| {
                schema.attribute(name).map(|attr| AttrRef {
                    schema,
                    extension: true,
                    attr,
                    sub: None,
                })
            })
    }
}

fn display_name(urn: Option<&str>, name: &str) -> String {
    match urn {
        Some(urn) => format!("{urn}:{name}"),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests;
