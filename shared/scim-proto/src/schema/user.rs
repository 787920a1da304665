//! The core User schema (RFC 7643 §4.1, §8.7.1) and the common attributes every resource has
//! (§3.1: `id`, `externalId`, `meta`, plus `schemas`).

use super::attribute::{AttrType, Attribute, Mutability as M, Returned as R, Uniqueness as U};
use super::Schema;

/// URN of the core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

const fn value_type_primary(types: &'static [&'static str], value: Attribute) -> [Attribute; 4] {
    [
        value,
        Attribute::string("display")
            .describe("A human-readable name, primarily used for display purposes."),
        Attribute::string("type")
            .canonical(types)
            .describe("A label indicating the attribute's function."),
        Attribute::new("primary", AttrType::Boolean)
            .describe("Whether this is the primary value; at most one is true."),
    ]
}

const WORK_HOME_OTHER: &[&str] = &["work", "home", "other"];
const PHONE_TYPES: &[&str] = &["work", "home", "mobile", "fax", "pager", "other"];
const IM_TYPES: &[&str] = &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"];
const PHOTO_TYPES: &[&str] = &["photo", "thumbnail"];

const NAME_SUBS: &[Attribute] = &[
    Attribute::string("formatted").describe("The full name, formatted for display."),
    Attribute::string("familyName")
        .describe("The family name (last name in most Western languages)."),
    Attribute::string("givenName")
        .describe("The given name (first name in most Western languages)."),
    Attribute::string("middleName").describe("The middle name(s)."),
    Attribute::string("honorificPrefix").describe("The honorific prefix(es), e.g. 'Ms.'."),
    Attribute::string("honorificSuffix").describe("The honorific suffix(es), e.g. 'III'."),
];

const EMAIL_SUBS: [Attribute; 4] = value_type_primary(
    WORK_HOME_OTHER,
    Attribute::string("value").describe("Email address."),
);
const PHONE_SUBS: [Attribute; 4] = value_type_primary(
    PHONE_TYPES,
    Attribute::string("value").describe("Phone number."),
);
const IM_SUBS: [Attribute; 4] = value_type_primary(
    IM_TYPES,
    Attribute::string("value").describe("Instant messaging address."),
);
const PHOTO_SUBS: [Attribute; 4] = value_type_primary(
    PHOTO_TYPES,
    Attribute::reference("value", &["external"]).describe("URL of a photo."),
);
const ENTITLEMENT_SUBS: [Attribute; 4] = value_type_primary(
    &[],
    Attribute::string("value").describe("The value of an entitlement."),
);
const ROLE_SUBS: [Attribute; 4] = value_type_primary(
    &[],
    Attribute::string("value").describe("The value of a role."),
);
const CERT_SUBS: [Attribute; 4] = value_type_primary(
    &[],
    Attribute::new("value", AttrType::Binary).describe("A DER-encoded X.509 certificate."),
);

const ADDRESS_SUBS: &[Attribute] = &[
    Attribute::string("formatted").describe("The full mailing address, formatted for display."),
    Attribute::string("streetAddress").describe("The full street address."),
    Attribute::string("locality").describe("The city or locality."),
    Attribute::string("region").describe("The state or region."),
    Attribute::string("postalCode").describe("The zip code or postal code."),
    Attribute::string("country").describe("The country name (ISO 3166-1 alpha-2)."),
    Attribute::string("type")
        .canonical(WORK_HOME_OTHER)
        .describe("A label indicating the address's function."),
    Attribute::new("primary", AttrType::Boolean).describe("Whether this is the primary address."),
];

const GROUP_REF_SUBS: &[Attribute] = &[
    Attribute::string("value")
        .mutability(M::ReadOnly)
        .describe("The identifier of the User's group."),
    Attribute::reference("$ref", &["User", "Group"])
        .mutability(M::ReadOnly)
        .describe("The URI of the Group."),
    Attribute::string("display")
        .mutability(M::ReadOnly)
        .describe("The group's display name."),
    Attribute::string("type")
        .canonical(&["direct", "indirect"])
        .mutability(M::ReadOnly)
        .describe("How the membership was derived."),
];

