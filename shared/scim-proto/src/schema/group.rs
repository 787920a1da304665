//! The core Group schema (RFC 7643 §4.2, §8.7.1).

use super::attribute::{Attribute, Mutability as M, Uniqueness as U};
use super::Schema;

/// URN of the core Group schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

const MEMBER_SUBS: &[Attribute] = &[
    Attribute::string("value")
        .case_exact()
        .mutability(M::Immutable)
        .describe("Identifier of the member of this Group."),
    Attribute::reference("$ref", &["User", "Group"])
        .mutability(M::Immutable)
        .describe("The URI of the member resource."),
    Attribute::string("type")
        .canonical(&["User", "Group"])
        .mutability(M::Immutable)
        .describe("The type of the member resource."),
    // Not in RFC 7643's Group schema, but Okta sends it with every member; kept read-only so a
    // member is identified by `value` alone.
    Attribute::string("display")
        .mutability(M::ReadOnly)
        .describe("The member's display name."),
];

const GROUP_ATTRIBUTES: &[Attribute] = &[
    Attribute::string("displayName")
        .required()
        .uniqueness(U::None)
        .describe("A human-readable name for the Group."),
    Attribute::complex("members", MEMBER_SUBS)
        .multi()
        .describe("A list of members of the Group."),
];

/// The core Group schema.
pub static GROUP: Schema = Schema {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRIBUTES,
};
