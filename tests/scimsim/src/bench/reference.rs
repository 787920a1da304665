//! The reference the SCIM service's create rate is compared with: `scim2-server` (PyPI, pinned
//! in deploy/checks/requirements.txt), a SCIM 2.0 server that keeps its resources in memory,
//! started by the benchmark on this machine as its own command line serves it (a threaded
//! `wsgiref` server, base path `/v2`, one static bearer token), on a free port. Each run gets a
//! fresh one, so every run meets an empty store, as each scimsync run meets a fresh company.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::simulate::scim::client::ScimTarget;

/// How long the Python server may take to import and listen.
const START_DEADLINE: Duration = Duration::from_secs(60);

pub struct Reference {
    child: std::process::Child,
    pub target: ScimTarget,
}

impl Reference {
    /// Starts `program` and waits until it answers `/ServiceProviderConfig` with the token.
    pub async fn start(
        program: &Path,
        http: &reqwest::Client,
        retry_for: Duration,
    ) -> anyhow::Result<Self> {
        // A port the kernel just gave out and took back: free unless someone races for it,
        // which the readiness check below would catch as a wrong answer.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free port for scim2-server")?
            .port();
        let token = format!("bench-{}", uuid::Uuid::new_v4().simple());
        let child = std::process::Command::new(program)
            .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
            .args(["--bearer-token", &token])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (deploy/checks/python-tools.sh installs it)",
                    program.display()
                )
            })?;
        let target = ScimTarget {
            base: format!("http://127.0.0.1:{port}/v2"),
            token,
            retry_for,
        };
        let mut reference = Self { child, target };
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let answer = reference
                .target
                .send(http, reqwest::Method::GET, "/ServiceProviderConfig", None)
                .await;
            if answer.status == 200 {
                return Ok(reference);
            }
            if let Some(status) = reference.child.try_wait()? {
                anyhow::bail!("scim2-server exited before answering: {status}");
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "scim2-server did not answer on port {port} within {} s (last status {})",
                START_DEADLINE.as_secs(),
                answer.status
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Reference {
    /// Killed, also when a run fails half-way: it keeps nothing worth a graceful stop.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
