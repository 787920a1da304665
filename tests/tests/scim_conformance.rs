//! Two independent SCIM conformance suites, run against a fresh tenant of the scim service,
//! find nothing to fail: python-scim's `scim2-tester` (discovery, CRUD and PATCH of every
//! attribute of every resource type the server publishes) and `scim-sanity probe` (discovery,
//! User and Group lifecycles, search, errors). Both are pinned in
//! `deploy/checks/requirements.txt` and installed by `deploy/checks/python-tools.sh` (which
//! `make test` runs before the tests, and these run again); a suite that cannot be installed or
//! run fails the test, as one that reports nothing does: a suite that did not run has not
//! passed. `docs/scim.md` ("Conformance") says how to run them by hand.
//!
//! A check is failed when the suite says so (scim2-tester: `ERROR` or `CRITICAL`, a MUST broken;
//! scim-sanity: `fail` or `error`). Where a suite's check is itself wrong against RFC 7643/7644,
//! the server is not bent to it: the check is listed below with the RFC's words, and
//! docs/scim.md lists it too. An exception the suite no longer needs fails the test, so the
//! list cannot outlive its reason.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::process::Command;

use scimsync_tests::python::{output, python_tools, repository_root};
use scimsync_tests::scim::{start, tenant};
use serde_json::Value;

/// A suite's check that is wrong against the RFCs, and why.
struct Exception {
    /// The check as [`Failure::check`] names it.
    check: &'static str,
    /// What the RFC says instead.
    why: &'static str,
}

/// A Group's `members` as the server shows them: `display` filled in from the User.
const MEMBERS_DISPLAY: &str = "RFC 7643 §2.4 makes `display` a sub-attribute of every \
    multi-valued attribute, and the Group examples of §4.2 and §8.4 show members with it; this \
    server fills it in (readOnly in its schema) from the User's name. RFC 7644 §3.5.2 has the \
    server return the resource as it now is, so the member read back holds a `display` the \
    client did not send; the check compares the whole member object and calls that a failure.";

/// scim2-tester's checks that this service does not follow, and why.
const SCIM2_TESTER_EXCEPTIONS: &[Exception] = &[
    Exception {
        check: "check_add_attribute Group members",
        why: MEMBERS_DISPLAY,
    },
    Exception {
        check: "check_replace_attribute Group members",
        why: MEMBERS_DISPLAY,
    },
];

/// A Group PATCH is answered 204 (what Entra expects, SPEC §6).
const GROUP_PATCH_204: &str = "RFC 7644 §3.5.2: on success the server \"either MUST return a \
    200 OK response code and the entire resource within the response body ... or MAY return \
    HTTP status code 204 (No Content)\"; this server answers a Group PATCH 204 (200 with the \
    Group when `attributes` asks for it, as §3.5.2 requires), and the probe takes only 200.";

/// scim-sanity's checks that this service does not follow, and why.
const SCIM_SANITY_EXCEPTIONS: &[Exception] = &[
    Exception {
        check: "PATCH /Groups/{id}",
        why: GROUP_PATCH_204,
    },
    Exception {
        check: "PATCH /Groups/{id} remove members",
        why: GROUP_PATCH_204,
    },
    Exception {
        check: "PATCH /Groups/{id} add member",
        why: "the probe adds the member `fake-member-id`, which is no resource's id. RFC 7643 \
              §4.2: a member's `value` \"contains the value of an 'id' attribute of a SCIM \
              resource\"; this server refuses anything but a User of the same company with 400 \
              `invalidValue` (RFC 7644 §3.12: \"the value specified was not compatible with \
              the operation or attribute type\"), so a group never lists a member that does \
              not exist. The probe expects the dangling reference to be accepted.",
    },
];

/// One failed check: its name and what the suite said.
#[derive(Debug)]
struct Failure {
    check: String,
    said: String,
}

