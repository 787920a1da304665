//! The console as a test drives it over HTTP: an app with named admin tokens, and a signed-in
//! session (its cookie and CSRF token) to get pages and post forms with.

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use sha2::{Digest, Sha256};

use crate::app::Services;
use crate::TestApp;

/// An operator's token (named `alice`) and a viewer's (named `victor`).
pub const OPERATOR_TOKEN: &str = "operator-token-for-tests-0123456789abcdef";
pub const VIEWER_TOKEN: &str = "viewer-token-for-tests-0123456789abcdef";

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `admin.tokens` naming the two tokens.
pub fn tokens_setting() -> String {
    format!(
        "alice:operator:{},victor:viewer:{}",
        sha256_hex(OPERATOR_TOKEN),
        sha256_hex(VIEWER_TOKEN)
    )
}

/// Starts the services with the two named tokens; the app's own HTTP client (used by the
/// harness's admin API helpers) carries the operator's.
pub async fn spawn(services: Services) -> TestApp {
    let mut app = TestApp::spawn_with(services, |s| {
        s.admin.tokens = tokens_setting().into();
    })
    .await;
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {OPERATOR_TOKEN}")).expect("header"),
    );
    app.http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client");
    app
}

/// The value of `name="csrf"` in a page.
pub fn csrf_in(html: &str) -> Option<String> {
    let start = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

/// A cookie a response sets, as `name=value`.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// A response as a test reads it.
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    async fn of(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let location = headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Self {
            status,
            location,
            headers,
            body: response.text().await.unwrap_or_default(),
        }
    }
}

/// A browser-like HTTP client of the console: no redirect followed, cookies kept by hand.
pub struct Console {
    pub base: String,
    http: reqwest::Client,
    /// `scimsync_session=...`, once signed in.
    pub cookie: String,
    pub csrf: String,
}

impl Console {
    /// Not signed in.
    pub fn anonymous(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .expect("client"),
            cookie: String::new(),
            csrf: String::new(),
        }
    }

    /// Signs in with `token` through the sign-in form, as a browser does.
    pub async fn sign_in(base: &str, token: &str) -> Self {
        let mut console = Self::anonymous(base);
        let form = console
            .http
            .get(format!("{base}/sign-in"))
            .send()
            .await
            .expect("sign-in form");
        let double_submit = set_cookie(&form, "scimsync_sign_in").expect("sign-in cookie");
        let double_submit = double_submit
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned();
        let csrf = csrf_in(&form.text().await.expect("body")).expect("csrf field");
        let signed = console
            .http
            .post(format!("{base}/sign-in"))
            .header(COOKIE, double_submit)
            .form(&[("token", token), ("csrf", csrf.as_str())])
            .send()
            .await
            .expect("sign in");
        assert_eq!(signed.status(), 303, "sign-in redirects");
        let cookie = set_cookie(&signed, "scimsync_session").expect("session cookie");
        console.cookie = cookie.split(';').next().unwrap_or_default().to_owned();
        let companies = console.get("/companies").await;
        assert_eq!(companies.status, 200, "{}", companies.body);
        console.csrf = csrf_in(&companies.body).expect("the page's csrf");
        console
    }

    pub async fn get(&self, path: &str) -> Page {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if !self.cookie.is_empty() {
            request = request.header(COOKIE, &self.cookie);
        }
        Page::of(request.send().await.expect("get")).await
    }

    /// Posts a form with this session's CSRF token added.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut fields = fields.to_vec();
        fields.push(("csrf", &self.csrf));
        self.post_exactly(path, &fields).await
    }

    /// Posts exactly these fields (no CSRF token unless among them).
    pub async fn post_exactly(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut request = self.http.post(format!("{}{path}", self.base)).form(fields);
        if !self.cookie.is_empty() {
            request = request.header(COOKIE, &self.cookie);
        }
        Page::of(request.send().await.expect("post")).await
    }
}
