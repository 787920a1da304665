//! The SCIM service in-process next to a [`TestApp`], and what its tests need: a tenant (a company
//! without a Stytch organisation and a bearer token, made through the admin API), a client that
//! speaks `application/scim+json`, the outbox's rows and a queue bound to the SCIM door's
//! routing keys.

mod client;
mod outbox;

pub use client::{patch_op, urlencode, Answer, ScimClient};
pub use outbox::{outbox, outbox_depth, OutboxRow, Tap};

use scimsync_platform::Settings;
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::app::{status_and_json, DEADLINE};
use crate::wait::wait_until;
use crate::TestApp;

/// The media type of SCIM bodies.
pub const SCIM_JSON: &str = "application/scim+json";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// A test app with the admin API only (the workers' handling of SCIM changes is tested with
/// them) and the scim service beside it.
pub async fn start() -> (TestApp, ScimService) {
    start_with(|_| {}).await
}

/// [`start`] with the scim service's settings adjusted by `tweak`.
pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> (TestApp, ScimService) {
    let app = TestApp::spawn_with(crate::app::Services::ADMIN_ONLY, |_| {}).await;
    let scim = ScimService::start_with(&app, tweak).await;
    (app, scim)
}

/// The AMQP URL of the test's virtual host through a proxy on `port`.
pub fn amqp_via(app: &TestApp, port: u16) -> secrecy::SecretString {
    secrecy::SecretString::from(format!(
        "amqp://guest:guest@127.0.0.1:{port}/{}",
        app.env.name
    ))
}

/// The scim service, running.
pub struct ScimService {
    /// `http://127.0.0.1:<port>` (the tenant URL is this plus `/scim/v2`).
    pub url: String,
    pub settings: Settings,
    shutdown: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl ScimService {
    /// Starts with the app's settings.
    pub async fn start(app: &TestApp) -> Self {
        Self::start_with(app, |_| {}).await
    }

    /// Starts with the app's settings adjusted by `tweak` (its AMQP URL through a proxy, a lower
    /// rate, ...), and waits until it answers.
    pub async fn start_with(app: &TestApp, tweak: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = app.settings.clone();
        settings.scim.listen = "127.0.0.1:0".into();
        tweak(&mut settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind scim");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(scimsync_scim::run(
            settings.clone(),
            listener,
            shutdown.clone(),
        ));
        let service = Self {
            url,
            settings,
            shutdown,
            task: Some(task),
        };
        service.readiness(&app.http, |_| true).await;
        service
    }

    /// Waits until `/readyz` answers 200 and its body satisfies `check`.
    async fn readiness(&self, http: &reqwest::Client, check: impl Fn(&Value) -> bool) {
        wait_until("scim to be ready", DEADLINE, || async {
            let r = http.get(format!("{}/readyz", self.url)).send().await.ok()?;
            if !r.status().is_success() {
                return None;
            }
            let body: Value = r.json().await.ok()?;
            check(&body).then_some(())
        })
        .await;
    }

    /// Waits until the service is connected to the broker (its topology declared).
    pub async fn wait_broker(&self, http: &reqwest::Client) {
        self.readiness(http, |b| b["broker"] == true).await;
    }

    /// Waits until the service reports its broker connection lost.
    pub async fn wait_broker_down(&self, http: &reqwest::Client) {
        self.readiness(http, |b| b["broker"] == false).await;
    }

    /// Stops it as SIGTERM would and checks it exits cleanly.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            match tokio::time::timeout(DEADLINE, task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(error))) => panic!("scim failed: {error:?}"),
                Ok(Err(panic)) => panic!("scim panicked: {panic}"),
                Err(_) => panic!("scim did not stop within {DEADLINE:?}"),
            }
        }
    }

    /// A client of this service speaking for `tenant`.
    pub fn client(&self, app: &TestApp, tenant: &Tenant) -> ScimClient {
        ScimClient {
            http: app.http.clone(),
            base: format!("{}/scim/v2", self.url),
            token: Some(tenant.token.clone()),
        }
    }
}

impl Drop for ScimService {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A company of the SCIM door and one of its tokens.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub company_id: Uuid,
    pub token_id: String,
    pub token: String,
}

/// Creates a company (no Stytch organisation) and a SCIM token for it through the admin API.
pub async fn tenant(app: &TestApp, name: &str, domains: &[&str]) -> Tenant {
    let (status, company) = status_and_json(
        app.http
            .post(format!("{}/api/v1/companies", app.admin_url))
            .json(&json!({"name": name, "allowed_email_domains": domains}))
            .send()
            .await
            .expect("create company"),
    )
    .await;
    assert_eq!(status, 201, "create company: {company}");
    let company_id: Uuid = company["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("company id");
    let (token_id, token) = new_token(app, company_id).await;
    Tenant {
        company_id,
        token_id,
        token,
    }
}

/// A new token for the company: its id and secret.
pub async fn new_token(app: &TestApp, company_id: Uuid) -> (String, String) {
    let (status, created) = status_and_json(
        app.http
            .post(format!(
                "{}/api/v1/companies/{company_id}/scim/tokens",
                app.admin_url
            ))
            .json(&json!({"label": "test"}))
            .send()
            .await
            .expect("create token"),
    )
    .await;
    assert_eq!(status, 201, "create token: {created}");
    (
        created["id"].as_str().expect("id").to_owned(),
        created["token"].as_str().expect("token").to_owned(),
    )
}

/// The address of the test RabbitMQ's AMQP port (for a [`crate::proxy::Proxy`] in front of it).
pub fn broker_address() -> String {
    let url = reqwest::Url::parse(&crate::env::amqp_base_url().replacen("amqp://", "http://", 1))
        .expect("AMQP url");
    format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(5672)
    )
}
