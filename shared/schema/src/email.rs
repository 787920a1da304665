//! Email domain rules shared by the admin API, the CLI and the workers (R4).

/// Normalises an allowed-domain entry (`@Example.COM` → `example.com`); `None` if it is not a
/// domain.
pub fn normalise_domain(raw: &str) -> Option<String> {
    let domain = raw.trim().trim_start_matches('@').to_ascii_lowercase();
    // DNS: at most 253 characters, in labels of 1 to 63.
    let valid = domain.contains('.')
        && domain.len() <= 253
        && domain
            .split('.')
            .all(|label| (1..=63).contains(&label.len()))
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
        assert_eq!(normalise_domain("a..com"), None);
        assert_eq!(normalise_domain(".a.com"), None);
        assert_eq!(normalise_domain("a.com."), None);
        let label = "x".repeat(63);
        assert!(normalise_domain(&format!("{label}.com")).is_some());
        assert_eq!(normalise_domain(&format!("x{label}.com")), None);
        let long = [label.as_str(); 4].join(".");
        assert_eq!(long.len(), 255);
        assert_eq!(normalise_domain(&long), None);
        let allowed = vec!["example.com".to_owned()];
        assert!(domain_allowed("Ada@EXAMPLE.com", &allowed));
        assert!(!domain_allowed("ada@example.org", &allowed));
        assert!(!domain_allowed("ada@sub.example.com", &allowed));
        assert!(domain_allowed("anyone@anywhere.io", &[]));
    }
}
