//! PATCH (RFC 7644 §3.5.2): reading a PatchOp request in the dialects Entra and Okta send
//! (SPEC §6) and applying it to a stored resource according to the schema, reporting what
//! changed so the caller bumps the version and emits a change only on a real change.
//!
//! ```
//! use scimsync_scim_proto::filter::FilterLimits;
//! use scimsync_scim_proto::patch::PatchRequest;
//! use scimsync_scim_proto::GROUP_RESOURCE;
//! use serde_json::json;
//!
//! let body = json!({
//!     "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
//!     "Operations": [{"op": "Remove", "path": "members", "value": [{"value": "u1"}]}]
//! });
//! let stored = json!({"displayName": "Eng", "members": [{"value": "u1"}, {"value": "u2"}]});
//! let request = PatchRequest::from_json(&body, &FilterLimits::default())?;
//! let patched = request.apply(&GROUP_RESOURCE, &stored)?;
//! assert_eq!(patched.resource["members"], json!([{"value": "u2"}]));
//! assert_eq!(patched.members.removed, vec!["u1".to_owned()]);
//! # Ok::<(), scimsync_scim_proto::ScimError>(())
//! ```

mod apply;
mod coerce;
mod multi;
mod request;
mod store;

pub use apply::{MemberChanges, Patched};
pub use request::{OpKind, PatchOperation, PatchRequest, PATCH_OP_SCHEMA};

#[cfg(test)]
mod tests;
