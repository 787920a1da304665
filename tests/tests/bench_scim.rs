//! `scimsim bench`'s SCIM scenarios, run small against the in-process services: the create rate
//! next to the reference server `scim2-server` (started by the benchmark from the pinned venv),
//! end to end until the admin API shows the users, the tenants' latency, and the userName
//! filter in a large company against a small one. No timing is checked (benchmarks are not
//! tests): only that every scenario runs, finds what it created, and writes its rows.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use clap::Parser;
use scimsim::{Cli, Command};
use scimsync_tests::scim::ScimService;
use scimsync_tests::TestApp;
use uuid::Uuid;

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The reference server, installed by the script that pins it.
fn scim2_server() -> PathBuf {
    let output =
        std::process::Command::new(repository_root().join("deploy/checks/python-tools.sh"))
            .output()
            .expect("deploy/checks/python-tools.sh runs");
    assert!(
        output.status.success(),
        "python-tools.sh: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()).join("bin/scim2-server")
}

/// The table row whose figure starts with `name`: its cells.
fn row<'a>(document: &'a str, name: &str) -> Vec<&'a str> {
    let line = document
        .lines()
        .find(|l| l.starts_with(&format!("| {name}")))
        .unwrap_or_else(|| panic!("no row {name:?} in\n{document}"));
    line.trim_matches('|').split(" | ").map(str::trim).collect()
}

#[tokio::test]
async fn the_scim_scenarios_run_small_and_write_a_row_for_each_figure() {
    let app = TestApp::spawn().await;
    // As deploy/bench/run.sh runs it: one company's creates are not held to the rate limit.
    let scim = ScimService::start_with(&app, |s| {
        s.scim.rate_per_second = 1_000_000;
        s.scim.rate_burst = 1_000_000;
    })
    .await;
    let reference = scim2_server();
    let scratch = std::env::temp_dir().join(format!("scimsync-bench-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&scratch).unwrap();
    let results = scratch.join("results.md");
    let scim_url = format!("{}/scim/v2", scim.url);
    let rabbit_api = scimsync_tests::env::rabbit_api().to_string();
    let cli = Cli::try_parse_from([
        "scimsim",
        "bench",
        "--only",
        "scim-create,scim-tenants,scim-filter",
        "--runs",
        "1",
        "--scim-creates",
        "60",
        "--visible-samples",
        "6",
        "--scim-tenants",
        "3",
        "--scim-tenant-rate",
        "10",
        "--scim-load-secs",
        "2",
        "--scim-filter-users",
        "500",
        "--scim-filter-samples",
        "20",
        "--ingest-url",
        &app.ingest_url,
        "--admin-url",
        &app.admin_url,
        "--scim-url",
        &scim_url,
        "--rabbit-api",
        &rabbit_api,
        "--rabbit-vhost",
        &app.env.name,
        "--scim-reference",
        reference.to_str().unwrap(),
        "--pid-dir",
        scratch.to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
    ])
    .expect("the options parse");
    let Command::Bench(args) = cli.command else {
        panic!("not bench");
    };
    scimsim::bench::run(&app.settings, args)
        .await
        .expect("the SCIM scenarios run");
    let document = std::fs::read_to_string(&results).unwrap();
    for name in [
        "SCIM create rate, answered: 60 User creates",
        "SCIM create rate, answered, of scim2-server",
        "SCIM create rate: scimsync / scim2-server",
        "SCIM end-to-end rate",
        "SCIM create-to-visible p99",
        "SCIM latency p99: 3 tenants at 10 requests/s each",
        "SCIM userName filter median, 10-user company",
        "SCIM userName filter median, 500-user company",
        "SCIM userName filter: 500-user / 10-user company",
    ] {
        let cells = row(&document, name);
        // Figure, goal, median, min, max, runs, verdict: one run, with a value.
        assert_eq!(cells[5], "1", "{name}: {cells:?}");
        assert_ne!(cells[2], "-", "{name}: {cells:?}");
    }
    // Every create was answered 201 by both, and every user reached the product.
    assert!(
        document.contains("scimsync 60 answered 201")
            && document.contains("scim2-server 60 answered 201")
            && document.contains("the admin API showed all 60"),
        "{document}"
    );
    let _ = std::fs::remove_dir_all(&scratch);
    scim.stop().await;
    app.stop().await;
}
