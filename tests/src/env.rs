//! A fresh PostgreSQL database (migrated) and RabbitMQ virtual host per test, dropped at the
//! end; leftovers from crashed runs older than an hour are swept when a test starts.

use std::time::Duration;

use reqwest::Url;
use scimsync_platform::Settings;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use secrecy::SecretString;

const PREFIX: &str = "scimsync_test_";

fn var(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// A record SCIM provisioned for `member`, written on `conn` (a transaction the test holds open,
/// to play another writer); returns its id.
pub async fn insert_scim_user(
    conn: &impl ConnectionTrait,
    company: uuid::Uuid,
    member: &str,
    email: &str,
) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    conn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO users (id, company_id, email, stytch_member_id, scim_provisioned)
         VALUES ($1, $2, $3, $4, true)",
        [id.into(), company.into(), email.into(), member.into()],
    ))
    .await
    .unwrap_or_else(|e| panic!("insert user {email}: {e:?}"));
    id
}

pub fn admin_database_url() -> String {
    var(
        "SCIMSYNC_TEST_DATABASE_URL",
        "postgres://scimsync@127.0.0.1:55432/postgres",
    )
}

pub fn amqp_base_url() -> String {
    var(
        "SCIMSYNC_TEST_AMQP_URL",
        "amqp://guest:guest@127.0.0.1:55672",
    )
}

pub fn rabbit_api() -> Url {
    let raw = var(
        "SCIMSYNC_TEST_RABBIT_API",
        "http://guest:guest@127.0.0.1:55673/api",
    );
    Url::parse(&raw).unwrap_or_else(|e| panic!("SCIMSYNC_TEST_RABBIT_API {raw:?}: {e}"))
}

pub struct TestEnv {
    pub name: String,
    pub database_url: String,
    pub amqp_url: String,
    pub db: DatabaseConnection,
    pub settings: Settings,
    http: reqwest::Client,
}

fn with_database(url: &str, database: &str) -> String {
    let mut url = Url::parse(url).unwrap_or_else(|e| panic!("database url {url:?}: {e}"));
    url.set_path(&format!("/{database}"));
    url.to_string()
}

impl TestEnv {
    pub async fn new() -> Self {
        let now = chrono::Utc::now().timestamp();
        let name = format!("{PREFIX}{now}_{:08x}", rand::random::<u32>());
        let admin = Database::connect(admin_database_url())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "cannot reach PostgreSQL at {} (run `make infra`): {e}",
                    admin_database_url()
                )
            });
        sweep_databases(&admin, now).await;
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create test database");
        admin.close().await.ok();
        let database_url = with_database(&admin_database_url(), &name);

        let http = reqwest::Client::new();
        sweep_vhosts(&http, now).await;
        rabbit(&http, reqwest::Method::PUT, &format!("vhosts/{name}"), None).await;
        let permissions = serde_json::json!({ "configure": ".*", "write": ".*", "read": ".*" });
        let user = rabbit_api().username().to_owned();
        rabbit(
            &http,
            reqwest::Method::PUT,
            &format!("permissions/{name}/{user}"),
            Some(permissions),
        )
        .await;
        let amqp_url = format!("{}/{name}", amqp_base_url().trim_end_matches('/'));

        let mut settings = Settings::load_from(Vec::new()).expect("default settings");
        settings.database.url = SecretString::from(database_url.clone());
        settings.database.max_connections = 8;
        settings.amqp.url = SecretString::from(amqp_url.clone());
        settings.ingest.listen = "127.0.0.1:0".into();
        settings.admin.listen = "127.0.0.1:0".into();
        settings.worker.listen = String::new();
        settings.worker.shutdown_grace_secs = 10;
        let db = scimsync_db::connect(&settings.database)
            .await
            .expect("connect test database");
        scimsync_db::migrate(&db)
            .await
            .expect("migrate test database");
        Self {
            name,
            database_url,
            amqp_url,
            db,
            settings,
            http,
        }
    }

    /// Drops the database and the virtual host.
    pub async fn cleanup(self) {
        self.db.close().await.ok();
        if let Ok(admin) = Database::connect(admin_database_url()).await {
            let _ = admin
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    self.name
                ))
                .await;
            admin.close().await.ok();
        }
        rabbit_try(
            &self.http,
            reqwest::Method::DELETE,
            &format!("vhosts/{}", self.name),
            None,
        )
        .await;
    }

    /// Messages ready in a queue of this test's virtual host (exact, from a passive declare:
    /// the management API's figures lag by seconds). `None` if the queue does not exist.
    pub async fn queue_depth(&self, queue: &str) -> Option<u64> {
        crate::broker::Broker::connect(&self.amqp_url)
            .await
            .depth(queue)
            .await
    }

    /// Runs a query returning one i64 column named `n`.
    pub async fn count(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .unwrap_or_else(|| panic!("{sql}: no row"));
        row.try_get::<i64>("", "n")
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Runs a query returning one uuid column named `id`, in its order.
    pub async fn ids(&self, sql: &str) -> Vec<uuid::Uuid> {
        self.db
            .query_all(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|row| {
                row.try_get("", "id")
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
            })
            .collect()
    }

    /// Registers a company straight in the database (no admin API), named and keyed `org`.
    pub async fn insert_company(&self, org: &str) -> uuid::Uuid {
        let row = self
            .db
            .query_one(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO companies (id, name, stytch_organization_id) VALUES (gen_random_uuid(), $1, $1) RETURNING id",
                [org.into()],
            ))
            .await
            .unwrap_or_else(|e| panic!("insert company: {e:?}"))
            .unwrap_or_else(|| panic!("no row"));
        row.try_get("", "id")
            .unwrap_or_else(|e| panic!("id: {e:?}"))
    }

    /// Inserts `n` provisioned users of `company` in one statement: `{prefix}{i}@example.com`,
    /// member id `{prefix}-member-{i}`, SCIM id `{prefix}-scim-{i}`, external id `{prefix}-ext-{i}`.
    pub async fn insert_users(&self, company: uuid::Uuid, prefix: &str, n: i64) {
        self.insert_users_at_level(company, prefix, n, "basic")
            .await;
    }

    /// [`TestEnv::insert_users`] with a stored permission level of `level`.
    pub async fn insert_users_at_level(
        &self,
        company: uuid::Uuid,
        prefix: &str,
        n: i64,
        level: &str,
    ) {
        self.db
            .execute(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO users (id, company_id, email, stytch_member_id, scim_id, external_id, scim_provisioned, permission_level)
                 SELECT gen_random_uuid(), $1, $2 || i || '@example.com', $2 || '-member-' || i,
                        $2 || '-scim-' || i, $2 || '-ext-' || i, true, $4
                 FROM generate_series(1, $3) AS i",
                [company.into(), prefix.into(), n.into(), level.into()],
            ))
            .await
            .unwrap_or_else(|e| panic!("insert users: {e:?}"));
    }

    /// Waits until at least `expected` sessions of this database wait on a lock (a worker
    /// stopped by a row or advisory lock the test holds): another worker's session may wait on
    /// the same lock beside the one the test is after. Fails the test after 30 s, naming the
    /// statements that were waiting then.
    pub async fn wait_for_lock_waiters(&self, expected: i64) {
        const WAITING: &str = "WHERE wait_event_type = 'Lock' AND datname = current_database()";
        let started = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(25));
        loop {
            tick.tick().await;
            let waiting = self
                .count(&format!(
                    "SELECT count(*) AS n FROM pg_stat_activity {WAITING}"
                ))
                .await;
            if waiting >= expected {
                return;
            }
            if started.elapsed() >= Duration::from_secs(30) {
                let rows = self
                    .db
                    .query_all(Statement::from_string(
                        DbBackend::Postgres,
                        format!(
                            "SELECT wait_event || ': ' || left(query, 200) AS q
                             FROM pg_stat_activity {WAITING}"
                        ),
                    ))
                    .await
                    .unwrap_or_default();
                let statements: Vec<String> = rows
                    .iter()
                    .filter_map(|r| r.try_get::<String>("", "q").ok())
                    .collect();
                panic!(
                    "timed out after 30 s waiting for {expected} session(s) waiting on a lock; \
                     {waiting} waiting: {statements:?}"
                );
            }
        }
    }

    /// Waits until [`TestEnv::count`] of `sql` reads `expected`; fails the test after `deadline`.
    pub async fn wait_count(&self, sql: &str, expected: i64, deadline: Duration) {
        crate::wait::wait_until(&format!("{expected} from {sql}"), deadline, || async {
            (self.count(sql).await == expected).then_some(())
        })
        .await;
    }
}

