//! The running system for one test: ingest, the workers and admin-api in-process.

use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use scimsync_platform::Settings;
use scimsync_schema::topology::WorkQueue;
use scimsync_schema::Concern;
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::broker::Broker;
use crate::env::TestEnv;
use crate::settle::Deliveries;
use crate::wait::wait_until;
use crate::webhooks::signed_request;
pub use crate::webhooks::{post_signed, stytch_time};

/// The development secret the default settings accept.
pub const SECRET: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX";
pub const DEADLINE: Duration = Duration::from_secs(30);

pub struct TestApp {
    pub env: TestEnv,
    /// Seconds added to the manager-linker's clock, to play the passage of days.
    pub clock_offset_secs: Arc<AtomicI64>,
    pub ingest_url: String,
    pub admin_url: String,
    pub http: reqwest::Client,
    /// The settings every service of this app runs with.
    pub settings: Settings,
    /// The webhooks this app's ingest accepted, to know when the workers are done with them.
    pub deliveries: Arc<Deliveries>,
    /// The queues of the workers started, in the order started.
    pub workers: Vec<WorkQueue>,
    /// A broker connection of [`TestApp::wait_settled`]'s own, opened once: a test may wait
    /// after each of hundreds of events.
    settle_broker: tokio::sync::OnceCell<Broker>,
    shutdown: CancellationToken,
    tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
}

/// Posts signed webhooks to an app's ingest from other tasks, counting what was accepted as
/// [`TestApp::send`] does, so [`TestApp::wait_settled`] knows about them.
#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    ingest_url: String,
    deliveries: Arc<Deliveries>,
}

impl Sender {
    /// Signs and posts `body` with a fresh Svix message id; returns the status (0 if the
    /// request itself failed).
    pub async fn post(&self, body: &Value) -> u16 {
        let bytes = serde_json::to_vec(body).expect("serialize");
        let id = format!("msg_{}", Uuid::new_v4().simple());
        let now = Utc::now().timestamp();
        match self.post_raw(&id, now, &bytes, SECRET).await {
            Ok(response) => response.status().as_u16(),
            Err(_) => 0,
        }
    }

    async fn post_raw(
        &self,
        svix_id: &str,
        timestamp: i64,
        bytes: &[u8],
        secret: &str,
    ) -> reqwest::Result<reqwest::Response> {
        let kind = self.deliveries.sending(bytes);
        let request = signed_request(
            &self.http,
            &self.ingest_url,
            svix_id,
            timestamp,
            bytes,
            secret,
        );
        let response = request.send().await?;
        if let (Some(kind), 202) = (kind, response.status().as_u16()) {
            self.deliveries.accepted(&kind);
        }
        Ok(response)
    }
}

/// Which services to start.
#[derive(Clone, Copy)]
pub struct Services {
    pub ingest: bool,
    /// The workers to start: every one of [`Concern::ALL`] by default.
    pub workers: &'static [Concern],
    /// Route ingest's broker connection through this local port (a [`crate::proxy::Proxy`]).
    pub ingest_broker_port: Option<u16>,
}

impl Default for Services {
    fn default() -> Self {
        Self {
            ingest: true,
            workers: Concern::ALL,
            ingest_broker_port: None,
        }
    }
}

