//! Stytch B2B webhook payloads as delivered by Svix (SPEC §5).
//!
//! Every member field is optional, `""` means unset and unknown fields are kept in `extra`,
//! so a payload survives a round trip through our queue unchanged in meaning.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::lenient::non_empty;

mod member;
mod organization;
mod scim_attributes;
pub use member::*;
pub use scim_attributes::*;

/// Why a webhook body was refused. The message names the offending field so the sender (or
/// the operator reading the 400) can fix it.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("body is not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("body must be a JSON object")]
    NotAnObject,
    #[error("field `{path}`: {message}")]
    Field { path: String, message: String },
    /// A string PostgreSQL cannot store, somewhere in the body ([`crate::limits::check_storable`]).
    #[error("strings may not contain {0}")]
    Unstorable(&'static str),
    /// The same key twice in one object ([`crate::duplicate_keys::check_unique_keys`]).
    #[error("key `{key}` appears twice in one object, at `{path}`")]
    DuplicateKey { path: String, key: String },
}

impl SchemaError {
    fn field(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Field {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The JSON path of the offending field, when there is one.
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::Field { path, .. } | Self::DuplicateKey { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// The webhook envelope. The entity itself sits under a key equal to `object_type`; it stays in
/// `rest` and is decoded on demand by [`Envelope::member`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope {
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub project_id: Option<String>,
    pub event_id: String,
    pub action: String,
    pub object_type: String,
    pub source: String,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    pub timestamp: DateTime<Utc>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub vertical: Option<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl Envelope {
    /// Decodes and validates a webhook body straight from its bytes (no intermediate JSON
    /// tree). Errors name the field that is wrong, in the same words as [`Envelope::from_value`].
    pub fn parse(body: &[u8]) -> Result<Self, SchemaError> {
        let starts_an_object = body
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{');
        if !starts_an_object {
            serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(SchemaError::Json)?;
            return Err(SchemaError::NotAnObject);
        }
        // Almost every body is valid: decode without tracking the path, and only decode again
        // with it to name the field when that fails.
        if let Ok(envelope) = serde_json::from_slice::<Envelope>(body) {
            envelope.validate()?;
            return Ok(envelope);
        }
        let mut decoder = serde_json::Deserializer::from_slice(body);
        let envelope: Envelope = serde_path_to_error::deserialize(&mut decoder).map_err(|e| {
            let path = e.path().to_string();
            let error = e.into_inner();
            if error.is_syntax() || error.is_eof() {
                return SchemaError::Json(error);
            }
            // A field error found before a syntax error further on: the syntax comes first.
            if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                return SchemaError::Json(syntax);
            }
            // The position suffix a byte decoder adds; the path names the field already.
            let message = error.to_string();
            let suffix = format!(" at line {} column {}", error.line(), error.column());
            let message = message.strip_suffix(&suffix).unwrap_or(&message);
            SchemaError::field(path, message)
        })?;
        decoder.end().map_err(SchemaError::Json)?;
        envelope.validate()?;
        Ok(envelope)
    }

    /// Validates an already decoded JSON value.
    pub fn from_value(value: Value) -> Result<Self, SchemaError> {
        if !value.is_object() {
            return Err(SchemaError::NotAnObject);
        }
        let envelope: Envelope = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            SchemaError::field(path, e.into_inner().to_string())
        })?;
        envelope.validate()?;
        Ok(envelope)
    }

    fn validate(&self) -> Result<(), SchemaError> {
        for (name, value) in [
            ("event_id", &self.event_id),
            ("action", &self.action),
            ("object_type", &self.object_type),
            ("source", &self.source),
        ] {
            if value.trim().is_empty() {
                return Err(SchemaError::field(name, "must not be empty"));
            }
        }
        if self.is_member() {
            match self.action() {
                Action::Create | Action::Update => {
                    self.member()?.ok_or_else(|| {
                        SchemaError::field("member", "is required for CREATE and UPDATE")
                    })?;
                }
                Action::Delete => {
                    if self.id.is_none() {
                        return Err(SchemaError::field("id", "is required for a member DELETE"));
                    }
                }
                Action::Other(_) => {}
            }
        }
        Ok(())
    }

    /// `lower(source).lower(object_type).lower(action)`, e.g. `scim.member.create`.
    pub fn event_type(&self) -> String {
        format!(
            "{}.{}.{}",
            self.source.trim().to_ascii_lowercase(),
            self.object_type.trim().to_ascii_lowercase(),
            self.action.trim().to_ascii_lowercase()
        )
    }

    pub fn action(&self) -> Action {
        Action::parse(&self.action)
    }

    pub fn is_member(&self) -> bool {
        self.object_type.eq_ignore_ascii_case("member")
    }

    pub fn is_scim(&self) -> bool {
        self.source.eq_ignore_ascii_case("scim")
    }

    /// The entity body under the key named by `object_type`, if present and not null.
    pub fn entity(&self) -> Option<&Value> {
        self.rest
            .get(&self.object_type.to_ascii_lowercase())
            .filter(|v| !v.is_null())
    }

    /// The member body, typed. `Ok(None)` when the event carries none (DELETE).
    pub fn member(&self) -> Result<Option<Member>, SchemaError> {
        let Some(value) = self.entity().filter(|_| self.is_member()) else {
            return Ok(None);
        };
        if !value.is_object() {
            return Err(SchemaError::field("member", "must be a JSON object"));
        }
        if let Ok(member) = Member::deserialize(value) {
            return Ok(Some(member));
        }
        serde_path_to_error::deserialize(value)
            .map(Some)
            .map_err(|e| {
                let path = format!("member.{}", e.path());
                SchemaError::field(path, e.into_inner().to_string())
            })
    }

    /// The member this event is about: the envelope `id`, else the body's `member_id`.
    pub fn member_id(&self) -> Option<String> {
        self.id
            .clone()
            .or_else(|| self.member().ok().flatten().and_then(|m| m.member_id))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Delete,
    Other(String),
}

impl Action {
    pub fn parse(raw: &str) -> Self {
        match raw.trim().to_ascii_uppercase().as_str() {
            "CREATE" => Self::Create,
            "UPDATE" => Self::Update,
            "DELETE" => Self::Delete,
            other => Self::Other(other.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests;
