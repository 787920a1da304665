//! Stytch B2B webhook payloads as delivered by Svix (SPEC §5).
//!
//! Every member field is optional, `""` means unset and unknown fields are kept in `extra`,
//! so a payload survives a round trip through our queue unchanged in meaning.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::lenient::{flexible_bool, non_empty, null_as_default};

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
            Self::Field { path, .. } => Some(path),
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
    /// Decodes and validates a webhook body. Errors name the field that is wrong.
    pub fn parse(body: &[u8]) -> Result<Self, SchemaError> {
        let value: Value = serde_json::from_slice(body).map_err(SchemaError::Json)?;
        Self::from_value(value)
    }

    /// Validates an already decoded JSON value (the queue carries the envelope as a value).
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

/// A Stytch B2B member.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Member {
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub organization_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub member_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub email_address: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Value>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim_registration: Option<ScimRegistration>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Member {
    /// The SCIM attributes, if the member came through a SCIM connection.
    pub fn scim(&self) -> Option<&ScimAttributes> {
        self.scim_registration
            .as_ref()
            .and_then(|r| r.scim_attributes.as_ref())
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ScimRegistration {
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub connection_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub registration_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim_attributes: Option<ScimAttributes>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// SCIM 2.0 user attributes as Stytch relays them (snake_case).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ScimAttributes {
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "flexible_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub active: Option<bool>,
    /// Full state: `Some([])` means "in no group"; `None` (absent or null) means not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupRef>>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub nick_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub profile_url: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub title: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub preferred_language: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub locale: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub timezone: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub emails: Vec<MultiValue>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub phone_numbers: Vec<MultiValue>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ims: Vec<MultiValue>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub photos: Vec<MultiValue>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub entitlements: Vec<MultiValue>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub roles: Vec<MultiValue>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub x509certificates: Vec<MultiValue>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub addresses: Vec<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<ScimName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise_extension: Option<EnterpriseExtension>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ScimAttributes {
    /// The value of the first phone number of the given type (`work`, `mobile`, `fax`).
    pub fn phone(&self, kind: &str) -> Option<&str> {
        self.phone_numbers
            .iter()
            .find(|p| {
                p.kind
                    .as_deref()
                    .is_some_and(|k| k.eq_ignore_ascii_case(kind))
            })
            .and_then(|p| p.value.as_deref())
    }

    /// Only the first address counts (SPEC R5).
    pub fn first_address(&self) -> Option<&Address> {
        self.addresses.first()
    }

    /// The manager's id at Stytch or the IdP, if sent.
    pub fn manager_value(&self) -> Option<&str> {
        self.enterprise_extension
            .as_ref()
            .and_then(|e| e.manager.as_ref())
            .and_then(|m| m.value.as_deref())
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MultiValue {
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<String>,
    #[serde(
        rename = "type",
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<String>,
    #[serde(
        default,
        deserialize_with = "flexible_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub primary: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct GroupRef {
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub display: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Address {
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub formatted: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub street_address: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub locality: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub region: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub postal_code: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub country: Option<String>,
    #[serde(
        rename = "type",
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<String>,
    #[serde(
        default,
        deserialize_with = "flexible_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub primary: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ScimName {
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub formatted: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub family_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub given_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub middle_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub honorific_prefix: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub honorific_suffix: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EnterpriseExtension {
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub employee_number: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub cost_center: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub division: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub department: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub organization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<ManagerRef>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ManagerRef {
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<String>,
    #[serde(
        rename = "ref",
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub reference: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests;
