use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn runs_with_no_file_and_no_environment() {
    let s = Settings::load_from(Vec::new()).expect("defaults are valid");
    assert_eq!(s.ingest.listen, "127.0.0.1:8080");
    assert_eq!(s.ingest.secrets().len(), 1);
    assert_eq!(s.admin.token(), None);
}

#[test]
fn environment_overrides_nested_keys() {
    let s = Settings::load_from(env(&[
        (
            "SCIMSYNC__INGEST__WEBHOOK_SECRETS",
            "whsec_AAAA, whsec_BBBB",
        ),
        ("SCIMSYNC__AMQP__PREFETCH", "7"),
        ("SCIMSYNC__ADMIN__TOKEN", "s3cret"),
    ]))
    .expect("valid");
    assert_eq!(s.ingest.secrets().len(), 2);
    assert_eq!(s.amqp.prefetch, 7);
    assert_eq!(s.admin.token(), Some("s3cret"));
}

#[test]
fn allowed_hosts_are_bare_names_and_default_to_loopback() {
    let s = Settings::load_from(Vec::new()).expect("defaults are valid");
    assert_eq!(s.admin.allowed_hosts(), ["localhost", "127.0.0.1", "[::1]"]);
    let s = Settings::load_from(env(&[(
        "SCIMSYNC__ADMIN__ALLOWED_HOSTS",
        " Admin-API , admin-api.scimsync.svc ",
    )]))
    .expect("valid");
    assert_eq!(
        s.admin.allowed_hosts(),
        ["admin-api", "admin-api.scimsync.svc"]
    );
    for bad in [
        "",
        " , ",
        "localhost:8081",
        "http://localhost",
        "a@localhost",
        "host/path",
    ] {
        let err =
            Settings::load_from(env(&[("SCIMSYNC__ADMIN__ALLOWED_HOSTS", bad)])).expect_err(bad);
        assert!(
            err.to_string().contains("admin.allowed_hosts"),
            "{bad}: {err}"
        );
    }
}

const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

#[test]
fn named_tokens_come_from_the_list_the_file_and_the_legacy_token() {
    let file = std::env::temp_dir().join(format!("tokens-{}", std::process::id()));
    std::fs::write(
        &file,
        format!("# people\ncarol:viewer:{HASH}  # support\n\n"),
    )
    .expect("write");
    let s = Settings::load_from(env(&[
        ("SCIMSYNC__ADMIN__TOKEN", "legacy"),
        (
            "SCIMSYNC__ADMIN__TOKENS",
            &format!("alice:operator:{HASH}, bob:viewer:sha256:{HASH}"),
        ),
        ("SCIMSYNC__ADMIN__TOKENS_FILE", file.to_str().expect("path")),
    ]))
    .expect("valid");
    // The file is read again each time the tokens are asked for: remove it only after.
    let tokens = s.admin.named_tokens().expect("tokens");
    let _ = std::fs::remove_file(&file);
    let named: Vec<(&str, AdminRole)> = tokens.iter().map(|t| (t.name.as_str(), t.role)).collect();
    assert_eq!(
        named,
        [
            ("admin", AdminRole::Operator),
            ("alice", AdminRole::Operator),
            ("bob", AdminRole::Viewer),
            ("carol", AdminRole::Viewer),
        ]
    );
    assert_eq!(tokens[1].sha256[0], 0x9f);
    assert!(Settings::load_from(Vec::new())
        .expect("defaults")
        .admin
        .named_tokens()
        .expect("none")
        .is_empty());
}

#[test]
fn a_bad_named_token_is_refused_without_printing_it() {
    for (bad, says) in [
        ("alice:operator", "name:role:sha256-hex"),
        (
            &format!("alice:admin:{HASH}") as &str,
            "operator and viewer",
        ),
        ("alice:viewer:abcd", "64 hexadecimal"),
        (&format!("a b:viewer:{HASH}"), "token name"),
        (
            &format!("alice:viewer:{HASH},alice:operator:{HASH}"),
            "unique",
        ),
    ] {
        let err = Settings::load_from(env(&[("SCIMSYNC__ADMIN__TOKENS", bad)]))
            .expect_err(bad)
            .to_string();
        assert!(
            err.contains("admin.tokens") && err.contains(says),
            "{bad}: {err}"
        );
    }
    let err = Settings::load_from(env(&[(
        "SCIMSYNC__ADMIN__TOKENS",
        "s3cret-token-value-that-must-not-show",
    )]))
    .expect_err("no colons")
    .to_string();
    assert!(!err.contains("must-not-show"), "{err}");
    let err = Settings::load_from(env(&[("SCIMSYNC__ADMIN__SECURE_COOKIES", "yes")]))
        .expect_err("bad value")
        .to_string();
    assert!(err.contains("admin.secure_cookies"), "{err}");
}

#[test]
fn known_env_vars_cover_the_defaults() {
    let names = known_env_vars();
    assert!(
        names.contains(&"SCIMSYNC__INGEST__WEBHOOK_SECRETS".to_owned()),
        "{names:?}"
    );
    assert!(names.contains(&"SCIMSYNC__DATABASE__URL".to_owned()));
    assert!(!names.iter().any(|n| n.contains("__AMQP__NOPE")));
}

#[test]
fn invalid_values_name_the_setting() {
    let err = Settings::load_from(env(&[("SCIMSYNC__INGEST__WEBHOOK_SECRETS", "nope")]))
        .expect_err("not a whsec secret");
    assert!(err.to_string().contains("ingest.webhook_secrets"), "{err}");
    let err = Settings::load_from(env(&[("SCIMSYNC__TELEMETRY__LOG_FORMAT", "xml")]))
        .expect_err("bad format");
    assert!(err.to_string().contains("telemetry.log_format"), "{err}");
    for key in ["MAX_IN_FLIGHT", "REQUEST_TIMEOUT_SECS"] {
        let variable = format!("SCIMSYNC__INGEST__{key}");
        let err =
            Settings::load_from(env(&[(variable.as_str(), "0")])).expect_err("zero is refused");
        let setting = format!("ingest.{}", key.to_ascii_lowercase());
        assert!(err.to_string().contains(&setting), "{err}");
    }
}
