//! A stored resource as the client reads it: `id`, `meta` (resourceType, created, lastModified,
//! version, location), a group's `members` and a user's `groups` (each held in another table),
//! then `attributes` / `excludedAttributes`. Single resources carry their version as `ETag`,
//! and a created one its `Location`.

use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use chrono::SecondsFormat;
use scimsync_scim_proto::project::project;
use scimsync_scim_proto::ResourceType;
use serde_json::{json, Value};

use crate::conditional::{etag, set_etag};
use crate::discovery::scim_json;
use crate::store::groups::MemberRef;
use crate::store::users::GroupRef;
use crate::store::Row;

/// `attributes` and `excludedAttributes`, as asked.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub attributes: Option<String>,
    pub excluded: Option<String>,
}

impl Projection {
    /// Whether the answer shows `attribute`: if not, it need not be read.
    pub fn shows(&self, rt: &ResourceType, attribute: &str) -> bool {
        let probe = json!({ attribute: [{"value": "x"}] });
        project(
            &probe,
            rt,
            self.attributes.as_deref(),
            self.excluded.as_deref(),
        )
        .get(attribute)
        .is_some()
    }

    pub fn apply(&self, rt: &ResourceType, resource: &Value) -> Value {
        project(
            resource,
            rt,
            self.attributes.as_deref(),
            self.excluded.as_deref(),
        )
    }
}

/// Where a resource lives: `<base>/Users/<id>`.
pub fn location(base: &str, rt: &ResourceType, id: &str) -> String {
    format!("{base}{}/{id}", rt.endpoint)
}

/// The whole resource (before projection).
fn resource(base: &str, rt: &ResourceType, row: &Row) -> Value {
    let mut out = row.resource.clone();
    let id = row.id.to_string();
    if let Value::Object(map) = &mut out {
        map.insert("id".into(), id.clone().into());
        map.insert(
            "meta".into(),
            json!({
                "resourceType": rt.name,
                "created": row.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
                "lastModified": row.last_modified.to_rfc3339_opts(SecondsFormat::Micros, true),
                "version": etag(row.version),
                "location": location(base, rt, &id),
            }),
        );
    }
    out
}

/// A User; `groups` when they were read (and there are some).
pub fn user(base: &str, rt: &ResourceType, row: &Row, groups: Option<&[GroupRef]>) -> Value {
    let mut out = resource(base, rt, row);
    if let (Some(groups), Value::Object(map)) = (groups.filter(|g| !g.is_empty()), &mut out) {
        let groups: Vec<Value> = groups
            .iter()
            .map(|g| {
                json!({
                    "value": g.group_id.to_string(),
                    "display": g.display_name,
                    "$ref": format!("{base}/Groups/{}", g.group_id),
                    "type": "direct",
                })
            })
            .collect();
        map.insert("groups".into(), groups.into());
    }
    out
}

/// A Group; `members` when they were read (and there are some).
pub fn group(base: &str, rt: &ResourceType, row: &Row, members: Option<&[MemberRef]>) -> Value {
    let mut out = resource(base, rt, row);
    if let (Some(members), Value::Object(map)) = (members.filter(|m| !m.is_empty()), &mut out) {
        let members: Vec<Value> = members
            .iter()
            .map(|m| {
                json!({
                    "value": m.user_id.to_string(),
                    "display": m.display,
                    "$ref": format!("{base}/Users/{}", m.user_id),
                    "type": "User",
                })
            })
            .collect();
        map.insert("members".into(), members.into());
    }
    out
}

/// A single-resource answer: the body, with its version as `ETag`.
pub fn single(status: StatusCode, body: &Value, version: i64) -> Response {
    let mut response = scim_json(status, body);
    set_etag(&mut response, version);
    response
}

/// 201 for a resource just created, with its `Location`.
pub fn created(body: &Value, version: i64, location: &str) -> Response {
    let mut response = single(StatusCode::CREATED, body, version);
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// 204 for a write answered without a body, with the version it left as `ETag`.
pub fn no_content(version: Option<i64>) -> Response {
    let mut response = axum::response::IntoResponse::into_response(StatusCode::NO_CONTENT);
    if let Some(version) = version {
        set_etag(&mut response, version);
    }
    response
}
