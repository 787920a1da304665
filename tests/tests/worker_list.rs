//! Everything that names the workers agrees with the one list, `Concern::ALL`: the binaries the
//! workspace builds and the image copies, the Kubernetes folders and their KEDA objects, the
//! overlays' replica bounds, the compose file, the local scripts. The topology and the RabbitMQ
//! definitions derive from the list (`manifests.rs` checks the shipped file), and so does the
//! in-process test system (`scimsync_tests::workers`). Needs no broker or database.
//!
//! `docs/adding-a-worker.md` lists the same places; each failure here says which file to change.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use scimsync_schema::Concern;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn concerns() -> BTreeSet<&'static str> {
    Concern::ALL.iter().map(|c| c.as_str()).collect()
}

/// The names of the folders directly under `dir`.
fn folders(dir: &str) -> BTreeSet<String> {
    fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("reading {dir}: {e}"))
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The words of a shell `NAME="a b c"` assignment.
fn shell_list(text: &str, name: &str) -> Option<BTreeSet<String>> {
    let start = text.find(&format!("\n{name}=\""))? + name.len() + 3;
    let end = start + text[start..].find('"')?;
    Some(
        text[start..end]
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    )
}

#[test]
fn each_worker_is_a_binary_of_its_own_crate_and_in_the_image() {
    let dockerfile = read("deploy/Dockerfile");
    for concern in Concern::ALL {
        let manifest = read(&format!("services/{concern}/Cargo.toml"));
        assert!(
            manifest.contains(&format!("name = \"scimsync-{concern}\""))
                && manifest.contains(&format!("[[bin]]\nname = \"{concern}\"")),
            "services/{concern}/Cargo.toml must be package scimsync-{concern} with a [[bin]] named {concern}"
        );
        assert!(
            dockerfile.contains(&format!("target/release/{concern} ")),
            "deploy/Dockerfile does not copy {concern} into the image"
        );
    }
}

#[test]
fn each_worker_has_a_kubernetes_folder_scaled_on_its_own_queue() {
    let expected: BTreeSet<String> = concerns().into_iter().map(str::to_owned).collect();
    assert_eq!(
        folders("k8s/base/workers"),
        expected,
        "k8s/base/workers/ has one folder per worker"
    );
    let listed = read("k8s/base/workers/kustomization.yaml");
    for concern in Concern::ALL {
        let dir = format!("k8s/base/workers/{concern}");
        assert!(
            listed.contains(&format!("\n  - {concern}\n")),
            "k8s/base/workers/kustomization.yaml does not list {concern}"
        );
        let deployment = read(&format!("{dir}/deployment.yaml"));
        assert!(
            deployment.contains(&format!("command: [\"{concern}\"]")),
            "{dir}/deployment.yaml does not run {concern}"
        );
        let scaled = read(&format!("{dir}/scaledobject.yaml"));
        let queue = concern.queue().name;
        assert!(
            scaled.contains(&format!("queueName: {queue}\n"))
                && scaled.contains(&format!("scaleTargetRef:\n    name: {concern}\n")),
            "{dir}/scaledobject.yaml must scale {concern} on {queue}"
        );
        for overlay in folders("k8s/overlays") {
            let scaling = format!("k8s/overlays/{overlay}/scaling/{concern}.yaml");
            assert!(
                root().join(&scaling).is_file()
                    && read(&format!("k8s/overlays/{overlay}/kustomization.yaml"))
                        .contains(&format!("path: scaling/{concern}.yaml")),
                "{scaling} (replica bounds) missing or not patched in by its kustomization"
            );
        }
    }
}

#[test]
fn compose_and_the_local_scripts_run_every_worker() {
    let compose = read("deploy/docker-compose.yml");
    let services = read("deploy/local/services.sh");
    let listed = shell_list(&services, "SERVICES").expect("SERVICES=\"...\" in services.sh");
    // The other services/ crates are the HTTP services and the operator CLI, not workers.
    let others: BTreeSet<String> = folders("services")
        .into_iter()
        .filter(|name| !concerns().contains(name.as_str()))
        .collect();
    for concern in Concern::ALL {
        assert!(
            compose.contains(&format!("command: [\"{concern}\"]")),
            "deploy/docker-compose.yml has no service running {concern}"
        );
        assert!(
            listed.contains(concern.as_str()),
            "deploy/local/services.sh SERVICES does not start {concern}"
        );
    }
    for word in &listed {
        assert!(
            concerns().contains(word.as_str()) || others.contains(word),
            "deploy/local/services.sh starts {word}, which is neither a worker nor a service"
        );
    }
    // The benchmark resumes every paused worker on its way out; the drill crashes each one.
    let bench = read("deploy/bench/run.sh");
    let resumed = format!(
        "for name in {}; do",
        Concern::ALL
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    assert!(bench.contains(&resumed), "deploy/bench/run.sh: `{resumed}`");
    let drill = read("deploy/local/drill.sh");
    for concern in Concern::ALL {
        assert!(
            drill.contains(&format!(" {concern} ")),
            "deploy/local/drill.sh never crashes {concern}"
        );
    }
}

/// The checks above would pass vacuously if the list were empty or the lookups broken.
#[test]
fn the_worker_list_checks_can_fail() {
    assert!(Concern::ALL.len() >= 3);
    assert_eq!(
        shell_list("\nSERVICES=\"ingest user-upsert\"\n", "SERVICES"),
        Some(BTreeSet::from([
            "ingest".to_owned(),
            "user-upsert".to_owned()
        ]))
    );
    assert!(!read("deploy/Dockerfile").contains("target/release/no-such-worker "));
    assert!(folders("k8s/base/workers").len() >= 3);
}
