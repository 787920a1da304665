//! A client that speaks SCIM to the service with a bearer token, and the answers it reads.

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

use super::{PATCH_OP, SCIM_JSON, USER_SCHEMA};

/// An answer: status, headers and JSON body (`Null` when there is none).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body's `id`.
    pub fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {} {}", self.status, self.body))
            .to_owned()
    }

    /// Asserts the status, showing the body if it differs.
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "answered {}", self.body);
        self
    }

    /// Asserts a SCIM error of this status and `scimType` (`None`: no scimType).
    pub fn expect_error(self, status: u16, scim_type: Option<&str>) -> Self {
        assert_eq!(self.status, status, "answered {}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some(SCIM_JSON),
            "{}",
            self.body
        );
        assert_eq!(
            self.body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
        );
        assert_eq!(self.body["status"], status.to_string(), "{}", self.body);
        assert_eq!(self.body["scimType"].as_str(), scim_type, "{}", self.body);
        self
    }
}

/// Speaks SCIM to the service with a bearer token.
#[derive(Clone)]
pub struct ScimClient {
    pub http: reqwest::Client,
    /// The tenant URL: `http://127.0.0.1:<port>/scim/v2`.
    pub base: String,
    pub token: Option<String>,
}

impl ScimClient {
    /// A request to `path` (relative to the tenant URL), authenticated.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => r.bearer_auth(token),
            None => r,
        }
    }

    pub async fn send(r: reqwest::RequestBuilder) -> Answer {
        let response = r.send().await.expect("send");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        Self::send(self.request(Method::GET, path)).await
    }

    /// `method` with a JSON body sent as `application/scim+json`.
    pub async fn with_body(&self, method: Method, path: &str, body: &Value) -> Answer {
        Self::send(
            self.request(method, path)
                .header("content-type", SCIM_JSON)
                .body(serde_json::to_vec(body).expect("json")),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.with_body(Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        self.with_body(Method::PUT, path, body).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Answer {
        self.with_body(Method::PATCH, path, body).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        Self::send(self.request(Method::DELETE, path)).await
    }

    /// Creates a user with this userName (and the same work email) and returns its id.
    pub async fn create_user(&self, user_name: &str) -> String {
        self.post(
            "/Users",
            &json!({
                "schemas": [USER_SCHEMA],
                "userName": user_name,
                "active": true,
                "emails": [{"value": user_name, "type": "work", "primary": true}],
            }),
        )
        .await
        .expect(201)
        .id()
    }

    /// The ids of the users a filter finds.
    pub async fn find(&self, endpoint: &str, filter: &str) -> Vec<String> {
        let path = format!("{endpoint}?filter={}", urlencode(filter));
        let answer = self.get(&path).await.expect(200);
        answer.body["Resources"]
            .as_array()
            .expect("Resources")
            .iter()
            .map(|r| r["id"].as_str().expect("id").to_owned())
            .collect()
    }
}

/// Percent-encodes a query parameter's value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A PatchOp body.
pub fn patch_op(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}
