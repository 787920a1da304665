//! The console's guarantees over plain HTTP: no page or asset without a session, a form posted
//! without its CSRF token refused, a viewer refused every change, the session cookie's
//! attributes, sign-out, and the security headers of every answer.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_tests::app::Services;
use scimsync_tests::console::{self, set_cookie, Console, OPERATOR_TOKEN, VIEWER_TOKEN};
use scimsync_tests::TestApp;

/// Every kind of console page and asset, for a company.
fn console_paths(company: &str) -> Vec<String> {
    let user = uuid::Uuid::nil();
    vec![
        "/".into(),
        "/companies".into(),
        format!("/companies/{company}"),
        format!("/companies/{company}/users"),
        format!("/companies/{company}/users/{user}"),
        format!("/companies/{company}/groups"),
        format!("/companies/{company}/events"),
        "/audit".into(),
        "/dead-letters".into(),
        "/dead-letters/show".into(),
        "/assets/console.css".into(),
        "/assets/console.js".into(),
        "/assets/favicon.svg".into(),
    ]
}

async fn company_count(app: &TestApp) -> i64 {
    app.env.count("SELECT count(*) AS n FROM companies").await
}

#[tokio::test]
async fn no_page_or_asset_is_served_without_a_session() {
    let app = console::spawn(Services::ADMIN_ONLY).await;
    let company = uuid::Uuid::now_v7().to_string();
    let anonymous = Console::anonymous(&app.admin_url);
    for path in console_paths(&company) {
        let page = anonymous.get(&path).await;
        match page.status {
            303 => assert_eq!(page.location.as_deref(), Some("/sign-in"), "{path}"),
            401 => {}
            other => panic!("{path}: {other} without a session"),
        }
        assert!(
            !page.body.contains("scimsync console") || page.status == 401,
            "{path}"
        );
        assert!(!page.body.contains(":root"), "{path}: no stylesheet");
    }
    // A session that is not one, or that ended, is no better.
    let mut forged = Console::anonymous(&app.admin_url);
    forged.cookie = "scimsync_session=forged".into();
    assert_eq!(forged.get("/companies").await.status, 303);
    let signed = Console::sign_in(&app.admin_url, OPERATOR_TOKEN).await;
    assert_eq!(signed.get("/assets/console.css").await.status, 200);
    let out = signed.post("/sign-out", &[]).await;
    assert_eq!(
        (out.status, out.location.as_deref()),
        (303, Some("/sign-in"))
    );
    assert_eq!(signed.get("/companies").await.status, 303, "signed out");
    assert_eq!(signed.get("/assets/console.css").await.status, 401);
    // Forms posted without a session change nothing.
    let refused = anonymous
        .post_exactly("/companies", &[("name", "Sneaky"), ("csrf", "x")])
        .await;
    assert_eq!(refused.status, 401);
    assert_eq!(company_count(&app).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_form_posted_without_its_csrf_token_is_refused() {
    let app = console::spawn(Services::ADMIN_ONLY).await;
    let console = Console::sign_in(&app.admin_url, OPERATOR_TOKEN).await;
    let missing = console
        .post_exactly("/companies", &[("name", "Forged")])
        .await;
    assert_eq!(missing.status, 403, "{}", missing.body);
    assert!(missing.body.contains("CSRF"), "{}", missing.body);
    let wrong = console
        .post_exactly(
            "/companies",
            &[("name", "Forged"), ("csrf", "not-the-token")],
        )
        .await;
    assert_eq!(wrong.status, 403);
    // Another session's token is not this one's.
    let other = Console::sign_in(&app.admin_url, OPERATOR_TOKEN).await;
    let crossed = console
        .post_exactly("/companies", &[("name", "Forged"), ("csrf", &other.csrf)])
        .await;
    assert_eq!(crossed.status, 403);
    assert_eq!(company_count(&app).await, 0, "nothing was registered");
    // The sign-in form too needs its own token (double submit).
    let bare = Console::anonymous(&app.admin_url)
        .post_exactly("/sign-in", &[("token", OPERATOR_TOKEN)])
        .await;
    assert_eq!(bare.status, 403);
    assert!(set_cookie_in(&bare, "scimsync_session").is_none());
    // With it, the same form goes through.
    let done = console.post("/companies", &[("name", "Genuine")]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(company_count(&app).await, 1);
    app.stop().await;
}

fn set_cookie_in(page: &console::Page, name: &str) -> Option<String> {
    page.headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

#[tokio::test]
async fn a_viewer_sees_no_button_that_changes_anything_and_its_posts_are_refused() {
    let app = console::spawn(Services::ADMIN_ONLY).await;
    let operator = Console::sign_in(&app.admin_url, OPERATOR_TOKEN).await;
    let registered = operator.post("/companies", &[("name", "Shown")]).await;
    let company_page = registered.location.expect("the company's page");
    let company = company_page
        .trim_start_matches("/companies/")
        .split('?')
        .next()
        .expect("id")
        .to_owned();
    let viewer = Console::sign_in(&app.admin_url, VIEWER_TOKEN).await;
    for path in [
        "/companies".to_owned(),
        format!("/companies/{company}"),
        format!("/companies/{company}/users"),
        format!("/companies/{company}/groups"),
        format!("/companies/{company}/events"),
        "/audit".to_owned(),
    ] {
        let page = viewer.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        let forms = page.body.matches("method=\"post\"").count();
        assert_eq!(forms, 1, "{path}: only the sign-out form: {}", page.body);
        assert!(
            !page.body.contains("/dead-letters"),
            "{path}: no dead-letter link"
        );
    }
    assert_eq!(viewer.get("/dead-letters").await.status, 403);
    for (path, fields) in [
        ("/companies".to_owned(), vec![("name", "Viewer's")]),
        (format!("/companies/{company}"), vec![("name", "Renamed")]),
        (format!("/companies/{company}/tokens"), vec![("label", "x")]),
        ("/dead-letters/purge".to_owned(), vec![("confirm", "1")]),
    ] {
        let refused = viewer.post(&path, &fields).await;
        assert_eq!(refused.status, 403, "{path}: {}", refused.body);
        assert!(refused.body.contains("viewer"), "{path}");
    }
    assert_eq!(company_count(&app).await, 1);
    let tokens = app.env.count("SELECT count(*) AS n FROM scim_tokens").await;
    assert_eq!(tokens, 0);
    let name = app.get("/api/v1/companies").await["companies"][0]["name"].clone();
    assert_eq!(name, "Shown");
    // A viewer may still sign out.
    assert_eq!(viewer.post("/sign-out", &[]).await.status, 303);
    app.stop().await;
}

#[tokio::test]
async fn the_session_cookie_is_http_only_strict_expiring_and_secure_behind_tls() {
    let app = console::spawn(Services::ADMIN_ONLY).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let sign_in = |proto: Option<&'static str>| {
        let http = http.clone();
        let base = app.admin_url.clone();
        async move {
            let mut form = http.get(format!("{base}/sign-in"));
            if let Some(proto) = proto {
                form = form.header("x-forwarded-proto", proto);
            }
            let form = form.send().await.expect("form");
            let double = set_cookie(&form, "scimsync_sign_in").expect("cookie");
            let csrf = console::csrf_in(&form.text().await.expect("body")).expect("csrf");
            let mut post = http
                .post(format!("{base}/sign-in"))
                .header("cookie", double.split(';').next().unwrap_or_default())
                .form(&[("token", OPERATOR_TOKEN), ("csrf", csrf.as_str())]);
            if let Some(proto) = proto {
                post = post.header("x-forwarded-proto", proto);
            }
            let response = post.send().await.expect("sign in");
            set_cookie(&response, "scimsync_session").expect("session cookie")
        }
    };
    let plain = sign_in(None).await;
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(plain.contains(attribute), "{attribute}: {plain}");
    }
    assert!(!plain.contains("Secure"), "plain HTTP: {plain}");
    let tls = sign_in(Some("https")).await;
    assert!(tls.contains("; Secure"), "behind TLS: {tls}");
    // A wrong token signs nobody in.
    let wrong = Console::anonymous(&app.admin_url);
    let form = wrong.get("/sign-in").await;
    assert_eq!(form.status, 200);
    let sessions = app
        .env
        .count("SELECT count(*) AS n FROM admin_sessions")
        .await;
    assert_eq!(sessions, 2, "one row per sign-in, nothing else");
    app.stop().await;
}

#[tokio::test]
async fn every_console_answer_carries_a_strict_content_security_policy() {
    let app = console::spawn(Services::ADMIN_ONLY).await;
    let console = Console::sign_in(&app.admin_url, OPERATOR_TOKEN).await;
    let anonymous = Console::anonymous(&app.admin_url);
    for page in [
        anonymous.get("/sign-in").await,
        anonymous.get("/companies").await,
        console.get("/companies").await,
        console.get("/assets/console.js").await,
        console.get("/audit").await,
    ] {
        let csp = page
            .headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .expect("a policy")
            .to_owned();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert!(
            !csp.contains("http:") && !csp.contains("https:"),
            "nothing from elsewhere: {csp}"
        );
        assert_eq!(page.headers["x-content-type-options"], "nosniff");
        assert_eq!(page.headers["x-frame-options"], "DENY");
    }
    // Pages name no other origin: every asset is the console's own.
    let page = console.get("/companies").await;
    assert!(
        !page.body.contains("//cdn") && !page.body.contains("https://"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains(" style=\""),
        "no inline style: {}",
        page.body
    );
    app.stop().await;
}
