//! Which dead letters a command applies to.

use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use scimsync_schema::DeadLetterReason;

use super::letter::DeadLetter;

#[derive(Debug, Clone, Default, Args)]
pub struct Filter {
    /// Only dead letters with this reason (e.g. unknown_organization, delivery_limit); any
    /// other word is refused with the list of reasons.
    #[arg(long)]
    pub reason: Option<DeadLetterReason>,
    /// Only this event type (e.g. scim.member.create).
    #[arg(long = "event-type")]
    pub event_type: Option<String>,
    /// Only events of this company: its Stytch organization id (member and group webhooks and
    /// the workers' follow-ups name it; a member DELETE webhook carries no body and names
    /// none), or its id (the SCIM door's changes and the follow-ups name that).
    #[arg(long, alias = "organization")]
    pub company: Option<String>,
    /// Only dead letters that failed longer ago than this (e.g. 30m, 2h, 7d).
    #[arg(long = "older-than", value_parser = parse_age)]
    pub older_than: Option<Duration>,
}

impl Filter {
    pub fn reason(reason: DeadLetterReason) -> Self {
        Self {
            reason: Some(reason),
            ..Self::default()
        }
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
            && (same(&self.company, &letter.organization_id)
                || same(&self.company, &letter.company_id))
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

    /// A misspelt reason would select nothing, and a purge or replay "of nothing" would hide
    /// the mistake: it is refused, with the reasons there are.
    #[test]
    fn a_reason_no_worker_gives_is_refused_naming_the_reasons() {
        use clap::Parser;
        #[derive(Debug, Parser)]
        struct Cli {
            #[command(flatten)]
            filter: Filter,
        }
        let error = Cli::try_parse_from(["dlq", "--reason", "unknown_organisation"])
            .expect_err("not a reason");
        let shown = error.to_string();
        assert!(shown.contains("unknown_organization"), "{shown}");
        assert!(shown.contains("delivery_limit"), "{shown}");
        let cli = Cli::try_parse_from(["dlq", "--reason", "delivery_limit"]).expect("a reason");
        assert_eq!(cli.filter.reason, Some(DeadLetterReason::DeliveryLimit));
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
        f.company = Some("org-2".into());
        assert!(!f.matches(&l, now));
        f.company = Some("org-1".into());
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
        let mut f = Filter {
            company: Some("0193-company".into()),
            ..Filter::default()
        };
        assert!(f.matches(&scim, now));
        f.company = Some("org-1".into());
        assert!(!f.matches(&scim, now));
        assert!(f.matches(&letter("x", Some("org-1"), Some(now)), now));
    }
}