impl Services {
    /// Only the admin API (always started).
    pub const ADMIN_ONLY: Self = Self {
        ingest: false,
        workers: &[],
        ingest_broker_port: None,
    };
    /// Ingest (and the admin API), no workers: published messages stay queued.
    pub const INGEST_ONLY: Self = Self {
        ingest: true,
        ..Self::ADMIN_ONLY
    };
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Services::default(), |_| {}).await
    }

    /// Starts the chosen services; `tweak` adjusts the settings first (e.g. ingest's AMQP URL).
    pub async fn spawn_with(services: Services, tweak: impl FnOnce(&mut Settings)) -> Self {
        let env = TestEnv::new().await;
        let mut settings = env.settings.clone();
        tweak(&mut settings);
        let shutdown = CancellationToken::new();
        let mut tasks = Vec::new();

        let admin = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind admin");
        let admin_url = format!("http://{}", admin.local_addr().expect("addr"));
        tasks.push((
            "admin-api",
            tokio::spawn(scimsync_admin_api::run(
                settings.clone(),
                admin,
                shutdown.clone(),
            )),
        ));

        let ingest = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind ingest");
        let ingest_url = format!("http://{}", ingest.local_addr().expect("addr"));
        if services.ingest {
            let mut ingest_settings = settings.clone();
            if let Some(port) = services.ingest_broker_port {
                let url = format!("amqp://guest:guest@127.0.0.1:{port}/{}", env.name);
                ingest_settings.amqp.url = secrecy::SecretString::from(url);
            }
            tasks.push((
                "ingest",
                tokio::spawn(scimsync_ingest::run(
                    ingest_settings,
                    ingest,
                    shutdown.clone(),
                )),
            ));
        }
        let mut app = Self {
            clock_offset_secs: Arc::new(AtomicI64::new(0)),
            env,
            settings,
            ingest_url,
            admin_url,
            http: reqwest::Client::new(),
            deliveries: Arc::default(),
            workers: Vec::new(),
            settle_broker: tokio::sync::OnceCell::new(),
            shutdown,
            tasks,
        };
        if services.ingest {
            app.wait_ready().await;
        }
        app.start_workers(services).await;
        app
    }

    /// Starts the chosen workers (ingest and the admin API are left alone) and waits until
    /// each consumes its queue: e.g. after messages were queued with [`Services::INGEST_ONLY`].
    pub async fn start_workers(&mut self, services: Services) {
        let broker = Broker::connect(&self.env.amqp_url).await;
        let mut started = Vec::new();
        for concern in services.workers {
            let queue = concern.queue();
            // Ingest declares every queue at start-up, so a queue that exists says nothing
            // about its worker: count its consumers before and after.
            let before = broker.consumers(queue.name).await.unwrap_or(0);
            let (settings, shutdown) = (self.settings.clone(), self.shutdown.clone());
            let task =
                crate::workers::start(*concern, settings, self.clock_offset_secs.clone(), shutdown);
            self.tasks.push((concern.as_str(), task));
            self.workers.push(queue);
            started.push((queue.name, before));
        }
        for (queue, before) in started {
            wait_until(&format!("a new consumer on {queue}"), DEADLINE, || async {
                let now = broker.consumers(queue).await?;
                (now > before).then_some(())
            })
            .await;
        }
    }

    /// Waits until the workers have handled every delivery of the webhooks this app accepted
    /// (duplicates and retries included) and nothing waits in their queues or hands: the state
    /// is final (see [`crate::settle`]).
    pub async fn wait_settled(&self) {
        let broker = self
            .settle_broker
            .get_or_init(|| Broker::connect(&self.env.amqp_url))
            .await;
        crate::settle::wait_settled(&self.deliveries, &self.workers, broker).await;
    }

    /// A handle that posts webhooks to this app's ingest from other tasks.
    pub fn sender(&self) -> Sender {
        Sender {
            http: self.http.clone(),
            ingest_url: self.ingest_url.clone(),
            deliveries: self.deliveries.clone(),
        }
    }

    pub async fn wait_ready(&self) {
        wait_until("ingest to be ready", DEADLINE, || async {
            let r = self
                .http
                .get(format!("{}/readyz", self.ingest_url))
                .send()
                .await
                .ok()?;
            r.status().is_success().then_some(())
        })
        .await;
    }

    /// Stops every service (as SIGTERM would), checks they exit cleanly, drops the test's
    /// database and virtual host.
    pub async fn stop(mut self) {
        self.stop_services().await;
        self.env.cleanup().await;
    }

    /// Stops every service (as SIGTERM would) and checks each exits cleanly within the deadline;
    /// the database and virtual host stay for inspection.
    pub async fn stop_services(&mut self) {
        self.shutdown.cancel();
        for (name, task) in self.tasks.drain(..) {
            match tokio::time::timeout(DEADLINE, task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(error))) => panic!("{name} failed: {error:?}"),
                Ok(Err(panic)) => panic!("{name} panicked: {panic}"),
                Err(_) => panic!("{name} did not stop within {DEADLINE:?}"),
            }
        }
    }

    pub async fn register_company(&self, org: &str, domains: &[&str]) -> Uuid {
        let response = self
            .http
            .post(format!("{}/api/v1/companies", self.admin_url))
            .json(&json!({ "name": format!("Company {org}"), "stytch_organization_id": org, "allowed_email_domains": domains }))
            .send()
            .await
            .expect("register company");
        assert_eq!(
            response.status(),
            201,
            "register company: {}",
            response.text().await.unwrap_or_default()
        );
        let body: Value = response.json().await.expect("json");
        body["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("company id")
    }

    /// Signs `body` the Svix way with a fresh message id and posts it to ingest.
    pub async fn send(&self, body: &Value) -> reqwest::Response {
        let id = format!("msg_{}", Uuid::new_v4().simple());
        self.send_as(&id, body).await
    }

    /// Signs and posts with a chosen Svix message id (to exercise retries).
    pub async fn send_as(&self, svix_id: &str, body: &Value) -> reqwest::Response {
        let bytes = serde_json::to_vec(body).expect("serialize");
        self.send_raw(svix_id, Utc::now().timestamp(), &bytes, SECRET)
            .await
    }

    pub async fn send_raw(
        &self,
        svix_id: &str,
        timestamp: i64,
        bytes: &[u8],
        secret: &str,
    ) -> reqwest::Response {
        self.sender()
            .post_raw(svix_id, timestamp, bytes, secret)
            .await
            .expect("post webhook")
    }

    /// Sends and asserts the event was accepted.
    pub async fn accept(&self, body: &Value) {
        let response = self.send(body).await;
        let status = response.status();
        assert!(
            status.is_success(),
            "webhook refused with {status}: {}",
            response.text().await.unwrap_or_default()
        );
    }

    /// Sends a request that should be refused; returns its status, its `Allow` header and its
    /// JSON body (`Null` if the body is not JSON).
    pub async fn refusal(&self, method: reqwest::Method, url: &str) -> (u16, String, Value) {
        let response = self.http.request(method, url).send().await.expect("send");
        let allow = response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let status = response.status().as_u16();
        (status, allow, response.json().await.unwrap_or(Value::Null))
    }
}

/// A response's status and JSON body (`Null` if the body is not JSON).
pub async fn status_and_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
