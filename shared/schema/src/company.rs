//! What a company registration must hold, checked the same way by the admin API and `scimctl`.

use crate::email::normalise_domain;
use crate::limits::MAX_KEY_BYTES;

/// The longest company name accepted: a name to show, not a document.
pub const MAX_NAME_CHARS: usize = 256;

/// The most allowed email domains a company may list: every member event of the company is
/// checked against the list (R4), and a conglomerate's few hundred domains fit.
pub const MAX_EMAIL_DOMAINS: usize = 1000;

/// A registration, trimmed and normalised: domains lower-cased, without `@`, each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub name: String,
    /// `None` for a company that provisions only through the SCIM door.
    pub stytch_organization_id: Option<String>,
    pub allowed_email_domains: Vec<String>,
}

/// Why a registration was refused, and the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Refused {
    pub field: &'static str,
    pub message: String,
}

/// A name to show (a company's, a career automation's): trimmed, 1 to [`MAX_NAME_CHARS`]
/// characters; `None` otherwise.
pub fn display_name(raw: &str) -> Option<&str> {
    let name = raw.trim();
    (!name.is_empty() && name.chars().count() <= MAX_NAME_CHARS).then_some(name)
}

impl Registration {
    pub fn validate(
        name: &str,
        stytch_organization_id: Option<&str>,
        allowed_email_domains: &[String],
    ) -> Result<Self, Refused> {
        let refuse = |field, message: String| Err(Refused { field, message });
        let Some(name) = display_name(name) else {
            return refuse(
                "name",
                format!("name must hold 1 to {MAX_NAME_CHARS} characters"),
            );
        };
        let org = stytch_organization_id.map(str::trim);
        if org.is_some_and(|org| {
            org.is_empty() || org.len() > MAX_KEY_BYTES || org.contains(char::is_whitespace)
        }) {
            return refuse(
                "stytch_organization_id",
                format!("stytch_organization_id must be a non-empty id without spaces, at most {MAX_KEY_BYTES} bytes"),
            );
        }
        if allowed_email_domains.len() > MAX_EMAIL_DOMAINS {
            return refuse(
                "allowed_email_domains",
                format!("at most {MAX_EMAIL_DOMAINS} email domains may be listed"),
            );
        }
        let mut domains: Vec<String> = Vec::new();
        for raw in allowed_email_domains {
            let Some(domain) = normalise_domain(raw) else {
                return refuse(
                    "allowed_email_domains",
                    format!("{raw:?} is not an email domain such as example.com"),
                );
            };
            if !domains.contains(&domain) {
                domains.push(domain);
            }
        }
        Ok(Self {
            name: name.to_owned(),
            stytch_organization_id: org.map(str::to_owned),
            allowed_email_domains: domains,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Registration, MAX_EMAIL_DOMAINS, MAX_NAME_CHARS};

    #[test]
    fn registrations_are_normalised_and_refusals_name_the_field() {
        let domains = ["@Example.COM".to_owned(), "example.com".to_owned()];
        let ok = Registration::validate(" Acme ", Some(" org-1 "), &domains).expect("valid");
        assert_eq!(ok.name, "Acme");
        assert_eq!(ok.stytch_organization_id.as_deref(), Some("org-1"));
        let scim_only = Registration::validate("Direct", None, &[]).expect("no organisation");
        assert_eq!(scim_only.stytch_organization_id, None);
        assert_eq!(ok.allowed_email_domains, ["example.com"]);
        let refused = |name: &str, org: &str, domains: &[String]| {
            Registration::validate(name, Some(org), domains)
                .err()
                .map(|e| e.field)
        };
        assert_eq!(refused(" ", "org", &[]), Some("name"));
        assert_eq!(
            refused(&"n".repeat(MAX_NAME_CHARS + 1), "org", &[]),
            Some("name")
        );
        assert_eq!(refused(&"é".repeat(MAX_NAME_CHARS), "org", &[]), None);
        assert_eq!(refused("A", "org 1", &[]), Some("stytch_organization_id"));
        assert_eq!(
            refused("A", &"o".repeat(1025), &[]),
            Some("stytch_organization_id")
        );
        assert_eq!(
            refused("A", "org", &["not a domain".to_owned()]),
            Some("allowed_email_domains")
        );
        let many: Vec<String> = (0..=MAX_EMAIL_DOMAINS)
            .map(|i| format!("d{i}.example.com"))
            .collect();
        assert_eq!(
            refused("A", "org", &many[1..]),
            None,
            "{MAX_EMAIL_DOMAINS} domains fit"
        );
        assert_eq!(refused("A", "org", &many), Some("allowed_email_domains"));
    }
}
