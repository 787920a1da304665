//! The console in a real browser (headless Chromium over WebDriver): what an operator does from
//! sign-in to a user's level, what a viewer cannot do, and a screenshot of every page at a
//! laptop's and a phone's width, saved under `target/console-screenshots/` for a person to look
//! at. Each page is also checked to fit a phone's width and to label every form control.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use fantoccini::Locator;
use scimsync_tests::app::{Services, DEADLINE};
use scimsync_tests::browser::{Browser, DESKTOP, PHONE};
use scimsync_tests::console::{self, OPERATOR_TOKEN, VIEWER_TOKEN};
use scimsync_tests::events::{create, delete, t, with_groups};
use scimsync_tests::{wait_until, TestApp};
use serde_json::json;

fn screenshots() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/console-screenshots"
    ))
}

async fn sign_in(browser: &Browser, app: &TestApp, token: &str) {
    browser.open(&format!("{}/companies", app.admin_url)).await;
    let url = browser.client.current_url().await.expect("url");
    assert_eq!(url.path(), "/sign-in", "no page without a session");
    browser.fill("#token", token).await;
    browser.click("form button[type=submit]").await;
    wait_until("the companies page", DEADLINE, || async {
        (browser.client.current_url().await.ok()?.path() == "/companies").then_some(())
    })
    .await;
}

/// Looks at the page at both widths: a screenshot of each, nothing wider than a phone at a
/// phone's width, and every visible form control labelled.
async fn look(browser: &Browser, name: &str) {
    for width in [DESKTOP, PHONE] {
        browser.screenshot(&screenshots(), name, width).await;
        if width == PHONE {
            let overflow = browser
                .eval("return document.documentElement.scrollWidth - window.innerWidth;")
                .await
                .as_i64()
                .unwrap_or(0);
            assert!(overflow <= 0, "{name} is {overflow} px wider than a phone");
        }
    }
    let unlabelled = browser
        .eval(
            "return Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea, button'))
               .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                            && !(e.tagName === 'BUTTON' && e.textContent.trim()))
               .map(e => e.outerHTML);",
        )
        .await;
    assert_eq!(unlabelled, json!([]), "{name}: every control has a label");
    browser
        .client
        .set_window_size(DESKTOP, 900)
        .await
        .expect("resize");
}