fn authed(http: &reqwest::Client, method: reqwest::Method, url: Url) -> reqwest::RequestBuilder {
    let api = rabbit_api();
    let user = api.username().to_owned();
    let password = api.password().map(str::to_owned);
    let mut clean = url;
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    http.request(method, clean)
        .basic_auth(user, password)
        .timeout(Duration::from_secs(30))
}

async fn rabbit_try(
    http: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Option<reqwest::Response> {
    let base = rabbit_api();
    let base = if base.path().ends_with('/') {
        base
    } else {
        Url::parse(&format!("{base}/")).ok()?
    };
    let url = base.join(path).ok()?;
    let mut request = authed(http, method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.ok()
}

async fn rabbit(
    http: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) {
    let response = rabbit_try(http, method, path, body)
        .await
        .unwrap_or_else(|| {
            panic!(
                "cannot reach the RabbitMQ management API at {} (run `make infra`)",
                rabbit_api()
            )
        });
    assert!(
        response.status().is_success(),
        "RabbitMQ API {path}: {}",
        response.status()
    );
}

fn is_stale(name: &str, now: i64) -> bool {
    name.strip_prefix(PREFIX)
        .and_then(|rest| rest.split('_').next())
        .and_then(|ts| ts.parse::<i64>().ok())
        .is_some_and(|created| now - created > 3600)
}

async fn sweep_databases(admin: &DatabaseConnection, now: i64) {
    let rows = admin
        .query_all(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT datname FROM pg_database WHERE datname LIKE '{PREFIX}%'"),
        ))
        .await
        .unwrap_or_default();
    for row in rows {
        if let Ok(name) = row.try_get::<String>("", "datname") {
            if is_stale(&name, now) {
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
            }
        }
    }
}

async fn sweep_vhosts(http: &reqwest::Client, now: i64) {
    let Some(response) = rabbit_try(http, reqwest::Method::GET, "vhosts", None).await else {
        return;
    };
    let Ok(vhosts) = response.json::<Vec<serde_json::Value>>().await else {
        return;
    };
    for vhost in vhosts {
        if let Some(name) = vhost["name"].as_str().filter(|n| is_stale(n, now)) {
            rabbit_try(
                http,
                reqwest::Method::DELETE,
                &format!("vhosts/{name}"),
                None,
            )
            .await;
        }
    }
}
