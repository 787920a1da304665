//! Which dead letters a command applies to.

use std::time::Duration;

use chrono::{DateTime, Utc};
use scimsync_schema::DeadLetterReason;

use super::letter::DeadLetter;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only dead letters with this reason (e.g. unknown_organization, delivery_limit).
    pub reason: Option<DeadLetterReason>,
    /// Only this event type (e.g. scim.member.create).
    pub event_type: Option<String>,
    /// Only events of a company known by any of these names: its Stytch organization id
    /// (member and group webhooks and the workers' follow-ups name it; a member DELETE webhook
    /// carries no body and names none), or its id (the SCIM door's changes and the follow-ups
    /// name that). Empty: every company.
    pub companies: Vec<String>,
    /// Only dead letters that failed longer ago than this.
    pub older_than: Option<Duration>,
}

impl Filter {
    pub fn reason(reason: DeadLetterReason) -> Self {
        Self {
            reason: Some(reason),
            ..Self::default()
        }
    }

    /// Letters of the company known by this name (its organization id or its id).
    pub fn company(name: &str) -> Self {
        Self {
            companies: vec![name.to_owned()],
            ..Self::default()
        }
    }

    /// True when the filter selects every dead letter.
    pub fn is_everything(&self) -> bool {
        self.reason.is_none()
            && self.event_type.is_none()
            && self.companies.is_empty()
            && self.older_than.is_none()
    }

    pub fn matches(&self, letter: &DeadLetter, now: DateTime<Utc>) -> bool {
        let same = |wanted: &Option<String>, have: &Option<String>| match wanted {
            None => true,
            Some(w) => have.as_deref() == Some(w.as_str()),
        };
        let old_enough = match self.older_than {
            None => true,
            // Unknown failure time: not provably old enough, so not selected.
            Some(age) => letter
                .failed_at
                .is_some_and(|at| (now - at).to_std().is_ok_and(|elapsed| elapsed >= age)),
        };
        self.reason.is_none_or(|r| r.as_str() == letter.reason)
            && same(&self.event_type, &letter.event_type)
            && (self.companies.is_empty()
                || self.companies.iter().any(|name| {
                    letter.organization_id.as_deref() == Some(name.as_str())
                        || letter.company_id.as_deref() == Some(name.as_str())
                }))
            && old_enough
    }
}

/// `90s`, `30m`, `2h`, `7d`, `1w`. Parsed by hand: five units do not justify a dependency.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 30m, 2h or 7d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "{text:?}: the unit must be one of s, m, h, d, w (as in 30m, 2h, 7d)"
            ))
        }
    };
    number
        .checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::BasicProperties;

    #[test]
    fn ages_read_like_an_operator_writes_them() {
        assert_eq!(parse_age("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_age("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_age("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_age("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_age("7").is_err());
        assert!(parse_age("d").is_err());
        assert!(parse_age("3 days").unwrap_err().contains("unit"));
    }

    fn letter(reason: &str, org: Option<&str>, failed_at: Option<DateTime<Utc>>) -> DeadLetter {
        let mut l = DeadLetter::parse("q.dlq", &BasicProperties::default(), b"{}");
        l.reason = reason.into();
        l.organization_id = org.map(str::to_owned);
        l.failed_at = failed_at;
        l
    }

    #[test]
    fn every_given_criterion_must_match() {
        let now = Utc::now();
        let hour_ago = now - chrono::Duration::hours(1);
        let l = letter("unknown_organization", Some("org-1"), Some(hour_ago));
        assert!(Filter::default().matches(&l, now));
        assert!(Filter::reason(DeadLetterReason::UnknownOrganization).matches(&l, now));
        assert!(!Filter::reason(DeadLetterReason::Undecodable).matches(&l, now));
        let mut f = Filter::reason(DeadLetterReason::UnknownOrganization);
        f.companies = vec!["org-2".into()];
        assert!(!f.matches(&l, now));
        f.companies = vec!["org-1".into()];
        f.older_than = Some(Duration::from_secs(1800));
        assert!(f.matches(&l, now));
        f.older_than = Some(Duration::from_secs(7200));
        assert!(!f.matches(&l, now));
        let undated = letter("unknown_organization", Some("org-1"), None);
        assert!(!f.matches(&undated, now), "unknown age is not old enough");
    }

    #[test]
    fn a_company_is_found_by_its_organization_or_by_its_id() {
        let now = Utc::now();
        let mut scim = letter("retries_exhausted", None, Some(now));
        scim.company_id = Some("0193-company".into());
        let mut f = Filter::company("0193-company");
        assert!(f.matches(&scim, now));
        f.companies = vec!["org-1".into()];
        assert!(!f.matches(&scim, now));
        assert!(f.matches(&letter("x", Some("org-1"), Some(now)), now));
        // A company with both names: its letters from either door.
        f.companies = vec!["org-1".into(), "0193-company".into()];
        assert!(f.matches(&scim, now));
        assert!(f.matches(&letter("x", Some("org-1"), Some(now)), now));
        assert!(!f.matches(&letter("x", Some("org-2"), Some(now)), now));
    }
}
