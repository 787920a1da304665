//! The admin API as the simulator uses it: register the company, read every user (paginated),
//! one user by email, a manager's reports, and event log counts.

use anyhow::Context;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

#[derive(Clone)]
pub struct Admin {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// A user as `GET /api/v1/companies/{id}/users` shows it (the fields the simulator checks).
#[derive(Debug, Clone, Deserialize)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub active: bool,
    pub permission_level: String,
    pub manager_id: Option<Uuid>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub division: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    pub business_phone: Option<String>,
    pub mobile_phone: Option<String>,
    pub employee_number: Option<String>,
    pub stytch_member_id: Option<String>,
    pub external_id: Option<String>,
    #[serde(default)]
    pub groups: Vec<GroupRow>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GroupRow {
    pub idp_group_id: String,
}

#[derive(Deserialize)]
struct UserPage {
    users: Vec<UserRow>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct EventPage {
    events: Vec<serde_json::Value>,
    next_cursor: Option<String>,
}

/// The result of registering a company.
pub enum Registered {
    Created(Uuid),
    /// 409: the organization id is taken.
    Taken,
}

impl Admin {
    pub fn new(http: reqwest::Client, base: &str, token: Option<String>) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.get(format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn json<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let response = self
            .get(path)
            .send()
            .await
            .with_context(|| format!("GET {}{path}", self.base))?;
        let status = response.status();
        anyhow::ensure!(
            status.is_success(),
            "GET {}{path} answered {status}: {}",
            self.base,
            response.text().await.unwrap_or_default()
        );
        response
            .json()
            .await
            .with_context(|| format!("GET {}{path}: unexpected body", self.base))
    }

    pub async fn register(&self, name: &str, organization_id: &str) -> anyhow::Result<Registered> {
        let url = format!("{}/api/v1/companies", self.base);
        let mut request = self
            .http
            .post(&url)
            .json(&json!({ "name": name, "stytch_organization_id": organization_id }));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("POST {url} (is the admin API up?)"))?;
        let status = response.status();
        if status == reqwest::StatusCode::CONFLICT {
            return Ok(Registered::Taken);
        }
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        anyhow::ensure!(status.is_success(), "POST {url} answered {status}: {body}");
        body["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .map(Registered::Created)
            .with_context(|| format!("POST {url}: no company id in {body}"))
    }

    /// Registers a company of the SCIM door (no Stytch organisation) and creates its SCIM
    /// bearer token; returns both.
    pub async fn register_scim(&self, name: &str) -> anyhow::Result<(Uuid, String)> {
        let post = |path: String, body: serde_json::Value| {
            let request = self.http.post(format!("{}{path}", self.base)).json(&body);
            match &self.token {
                Some(token) => request.bearer_auth(token),
                None => request,
            }
        };
        let response = post("/api/v1/companies".into(), json!({ "name": name }))
            .send()
            .await
            .with_context(|| {
                format!("POST {}/api/v1/companies (is the admin API up?)", self.base)
            })?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        anyhow::ensure!(
            status.is_success(),
            "registering a company answered {status}: {body}"
        );
        let company: Uuid = body["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .with_context(|| format!("no company id in {body}"))?;
        let response = post(
            format!("/api/v1/companies/{company}/scim/tokens"),
            json!({ "label": "scimsim" }),
        )
        .send()
        .await
        .context("creating a SCIM token")?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        anyhow::ensure!(
            status.is_success(),
            "creating a SCIM token answered {status}"
        );
        let token = body["token"]
            .as_str()
            .context("no token in the answer")?
            .to_owned();
        Ok((company, token))
    }

    /// Every user of the company, all pages.
    pub async fn users(&self, company: Uuid) -> anyhow::Result<Vec<UserRow>> {
        let mut all = Vec::new();
        let mut cursor = String::new();
        loop {
            let page: UserPage = self
                .json(&format!(
                    "/api/v1/companies/{company}/users?limit=500&cursor={cursor}"
                ))
                .await?;
            all.extend(page.users);
            match page.next_cursor {
                Some(next) => cursor = next,
                None => return Ok(all),
            }
        }
    }

    pub async fn user_by_email(
        &self,
        company: Uuid,
        email: &str,
    ) -> anyhow::Result<Option<UserRow>> {
        let page: UserPage = self
            .json(&format!(
                "/api/v1/companies/{company}/users?email={}",
                encode(email)
            ))
            .await?;
        Ok(page.users.into_iter().next())
    }

    /// Ids of a user's direct reports.
    pub async fn reports(&self, company: Uuid, user: Uuid) -> anyhow::Result<Vec<Uuid>> {
        #[derive(Deserialize)]
        struct Reports {
            users: Vec<UserRow>,
        }
        let reports: Reports = self
            .json(&format!("/api/v1/companies/{company}/users/{user}/reports"))
            .await?;
        Ok(reports.users.into_iter().map(|u| u.id).collect())
    }

    /// How many event log entries have this outcome (all pages).
    pub async fn count_events(&self, company: Uuid, outcome: &str) -> anyhow::Result<usize> {
        let mut count = 0;
        let mut cursor = String::new();
        loop {
            let page: EventPage = self
                .json(&format!(
                    "/api/v1/companies/{company}/events?outcome={outcome}&limit=500&cursor={cursor}"
                ))
                .await?;
            count += page.events.len();
            match page.next_cursor {
                Some(next) => cursor = next,
                None => return Ok(count),
            }
        }
    }
}

/// Percent-encodes a query value (emails hold `+` and `@`).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
