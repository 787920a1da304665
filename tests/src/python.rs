//! The Python tools some tests run (pinned in `deploy/checks/requirements.txt`, installed once
//! into `.local/venv` by `deploy/checks/python-tools.sh`, which `make test` runs before the
//! tests). A tool that cannot be installed fails the test that needs it: a check that silently
//! did not run is not a check that passed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The checkout's root.
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `command` off the runtime (the services it talks to run on it) and returns its output,
/// whatever its exit status; fails the test only if it cannot be started.
pub async fn output(mut command: Command) -> Output {
    let shown = format!("{command:?}");
    tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("{shown}: {e}"))
}

/// Runs `command` as [`output`] does and returns its standard output; fails the test with both
/// outputs if it exits unsuccessfully.
pub async fn run(command: Command) -> String {
    let shown = format!("{command:?}");
    let output = output(command).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{shown}: {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The venv's `bin` directory, with the pinned tools installed (installing them if the venv is
/// not current: the script does nothing when it is).
pub async fn python_tools() -> PathBuf {
    let script = repository_root().join("deploy/checks/python-tools.sh");
    let venv = run(Command::new(script)).await;
    PathBuf::from(venv.trim()).join("bin")
}
