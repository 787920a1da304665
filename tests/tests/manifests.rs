//! The deployment files (k8s/, deploy/) agree with the code: they name only settings the
//! services actually read, and the RabbitMQ definitions they ship are the topology the services
//! declare.
//!
//! A misspelt `SCIMSYNC__SECTION__KEY` in a manifest is silently ignored at run time (the
//! service keeps its default), so every such name found in those folders must be one of
//! `scimsync_platform::settings::known_env_vars()`. Needs no broker or database.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use scimsync_platform::amqp::topology::{definitions, full_plan};
use scimsync_platform::settings::{env_vars_of, known_env_vars};
use scimsync_platform::Settings;

const PREFIX: &str = "SCIMSYNC__";
const SCANNED: &[&str] = &["k8s", "deploy"];

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every file under `dir`, recursively, in a stable order.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry
                .map_err(|e| format!("reading {}: {e}", dir.display()))?
                .path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The `SCIMSYNC__[A-Z0-9_]+` tokens in `text`.
fn setting_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(PREFIX) {
        let after = &rest[start + PREFIX.len()..];
        let len = after
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(after.len());
        if len > 0 {
            names.push(format!("{PREFIX}{}", &after[..len]));
        }
        rest = &after[len..];
    }
    names
}

/// Setting name -> the files (relative to the repository root) that mention it.
fn settings_named_in_deployment_files() -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let root = repository_root();
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for folder in SCANNED {
        for file in files_under(&root.join(folder))? {
            let bytes = fs::read(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
            let shown = file
                .strip_prefix(&root)
                .unwrap_or(&file)
                .display()
                .to_string();
            for name in setting_names(&String::from_utf8_lossy(&bytes)) {
                found.entry(name).or_default().insert(shown.clone());
            }
        }
    }
    Ok(found)
}

#[test]
fn every_setting_named_in_a_manifest_is_read_by_the_services() -> Result<(), String> {
    // The shared sections, and the sections a service owns.
    let known: BTreeSet<String> = known_env_vars()
        .into_iter()
        .chain(env_vars_of(scimsync_manager_linker::settings::DEFAULTS))
        .collect();
    let unknown: Vec<String> = settings_named_in_deployment_files()?
        .into_iter()
        .filter(|(name, _)| !known.contains(name))
        .flat_map(|(name, files)| {
            files
                .into_iter()
                .map(move |file| format!("  {file}: {name}"))
        })
        .collect();
    assert!(
        unknown.is_empty(),
        "settings named in k8s/ or deploy/ that no service reads:\n{}\nknown settings:\n  {}",
        unknown.join("\n"),
        known.into_iter().collect::<Vec<_>>().join("\n  "),
    );
    Ok(())
}

#[test]
fn the_manifest_scan_finds_the_settings_the_deployments_set() -> Result<(), String> {
    let found = settings_named_in_deployment_files()?;
    // The check above would pass vacuously if the scan found nothing (moved folders, a broken
    // tokenizer): the deployments set at least these, and both folders name settings.
    for name in [
        "SCIMSYNC__AMQP__URL",
        "SCIMSYNC__DATABASE__URL",
        "SCIMSYNC__INGEST__WEBHOOK_SECRETS",
        "SCIMSYNC__ADMIN__TOKEN",
        "SCIMSYNC__WORKER__SHUTDOWN_GRACE_SECS",
        "SCIMSYNC__INGEST__LISTEN",
    ] {
        assert!(
            found.contains_key(name),
            "{name} not found in k8s/ or deploy/; found: {:?}",
            found.keys()
        );
    }
    for folder in SCANNED {
        let names = found
            .iter()
            .filter(|(_, files)| files.iter().any(|f| f.starts_with(&format!("{folder}/"))))
            .count();
        assert!(names >= 3, "only {names} settings named under {folder}/");
    }
    assert!(
        found.len() >= 10,
        "only {} distinct settings found: {:?}",
        found.len(),
        found.keys()
    );
    Ok(())
}

#[test]
fn the_shipped_rabbitmq_definitions_are_the_topology_the_services_declare() -> Result<(), String> {
    // The file is `scimctl topology export` output; a stale copy would make an operator's
    // import disagree with the services' own declarations (the broker rejects those).
    let path = repository_root().join("k8s/base/rabbitmq/definitions.json");
    let shipped =
        fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let defaults = Settings::load_from(Vec::new()).map_err(|e| e.to_string())?;
    let declared = format!(
        "{:#}\n",
        definitions(&full_plan(defaults.amqp.delivery_limit), "/")
    );
    assert!(
        shipped == declared,
        "k8s/base/rabbitmq/definitions.json is stale; regenerate it with\n  \
         cargo run --bin scimctl -- topology export > k8s/base/rabbitmq/definitions.json",
    );
    Ok(())
}

#[test]
fn setting_names_are_cut_at_the_first_character_outside_the_name() {
    assert_eq!(
        setting_names("- name: SCIMSYNC__AMQP__URL\n  key: SCIMSYNC__AMQP__URL}"),
        ["SCIMSYNC__AMQP__URL", "SCIMSYNC__AMQP__URL"]
    );
    assert_eq!(
        setting_names("SCIMSYNC__INGEST__LISTEN=0.0.0.0:8080"),
        ["SCIMSYNC__INGEST__LISTEN"]
    );
    assert!(setting_names("SCIMSYNC__* and SCIMSYNC_TEST_DATABASE_URL").is_empty());
}
