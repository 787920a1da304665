//! The Enterprise User extension (RFC 7643 §4.3). Its attributes live under the extension URN
//! in a stored User: `{"urn:...:enterprise:2.0:User": {"department": ..., "manager": {...}}}`.

use super::attribute::{Attribute, Mutability as M};
use super::Schema;

/// URN of the Enterprise User extension.
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

const MANAGER_SUBS: &[Attribute] = &[
    Attribute::string("value")
        .describe("The id of the SCIM resource representing the User's manager."),
    Attribute::reference("$ref", &["User"]).describe("The URI of the manager's User resource."),
    Attribute::string("displayName")
        .mutability(M::ReadOnly)
        .describe("The displayName of the User's manager."),
];

const ENTERPRISE_ATTRIBUTES: &[Attribute] = &[
    Attribute::string("employeeNumber")
        .describe("Numeric or alphanumeric identifier assigned by the organization."),
    Attribute::string("costCenter").describe("Identifies the name of a cost center."),
    Attribute::string("organization").describe("Identifies the name of an organization."),
    Attribute::string("division").describe("Identifies the name of a division."),
    Attribute::string("department").describe("Identifies the name of a department."),
    Attribute::complex("manager", MANAGER_SUBS)
        .describe("The User's manager; `value` is a SCIM id of this service (or an externalId)."),
];

/// The Enterprise User extension schema.
pub static ENTERPRISE_USER: Schema = Schema {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_ATTRIBUTES,
};