#[tokio::test]
async fn an_operator_follows_a_company_from_registration_to_a_users_level() {
    let app = console::spawn(Services::default()).await;
    let browser = Browser::start().await;
    browser.open(&format!("{}/sign-in", app.admin_url)).await;
    look(&browser, "sign-in").await;
    sign_in(&browser, &app, OPERATOR_TOKEN).await;

    // Register a company.
    browser.fill("input[name=name]", "Acme Corporation").await;
    browser
        .fill("input[name=stytch_organization_id]", "org-acme")
        .await;
    browser
        .fill("input[name=allowed_email_domains]", "example.com")
        .await;
    browser
        .click("form[method=post][action='/companies'] button[type=submit]")
        .await;
    browser.wait_for_text("Company registered.").await;
    let company_url = browser.client.current_url().await.expect("url");
    let company = company_url
        .path()
        .trim_start_matches("/companies/")
        .to_owned();
    assert!(browser.text().await.contains("org-acme"));

    // A SCIM token, shown once, with a working copy button (the script loaded under the CSP).
    browser.fill("input[name=label]", "Entra production").await;
    browser
        .click("form[action$='/tokens'] button[type=submit]")
        .await;
    let field = browser
        .client
        .wait()
        .for_element(Locator::Css("#token-value"))
        .await
        .expect("the new token");
    let token = field.prop("value").await.expect("value").expect("a value");
    assert!(token.starts_with("scimsync_"), "{token}");
    assert!(
        browser.has("button[data-copy]:not([hidden])").await,
        "copy button shown"
    );
    browser.click("button[data-copy]").await;
    look(&browser, "company-new-token").await;
    browser.open(company_url.as_str()).await;
    assert!(!browser.has("#token-value").await, "shown once");
    let text = browser.text().await;
    assert!(!text.contains(&token), "the secret is gone");
    assert!(text.contains(&token[..15]), "its prefix is listed: {text}");
    assert!(
        text.contains("Entra production") && text.contains("/scim/v2"),
        "{text}"
    );

    // A user created by a signed webhook shows up.
    app.accept(&with_groups(
        create("org-acme", "m-ada", "ada@example.com", t(0)),
        &[("g-eng", "Engineering")],
    ))
    .await;
    app.wait_settled().await;
    browser
        .open(&format!("{}/companies/{company}/users", app.admin_url))
        .await;
    browser.wait_for_text("ada@example.com").await;
    look(&browser, "users").await;
    browser.click("td[data-label=Name] a").await;
    browser.wait_for_text("Engineering").await;
    let user_url = browser.client.current_url().await.expect("url");
    let user = user_url
        .path()
        .rsplit('/')
        .next()
        .expect("user id")
        .to_owned();
    assert!(browser.text().await.contains("Basic"));
    look(&browser, "user").await;

    // Why was this user deactivated? One click from the list of deactivated users.
    app.accept(&create("org-acme", "m-bob", "bob@example.com", t(0)))
        .await;
    app.accept(&delete("m-bob", t(60))).await;
    app.wait_settled().await;
    browser
        .open(&format!(
            "{}/companies/{company}/users?active=no",
            app.admin_url
        ))
        .await;
    browser.wait_for_text("bob@example.com").await;
    assert!(
        !browser.text().await.contains("ada@example.com"),
        "active users filtered out"
    );
    browser.click("td[data-label=Name] a").await;
    browser.wait_for_text("Why deactivated").await;
    // The event that did it (its log row may land a moment after the user's change).
    browser.wait_for_text("By scim.member.delete").await;
    look(&browser, "user-deactivated").await;

    // The event log, filtered to that user: every row links to them.
    browser
        .open(&format!("{}/companies/{company}/events", app.admin_url))
        .await;
    browser.fill("input[name=user_id]", &user).await;
    browser.click("form[role=search] button[type=submit]").await;
    browser.wait_for_text("scim.member.create").await;
    let links = browser
        .eval("return Array.from(document.querySelectorAll('td[data-label=User] a')).map(a => a.getAttribute('href'));")
        .await;
    let links = links.as_array().expect("links");
    assert!(!links.is_empty());
    for link in links {
        assert_eq!(link, &json!(format!("/companies/{company}/users/{user}")));
    }
    look(&browser, "event-log").await;

    // A custom group's level, and the user's level follows.
    browser
        .open(&format!("{}/companies/{company}/groups", app.admin_url))
        .await;
    browser
        .client
        .find(Locator::Css("form[action$='/level'] select"))
        .await
        .expect("level select")
        .select_by_value("full_access")
        .await
        .expect("select");
    browser
        .click("form[action$='/level'] button[type=submit]")
        .await;
    browser.wait_for_text("Level saved").await;
    look(&browser, "groups").await;
    browser.open(user_url.as_str()).await;
    browser.wait_for_text("Full Access").await;

    // The company page with its chart, the audit trail.
    browser.open(company_url.as_str()).await;
    assert!(browser.has("svg.chart rect").await, "the chart has bars");
    look(&browser, "company").await;
    browser.open(&format!("{}/companies", app.admin_url)).await;
    look(&browser, "companies").await;
    browser.open(&format!("{}/audit", app.admin_url)).await;
    let audit = browser.text().await;
    for action in ["company.register", "scim_token.create", "group.set_level"] {
        assert!(audit.contains(action), "{action} in {audit}");
    }
    assert!(!audit.contains(&token));
    look(&browser, "audit").await;

    // A dead letter (an organisation nobody registered), counted, looked at, then purged
    // after a confirmation that says how many.
    app.accept(&create("org-unknown", "m-x", "x@example.com", t(1)))
        .await;
    wait_until("the dead letter", DEADLINE, || async {
        (app.env.queue_depth("scimsync.user-upsert.dlq").await == Some(1)).then_some(())
    })
    .await;
    browser
        .open(&format!("{}/dead-letters", app.admin_url))
        .await;
    browser.wait_for_text("unknown_organization").await;
    look(&browser, "dead-letters").await;
    browser
        .click("td[data-label=Actions] form[action='/dead-letters/purge'] button")
        .await;
    browser.wait_for_text("Purge 1 dead letter?").await;
    look(&browser, "dead-letters-confirm").await;
    browser
        .click("form[action='/dead-letters/purge'] button[type=submit]")
        .await;
    browser.wait_for_text("Purged 1 of 1").await;
    assert_eq!(
        app.env.queue_depth("scimsync.user-upsert.dlq").await,
        Some(0)
    );

    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_viewer_sees_no_button_that_changes_anything_and_a_change_sent_anyway_is_refused() {
    let app = console::spawn(Services::ADMIN_ONLY).await;
    let created = app
        .http
        .post(format!("{}/api/v1/companies", app.admin_url))
        .json(&json!({"name": "Viewed"}))
        .send()
        .await
        .expect("register");
    let company = created.json::<serde_json::Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let browser = Browser::start().await;
    sign_in(&browser, &app, VIEWER_TOKEN).await;
    assert!(browser
        .text()
        .await
        .to_lowercase()
        .contains("victor · viewer"));
    assert!(!browser.has("form[method=post][action='/companies']").await);
    assert!(!browser.has("a[href='/dead-letters']").await);
    browser
        .open(&format!("{}/companies/{company}", app.admin_url))
        .await;
    assert!(
        !browser.has("form[action$='/tokens']").await,
        "no token button"
    );
    assert!(
        !browser
            .has(&format!("form[action='/companies/{company}']"))
            .await,
        "no edit"
    );
    look(&browser, "company-viewer").await;

    // The form a viewer cannot see, posted with the viewer's own session and CSRF token.
    let cookie = browser.session_cookie().await;
    let csrf = browser
        .client
        .find(Locator::Css("input[name=csrf]"))
        .await
        .expect("sign-out form's token")
        .prop("value")
        .await
        .expect("value")
        .expect("a token");
    let refused = reqwest::Client::new()
        .post(format!("{}/companies/{company}/tokens", app.admin_url))
        .header("cookie", cookie)
        .form(&[("label", "sneaky"), ("csrf", csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(refused.status(), 403);
    assert_eq!(
        app.env.count("SELECT count(*) AS n FROM scim_tokens").await,
        0
    );
    browser.close().await;
    app.stop().await;
}

/// The browser's path now.
async fn path(browser: &Browser) -> String {
    browser
        .client
        .current_url()
        .await
        .expect("url")
        .path()
        .to_owned()
}

/// Waits until the page, as it is now (no reload: it may answer a form), shows `wanted`.
async fn wait_for_answer(browser: &Browser, wanted: &str) {
    wait_until(&format!("{wanted:?} on the page"), DEADLINE, || async {
        browser.text().await.contains(wanted).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_browser_gets_no_page_or_asset_without_a_session_and_no_form_through_without_its_csrf_token(
) {
    let app = console::spawn(Services::ADMIN_ONLY).await;
    let browser = Browser::start().await;

    // Not signed in: every page leads to the sign-in form, an asset is refused.
    for page in ["/", "/companies", "/audit", "/dead-letters"] {
        browser.open(&format!("{}{page}", app.admin_url)).await;
        assert_eq!(path(&browser).await, "/sign-in", "{page}");
    }
    for asset in ["console.css", "console.js", "favicon.svg"] {
        browser
            .open(&format!("{}/assets/{asset}", app.admin_url))
            .await;
        let text = browser.text().await;
        assert!(text.contains("Not signed in"), "{asset}: {text}");
    }

    // Signed in, the registration form with its CSRF field taken out, as a form made on
    // another site would come: refused, and nothing registered.
    sign_in(&browser, &app, OPERATOR_TOKEN).await;
    browser.fill("input[name=name]", "Forged").await;
    browser
        .eval(
            "document.querySelector(\"form[action='/companies'] input[name=csrf]\").remove(); \
             return null;",
        )
        .await;
    browser
        .click("form[method=post][action='/companies'] button[type=submit]")
        .await;
    wait_for_answer(&browser, "Form refused").await;
    assert_eq!(
        app.env.count("SELECT count(*) AS n FROM companies").await,
        0,
        "nothing registered"
    );

    // Signed out, the pages close again.
    browser.open(&format!("{}/companies", app.admin_url)).await;
    browser.click("form[action='/sign-out'] button").await;
    wait_until("the sign-in form", DEADLINE, || async {
        (path(&browser).await == "/sign-in").then_some(())
    })
    .await;
    browser.open(&format!("{}/companies", app.admin_url)).await;
    assert_eq!(path(&browser).await, "/sign-in", "signed out");
    browser.close().await;
    app.stop().await;
}

/// Whether any process runs with `needle` on its command line.
fn runs_with(needle: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .map(|line| String::from_utf8_lossy(&line).contains(needle))
            .unwrap_or(false)
    })
}

#[tokio::test]
async fn a_browser_dropped_without_closing_as_a_failing_test_does_leaves_no_chromium_running() {
    let browser = Browser::start().await;
    browser.open("about:blank").await;
    let profile = browser.profile().to_string_lossy().into_owned();
    assert!(runs_with(&profile), "Chromium runs with its own profile");
    drop(browser);
    wait_until("Chromium to end", DEADLINE, || async {
        (!runs_with(&profile)).then_some(())
    })
    .await;
    assert!(!std::path::Path::new(&profile).exists(), "profile removed");
}
