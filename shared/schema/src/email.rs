//! Email domain rules shared by the admin API, the CLI and the workers (R4).

/// Normalises an allowed-domain entry (`@Example.COM` → `example.com`); `None` if it is not a
/// domain.
pub fn normalise_domain(raw: &str) -> Option<String> {
    let domain = raw.trim().trim_start_matches('@').to_ascii_lowercase();
    let valid = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !domain.contains(char::is_whitespace);
    valid.then_some(domain)
}

/// True when no domain is required, or the email's domain is one of `allowed`.
pub fn domain_allowed(email: &str, allowed: &[String]) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let domain = email
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default();
    allowed
        .iter()
        .any(|a| normalise_domain(a).is_some_and(|a| a == domain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalised_and_checked() {
        assert_eq!(
            normalise_domain(" @Example.COM ").as_deref(),
            Some("example.com")
        );
        assert_eq!(normalise_domain("localhost"), None);
        assert_eq!(normalise_domain("a b.com"), None);
        let allowed = vec!["example.com".to_owned()];
        assert!(domain_allowed("Ada@EXAMPLE.com", &allowed));
        assert!(!domain_allowed("ada@example.org", &allowed));
        assert!(!domain_allowed("ada@sub.example.com", &allowed));
        assert!(domain_allowed("anyone@anywhere.io", &[]));
    }
}
