//! The SCIM requests an identity provider makes, retried the way Entra's provisioning service
//! retries: a 5xx, a 429 (after its `Retry-After`) or no answer is tried again; any other answer
//! is final.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Where the SCIM service is and how the company authenticates.
#[derive(Debug, Clone)]
pub struct ScimTarget {
    /// The tenant URL, `http://host:port/scim/v2`.
    pub base: String,
    pub token: String,
    /// How long a request keeps being retried.
    pub retry_for: Duration,
}

/// One finished request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub attempts: u32,
    pub latency: Option<Duration>,
}

const SCIM_JSON: &str = "application/scim+json";

impl ScimTarget {
    /// Sends until a final answer.
    pub async fn send(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Answer {
        self.send_within(http, method, path, body, self.retry_for)
            .await
    }

    /// Sends once: no retry after a 5xx, a 429 or no answer (for a request that is not safe to
    /// repeat blindly).
    pub async fn send_once(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Answer {
        self.send_within(http, method, path, body, Duration::ZERO)
            .await
    }

    async fn send_within(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        retry_for: Duration,
    ) -> Answer {
        let first = Instant::now();
        let mut backoff = Duration::from_millis(50);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let started = Instant::now();
            let mut request = http
                .request(method.clone(), format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .header("accept", SCIM_JSON);
            if let Some(body) = body {
                request = request
                    .header("content-type", SCIM_JSON)
                    .body(body.to_string());
            }
            let (status, wait, answer) = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let wait = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let body = response.json::<Value>().await.unwrap_or(Value::Null);
                    (status, wait, body)
                }
                Err(_) => (0, None, Value::Null),
            };
            let retry = status == 0 || status == 429 || status >= 500;
            let pause = wait.unwrap_or(backoff);
            if !retry || first.elapsed() + pause > retry_for {
                return Answer {
                    status,
                    body: answer,
                    attempts,
                    latency: (status != 0).then(|| started.elapsed()),
                };
            }
            tokio::time::sleep(pause).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// `GET /Users?filter=userName eq "..."`: Entra's match before a create.
    pub async fn find_user(
        &self,
        http: &reqwest::Client,
        user_name: &str,
    ) -> (Answer, Option<String>) {
        let filter = format!("userName eq \"{}\"", user_name.replace('"', "\\\""));
        let path = format!("/Users?filter={}", urlencode(&filter));
        let answer = self.send(http, reqwest::Method::GET, &path, None).await;
        let id = answer.body["Resources"][0]["id"]
            .as_str()
            .map(str::to_owned);
        (answer, id)
    }
}

/// Percent-encodes a query value.
pub fn urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A PatchOp request body.
pub fn patch(operations: Vec<Value>) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": operations,
    })
}
