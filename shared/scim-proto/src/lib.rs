//! SCIM 2.0 protocol logic (RFC 7643, RFC 7644) for the SCIM service (SPEC §6, §7).
//!
//! This crate owns what the protocol says, with no I/O: the schemas and discovery documents
//! ([`schema`]), the filter grammar ([`filter`]) and its translation to a parameterised
//! PostgreSQL condition ([`sql`]), the PATCH path grammar ([`path`]), PatchOp requests and
//! their application to a stored resource ([`patch`]), `attributes` / `excludedAttributes`
//! ([`project`]), list answers ([`list`]) and the SCIM error body ([`error`]). It also absorbs
//! the identity providers' dialects (Entra's capitalised ops and `"False"` strings, path-less
//! replaces with dotted or URN keys, manager as a bare id; Okta's member pushes), so the
//! service handles one canonical form.
//!
//! A stored resource is a JSON object with canonical attribute names, extension attributes
//! under their schema URN.

pub mod error;
pub mod filter;
pub mod list;
pub mod patch;
pub mod path;
pub mod project;
pub mod schema;
pub mod sql;

pub use error::{ScimError, ScimType};
pub use list::{ListResponse, Page};
pub use schema::{AttrRef, ResourceType, GROUP_RESOURCE, USER_RESOURCE};