const USER_ATTRIBUTES: &[Attribute] = &[
    Attribute::string("userName").required().uniqueness(U::Server)
        .describe("Unique identifier for the User, used to authenticate; unique per tenant, compared case-insensitively."),
    Attribute::complex("name", NAME_SUBS).describe("The components of the user's real name."),
    Attribute::string("displayName").describe("The name of the User, suitable for display."),
    Attribute::string("nickName").describe("The casual way to address the user."),
    Attribute::reference("profileUrl", &["external"]).describe("A URI to the User's online profile."),
    Attribute::string("title").describe("The user's title, e.g. 'Vice President'."),
    Attribute::string("userType").describe("The relationship between the organization and the user."),
    Attribute::string("preferredLanguage").describe("The User's preferred written or spoken language."),
    Attribute::string("locale").describe("The User's default location for localizing."),
    Attribute::string("timezone").describe("The User's time zone (IANA)."),
    Attribute::new("active", AttrType::Boolean).describe("The User's administrative status."),
    Attribute::string("password").mutability(M::WriteOnly).returned(R::Never)
        .describe("The User's cleartext password; never returned."),
    Attribute::complex("emails", &EMAIL_SUBS).multi().describe("Email addresses for the user."),
    Attribute::complex("phoneNumbers", &PHONE_SUBS).multi().describe("Phone numbers for the User."),
    Attribute::complex("ims", &IM_SUBS).multi().describe("Instant messaging addresses for the User."),
    Attribute::complex("photos", &PHOTO_SUBS).multi().describe("URLs of photos of the User."),
    Attribute::complex("addresses", ADDRESS_SUBS).multi().describe("Physical mailing addresses for this User."),
    Attribute::complex("groups", GROUP_REF_SUBS).multi().mutability(M::ReadOnly)
        .describe("The groups the user belongs to; read-only, changed through Group resources."),
    Attribute::complex("entitlements", &ENTITLEMENT_SUBS).multi().describe("Entitlements of the User."),
    Attribute::complex("roles", &ROLE_SUBS).multi().describe("Roles of the User."),
    Attribute::complex("x509Certificates", &CERT_SUBS).multi().describe("X.509 certificates of the User."),
];

/// The core User schema.
pub static USER: Schema = Schema {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRIBUTES,
};

const META_SUBS: &[Attribute] = &[
    Attribute::string("resourceType")
        .case_exact()
        .mutability(M::ReadOnly)
        .describe("The resource type."),
    Attribute::new("created", AttrType::DateTime)
        .mutability(M::ReadOnly)
        .describe("When the resource was added."),
    Attribute::new("lastModified", AttrType::DateTime)
        .mutability(M::ReadOnly)
        .describe("When the resource was last changed."),
    Attribute::reference("location", &["uri"])
        .mutability(M::ReadOnly)
        .describe("The URI of the resource."),
    Attribute::string("version")
        .case_exact()
        .mutability(M::ReadOnly)
        .describe("The resource's version (ETag)."),
];

/// Attributes every resource has (RFC 7643 §3.1); not listed in `/Schemas` documents.
pub static COMMON_ATTRIBUTES: &[Attribute] = &[
    Attribute::string("id")
        .case_exact()
        .mutability(M::ReadOnly)
        .returned(R::Always)
        .uniqueness(U::Server)
        .describe("Unique identifier assigned by the service provider."),
    Attribute::string("externalId")
        .case_exact()
        .describe("Identifier assigned by the provisioning client."),
    Attribute::complex("meta", META_SUBS)
        .mutability(M::ReadOnly)
        .returned(R::Always)
        .describe("Resource metadata."),
    Attribute::reference("schemas", &["uri"])
        .multi()
        .required()
        .mutability(M::ReadOnly)
        .returned(R::Always)
        .describe("The schema URNs of the resource."),
];
