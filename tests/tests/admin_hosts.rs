//! DNS rebinding: a page in an operator's browser whose name an attacker points at 127.0.0.1
//! may call the admin API as its own origin, but every such request names the attacker's host.
//! The API answers only the host names it is configured with (loopback by default); health and
//! metrics, which probes and scrapers ask by pod address, answer any.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_tests::app::Services;
use scimsync_tests::raw::{self, RawResponse};
use scimsync_tests::TestApp;

async fn ask(app: &TestApp, target: &str, host: &str) -> RawResponse {
    raw::exchange(&app.admin_url, &raw::get(target, host)).await
}

fn port(app: &TestApp) -> &str {
    app.admin_url.rsplit(':').next().expect("port")
}

#[tokio::test]
async fn without_configuration_only_loopback_names_are_answered() {
    let app = TestApp::spawn_with(Services::ADMIN_ONLY, |_| {}).await;
    let port = port(&app);
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "LOCALHOST".to_owned(),
        "127.0.0.1".to_owned(),
    ] {
        let got = ask(&app, "/api/v1/companies", &host).await;
        assert_eq!(got.status, 200, "{host}: {got:?}");
    }
    for host in [
        format!("rebound.example:{port}"),
        "localhost.rebound.example".to_owned(),
        format!("127.0.0.2:{port}"),
        "evil@localhost".to_owned(),
    ] {
        for target in ["/api/v1/companies", "/openapi.json", "/api/v1/nothing"] {
            let got = ask(&app, target, &host).await;
            assert_eq!(
                (got.status, got.body["error"].as_str()),
                (421, Some("host_not_allowed")),
                "{host} {target}: {got:?}"
            );
            assert_eq!(got.header("content-type"), Some("application/json"));
        }
    }
    // A request that names no host at all (HTTP/1.0) is not one of the configured names either.
    let got = raw::exchange(&app.admin_url, b"GET /api/v1/companies HTTP/1.0\r\n\r\n").await;
    assert_eq!(
        (got.status, got.body["error"].as_str()),
        (421, Some("host_not_allowed"))
    );
    // Probes and scrapers ask by the pod's address.
    for target in ["/healthz", "/metrics"] {
        let got = ask(&app, target, "10.1.2.3:8081").await;
        assert_eq!(got.status, 200, "{target}: {got:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn configured_names_replace_the_default_and_a_token_does_not_widen_them() {
    let app = TestApp::spawn_with(Services::ADMIN_ONLY, |s| {
        s.admin.allowed_hosts = "admin-api, Admin.Example.com".to_owned();
        s.admin.token = "s3cret-token".to_owned().into();
    })
    .await;
    let request = |host: &str| {
        format!(
            "GET /api/v1/companies HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer s3cret-token\r\nConnection: close\r\n\r\n"
        )
    };
    for (host, status) in [
        ("admin-api", 200),
        ("admin-api:80", 200),
        ("admin.example.com:443", 200),
        ("localhost", 421),
        ("rebound.example", 421),
    ] {
        let got = raw::exchange(&app.admin_url, request(host).as_bytes()).await;
        assert_eq!(got.status, status, "{host}: {got:?}");
    }
    app.stop().await;
}

/// A host list a deployment ships that the settings refuse would stop admin-api at start-up.
#[test]
fn the_host_lists_the_deployments_ship_are_valid_settings() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let files = [
        "k8s/base/config.env",
        "k8s/overlays/dev/kustomization.yaml",
        "k8s/overlays/prod/kustomization.yaml",
        "deploy/docker-compose.yml",
    ];
    const NAME: &str = "SCIMSYNC__ADMIN__ALLOWED_HOSTS";
    for file in files {
        let text = std::fs::read_to_string(root.join(file)).expect(file);
        let values: Vec<&str> = text
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .filter_map(|line| line.split_once(NAME).map(|(_, rest)| rest))
            .map(|rest| rest.trim_start_matches(['=', ':']).trim())
            .collect();
        assert_eq!(values.len(), 1, "{file} sets {NAME} once: {values:?}");
        let settings =
            scimsync_platform::Settings::load_from([(NAME.to_owned(), values[0].to_owned())])
                .unwrap_or_else(|e| panic!("{file}: {e}"));
        let hosts = settings.admin.allowed_hosts();
        assert!(hosts.contains(&"admin-api".to_owned()), "{file}: {hosts:?}");
        assert!(hosts.contains(&"localhost".to_owned()), "{file}: {hosts:?}");
    }
}
