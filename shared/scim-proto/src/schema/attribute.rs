//! An attribute definition (RFC 7643 §7) and its characteristics, built with `const fn`s so the
//! core schemas are plain statics.

use serde_json::{json, Value};

/// The data type of an attribute (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    /// A Unicode string.
    String,
    /// `true` or `false`.
    Boolean,
    /// A real number.
    Decimal,
    /// A whole number.
    Integer,
    /// An xsd:dateTime string (RFC 3339 in practice).
    DateTime,
    /// A URI string.
    Reference,
    /// A base64 string.
    Binary,
    /// An object of sub-attributes.
    Complex,
}

impl AttrType {
    /// The schema document spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Decimal => "decimal",
            Self::Integer => "integer",
            Self::DateTime => "dateTime",
            Self::Reference => "reference",
            Self::Binary => "binary",
            Self::Complex => "complex",
        }
    }

    /// Whether values are JSON strings compared as text (string, reference, binary).
    pub const fn is_textual(self) -> bool {
        matches!(self, Self::String | Self::Reference | Self::Binary)
    }
}

/// When an attribute may be changed (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// Set by the service provider only.
    ReadOnly,
    /// Freely changed.
    ReadWrite,
    /// Set once, never changed afterwards.
    Immutable,
    /// Written, never returned.
    WriteOnly,
}

impl Mutability {
    /// The schema document spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "readOnly",
            Self::ReadWrite => "readWrite",
            Self::Immutable => "immutable",
            Self::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute is returned (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// Always, whatever `attributes` / `excludedAttributes` say.
    Always,
    /// Never (e.g. `password`).
    Never,
    /// Unless excluded.
    Default,
    /// Only when named in `attributes`.
    Request,
}

impl Returned {
    /// The schema document spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Never => "never",
            Self::Default => "default",
            Self::Request => "request",
        }
    }
}

/// How unique a value must be (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    /// No constraint.
    None,
    /// Unique within the service provider (for us: within a company).
    Server,
    /// Globally unique.
    Global,
}

impl Uniqueness {
    /// The schema document spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Server => "server",
            Self::Global => "global",
        }
    }
}

/// One attribute of a schema, or a sub-attribute of a complex attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute {
    /// Canonical name, e.g. `userName`.
    pub name: &'static str,
    /// Data type.
    pub kind: AttrType,
    /// Whether the value is an array.
    pub multi_valued: bool,
    /// Human-readable description.
    pub description: &'static str,
    /// Whether a resource must have it.
    pub required: bool,
    /// Whether string comparisons are case-sensitive.
    pub case_exact: bool,
    /// When it may change.
    pub mutability: Mutability,
    /// When it is returned.
    pub returned: Returned,
    /// How unique values must be.
    pub uniqueness: Uniqueness,
    /// Sub-attributes of a complex attribute.
    pub sub_attributes: &'static [Attribute],
    /// Suggested values (`type` of emails, ...); not enforced.
    pub canonical_values: &'static [&'static str],
    /// For references: the resource types or `external` / `uri`.
    pub reference_types: &'static [&'static str],
}

impl Attribute {
    /// A single-valued, optional, case-insensitive, readWrite attribute returned by default.
    pub const fn new(name: &'static str, kind: AttrType) -> Self {
        Self {
            name,
            kind,
            multi_valued: false,
            description: "",
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            sub_attributes: &[],
            canonical_values: &[],
            reference_types: &[],
        }
    }

    /// A string attribute.
    pub const fn string(name: &'static str) -> Self {
        Self::new(name, AttrType::String)
    }

    /// A complex attribute with these sub-attributes.
    pub const fn complex(name: &'static str, subs: &'static [Attribute]) -> Self {
        let mut a = Self::new(name, AttrType::Complex);
        a.sub_attributes = subs;
        a
    }

    /// A reference attribute to these types.
    pub const fn reference(name: &'static str, types: &'static [&'static str]) -> Self {
        let mut a = Self::new(name, AttrType::Reference);
        a.reference_types = types;
        a.case_exact = true;
        a
    }

    /// Makes it multi-valued.
    pub const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }

    /// Sets the description.
    pub const fn describe(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    /// Makes it required.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Makes string comparisons case-sensitive.
    pub const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }

    /// Sets the mutability.
    pub const fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }

    /// Sets when it is returned.
    pub const fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }

    /// Sets the uniqueness.
    pub const fn uniqueness(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }

    /// Sets the canonical values.
    pub const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }

    /// The sub-attribute called `name`, compared case-insensitively.
    pub fn sub(&self, name: &str) -> Option<&'static Attribute> {
        self.sub_attributes
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// The attribute as it appears in a `/Schemas` document.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "type": self.kind.as_str(),
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability.as_str(),
            "returned": self.returned.as_str(),
            "uniqueness": self.uniqueness.as_str(),
        });
        if let Some(map) = v.as_object_mut() {
            if !self.sub_attributes.is_empty() {
                let subs: Vec<Value> = self.sub_attributes.iter().map(Self::to_json).collect();
                map.insert("subAttributes".to_owned(), subs.into());
            }
            if !self.canonical_values.is_empty() {
                map.insert("canonicalValues".to_owned(), self.canonical_values.into());
            }
            if !self.reference_types.is_empty() {
                map.insert("referenceTypes".to_owned(), self.reference_types.into());
            }
        }
        v
    }
}
