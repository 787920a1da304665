//! `/openapi.json` is a document clients can be built from: valid by a real OpenAPI validator
//! (`openapi-spec-validator`), with every parameter where the API reads it, and a client
//! generated from it (`openapi-python-client`) lists companies and reads the event log with
//! filters against the running API.
//!
//! These run here rather than in `deploy/checks/run.sh`: the document checked is the one the
//! admin API serves, which takes the API running against PostgreSQL, and the generated client
//! needs the API to talk to; `run.sh` checks files, offline. The tools are pinned in
//! `deploy/checks/requirements.txt` and installed once into `.local/venv` by
//! `deploy/checks/python-tools.sh`, which `make test` has run before the tests (it is run here
//! again, and does nothing when the venv is current).

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use scimsync_schema::Concern;
use scimsync_tests::app::Services;
use scimsync_tests::events::{create, event_id, t};
use scimsync_tests::python::{python_tools, repository_root, run};
use scimsync_tests::TestApp;
use serde_json::Value;
use uuid::Uuid;

/// A directory of this test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("scimsync-openapi-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Fetches `/openapi.json` from the running API and writes it into `scratch`.
async fn served_document(app: &TestApp, scratch: &Scratch) -> (Value, PathBuf) {
    let document = app.get("/openapi.json").await;
    let path = scratch.0.join("openapi.json");
    std::fs::write(&path, document.to_string()).expect("write document");
    (document, path)
}

#[tokio::test]
async fn the_served_document_is_valid_openapi_with_each_parameter_where_it_is_read() {
    let bin = python_tools().await;
    let app = TestApp::spawn_with(Services::ADMIN_ONLY, |_| {}).await;
    let scratch = Scratch::new();
    let (document, path) = served_document(&app, &scratch).await;
    let mut validate = Command::new(bin.join("openapi-spec-validator"));
    validate.arg(&path);
    let said = run(validate).await;
    assert!(said.contains("OK"), "{said}");

    // The validator checks the document is well formed; what each parameter says is ours.
    let mut operation_ids = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            operation_ids.push(operation["operationId"].as_str().expect("id").to_owned());
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().expect("name");
                let place = parameter["in"].as_str().expect("in");
                let in_path = path.contains(&format!("{{{name}}}"));
                assert_eq!(
                    (place, parameter["required"].as_bool()),
                    if in_path {
                        ("path", Some(true))
                    } else {
                        ("query", Some(false))
                    },
                    "{method} {path}: {parameter}"
                );
            }
        }
    }
    let events = &document["paths"]["/api/v1/companies/{company_id}/events"]["get"];
    let query: Vec<&str> = events["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter(|p| p["in"] == "query")
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        query,
        [
            "outcome",
            "concern",
            "user_id",
            "event_type",
            "since",
            "until",
            "limit",
            "cursor"
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_client_generated_from_the_document_lists_companies_and_filters_the_event_log() {
    let bin = python_tools().await;
    let app = TestApp::spawn().await;
    let company = app.register_company("org-openapi", &["example.com"]).await;
    let mut created = Vec::new();
    for i in 0..3 {
        let event = create(
            "org-openapi",
            &format!("m-{i}"),
            &format!("p{i}@example.com"),
            t(i),
        );
        app.accept(&event).await;
        app.logged_by(company, &event_id(&event), Concern::UserUpsert)
            .await;
        created.push(event_id(&event));
    }
    let rejected = create("org-openapi", "m-x", "x@elsewhere.org", t(9));
    app.accept(&rejected).await;
    app.logged_by(company, &event_id(&rejected), Concern::UserUpsert)
        .await;

    let scratch = Scratch::new();
    let (_, document) = served_document(&app, &scratch).await;
    let package = scratch.0.join("scimsync_admin_client");
    let mut generate = Command::new(bin.join("openapi-python-client"));
    generate
        .args(["generate", "--meta", "none", "--fail-on-warning", "--path"])
        .arg(&document)
        .arg("--output-path")
        .arg(&package)
        // Its formatting step runs `ruff`, installed beside it.
        .env("PATH", path_with(&bin));
    run(generate).await;

    let mut client = Command::new(bin.join("python"));
    client
        .arg(repository_root().join("tests/openapi/use_generated_client.py"))
        .arg(&app.admin_url)
        .arg(company.to_string())
        .arg("p0@example.com")
        .env("PYTHONPATH", &scratch.0);
    let output = run(client).await;
    let seen: Value = serde_json::from_str(&output).unwrap_or_else(|e| panic!("{e}: {output}"));

    assert_eq!(
        seen["companies"],
        serde_json::json!(["Company org-openapi"])
    );
    assert_eq!(seen["rejected"], serde_json::json!([event_id(&rejected)]));
    let user = seen["user_id"].as_str().expect("user id");
    assert_eq!(seen["by_user_ids"], serde_json::json!([user]), "{seen}");
    assert!(
        seen["by_user"]
            .as_array()
            .expect("by user")
            .contains(&Value::from(created[0].clone())),
        "{seen}"
    );
    // Newest received first, two a page, every created row once.
    let newest_first: Vec<Value> = created.iter().rev().cloned().map(Value::from).collect();
    assert_eq!(
        seen["created_pages"],
        serde_json::json!([newest_first[..2], newest_first[2..]]),
        "{seen}"
    );
    assert_eq!(seen["refused"], serde_json::json!([400, "invalid_cursor"]));
    app.stop().await;
}

/// `PATH` with `bin` first.
fn path_with(bin: &Path) -> std::ffi::OsString {
    let mut paths = vec![bin.to_path_buf()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).expect("PATH")
}