/// Fails the test on any failure not in `exceptions`, naming each, and on any exception that
/// was not needed; `passed` is how many checks passed, which must be at least `at_least` (a suite
/// that checked nothing has not found nothing).
fn judge(
    suite: &str,
    failures: &[Failure],
    exceptions: &[Exception],
    passed: usize,
    at_least: usize,
) {
    eprintln!("{suite}: {passed} checks passed, {} failed", failures.len());
    let excepted: BTreeSet<&str> = exceptions.iter().map(|e| e.check).collect();
    let failed: Vec<String> = failures
        .iter()
        .filter(|f| !excepted.contains(f.check.as_str()))
        .map(|f| format!("- {}: {}", f.check, f.said))
        .collect();
    assert!(
        failed.is_empty(),
        "{suite} found {} failure(s):\n{}",
        failed.len(),
        failed.join("\n")
    );
    let met: BTreeSet<&str> = failures.iter().map(|f| f.check.as_str()).collect();
    for exception in exceptions {
        assert!(
            met.contains(exception.check),
            "{suite} no longer fails {:?} (excepted because {}): remove the exception here and \
             in docs/scim.md",
            exception.check,
            exception.why
        );
    }
    assert!(
        passed >= at_least,
        "{suite} passed only {passed} checks (expected at least {at_least}): did it run?"
    );
}

#[tokio::test]
async fn scim2_tester_finds_nothing_to_fail_on_a_fresh_tenant() {
    let bin = python_tools().await;
    let (app, scim) = start().await;
    let t = tenant(&app, "Conformance scim2-tester", &[]).await;

    let mut check = Command::new(bin.join("python"));
    check
        .arg(repository_root().join("tests/conformance/check_scim_server.py"))
        .arg(format!("{}/scim/v2", scim.url))
        .env("SCIM_TOKEN", &t.token);
    let out = output(check).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scim2-tester did not run: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let failures: Vec<Failure> = results
        .iter()
        .filter(|r| r["status"] == "ERROR" || r["status"] == "CRITICAL")
        .map(|r| Failure {
            // `check_add_attribute Group members`: the check, the resource type, the attribute.
            check: ["title", "resource_type", "urn"]
                .iter()
                .filter_map(|k| r[*k].as_str())
                .collect::<Vec<_>>()
                .join(" "),
            said: format!("{} {}; data: {}", r["status"], r["reason"], r["data"]),
        })
        .collect();
    let passed = results.iter().filter(|r| r["status"] == "SUCCESS").count();
    // What is not a failure but not a plain pass either (a SHOULD not followed, a check
    // skipped), shown with the test's output.
    for r in results.iter().filter(|r| r["status"] != "SUCCESS") {
        eprintln!(
            "scim2-tester {}: {} {} {}",
            r["status"], r["title"], r["resource_type"], r["reason"]
        );
    }
    judge(
        "scim2-tester",
        &failures,
        SCIM2_TESTER_EXCEPTIONS,
        passed,
        100,
    );
    scim.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn scim_sanity_finds_nothing_to_fail_on_a_fresh_tenant() {
    let bin = python_tools().await;
    let (app, scim) = start().await;
    let t = tenant(&app, "Conformance scim-sanity", &[]).await;

    let mut probe = Command::new(bin.join("scim-sanity"));
    probe
        .arg("probe")
        .arg(format!("{}/scim/v2", scim.url))
        .args(["--token", &t.token])
        .args(["--strict", "--json-output", "--i-accept-side-effects"]);
    let out = output(probe).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "scim-sanity did not report ({e}): {}\nstdout:\n{stdout}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let results = report["results"].as_array().expect("results");
    let failures: Vec<Failure> = results
        .iter()
        .filter(|r| r["status"] == "fail" || r["status"] == "error")
        .map(|r| Failure {
            check: r["name"].as_str().unwrap_or("?").to_owned(),
            said: format!("{} {}", r["status"], r["message"]),
        })
        .collect();
    // Its exit status says the same as its report.
    assert_eq!(
        out.status.success(),
        failures.is_empty(),
        "{}: {stdout}",
        out.status
    );
    let passed = results.iter().filter(|r| r["status"] == "pass").count();
    for r in results.iter().filter(|r| r["status"] != "pass") {
        eprintln!(
            "scim-sanity {}: {} {}",
            r["status"], r["name"], r["message"]
        );
    }
    judge("scim-sanity", &failures, SCIM_SANITY_EXCEPTIONS, passed, 20);
    scim.stop().await;
    app.stop().await;
}
