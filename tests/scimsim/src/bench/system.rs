//! The machine and the running system: what the figures were measured on, each service's peak
//! memory, and the broker's backlog (drained before the next scenario is timed).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use scimsync_schema::topology::{DELAY_TIERS, WORK_QUEUES};
use serde::Deserialize;

/// The services `deploy/local/services.sh` runs, with their pid files.
pub const SERVICES: &[&str] = &[
    "ingest",
    "user-upsert",
    "group-resolver",
    "manager-linker",
    "admin-api",
    "scim",
];

pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
    pub date: String,
    pub label: Option<String>,
}

fn first_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split(':').nth(1))
        .map(|v| v.trim().to_owned())
}

impl Machine {
    pub fn probe(label: Option<String>) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kib: f64 = first_value(&meminfo, "MemTotal")
            .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
            .unwrap_or(0.0);
        Self {
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            cpu_model: first_value(&cpuinfo, "model name").unwrap_or_else(|| "unknown CPU".into()),
            memory_gib: kib / 1024.0 / 1024.0,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_default(),
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            label,
        }
    }

    pub fn describe(&self) -> String {
        let build = self
            .label
            .as_deref()
            .map(|l| format!(", build {l}"))
            .unwrap_or_default();
        format!(
            "Measured {} on {} CPUs ({}), {:.1} GiB RAM, Linux {}{build}: ingest, the SCIM \
             service, RabbitMQ, PostgreSQL, the three workers, the admin API and the load \
             generator all on this machine; release build.",
            self.date, self.cpus, self.cpu_model, self.memory_gib, self.kernel
        )
    }
}

/// Peak resident memory (VmHWM) of each service, in MiB; `None` when not running.
pub fn peak_memory(pid_dir: &Path) -> Vec<(&'static str, Option<f64>)> {
    SERVICES
        .iter()
        .map(|name| {
            let kib = std::fs::read_to_string(pid_dir.join(format!("{name}.pid")))
                .ok()
                .and_then(|pid| {
                    std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).ok()
                })
                .and_then(|status| first_value(&status, "VmHWM"))
                .and_then(|v| {
                    v.split_whitespace()
                        .next()
                        .and_then(|n| n.parse::<f64>().ok())
                });
            (*name, kib.map(|k| k / 1024.0))
        })
        .collect()
}

/// Processes of the system under test and of the load generator itself.
const OURS: &[&str] = &[
    "ingest",
    "user-upsert",
    "group-resolver",
    "manager-linker",
    "admin-api",
    "postgres",
    "beam.smp",
    "epmd",
    "erl_child_setup",
    "inet_gethost",
    "scim",
    "scim2-server",
    "scimctl",
    "scimsim",
];

/// Busy CPU ticks of the whole machine, and of our processes (children reaped included).
fn cpu_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    let ours = process_ticks(|name| OURS.contains(&name));
    (total.saturating_sub(idle), ours)
}

/// CPU ticks (user and system, children reaped included) of the processes whose name passes.
fn process_ticks(wanted: impl Fn(&str) -> bool) -> u64 {
    let mut ticks = 0;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    for entry in entries.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !wanted(&stat[open + 1..close]) {
            continue;
        }
        // After the name: state is field 3; utime, stime, cutime, cstime are 14 to 17.
        ticks += stat[close + 1..]
            .split_whitespace()
            .skip(11)
            .take(4)
            .filter_map(|f| f.parse::<u64>().ok())
            .sum::<u64>();
    }
    ticks
}

/// CPU seconds used so far by the processes named `name` (e.g. `beam.smp`, the broker).
pub fn process_cpu_secs(name: &str) -> f64 {
    // Kernel clock ticks are 100 per second on Linux.
    process_ticks(|n| n == name) as f64 / 100.0
}

/// What the run lines break the system's CPU time down by: a label and its processes' names.
const COMPONENTS: &[(&str, &[&str])] = &[
    ("PostgreSQL", &["postgres"]),
    (
        "RabbitMQ",
        &["beam.smp", "epmd", "erl_child_setup", "inet_gethost"],
    ),
    ("user-upsert", &["user-upsert"]),
    ("group-resolver", &["group-resolver"]),
    ("manager-linker", &["manager-linker"]),
    ("ingest", &["ingest"]),
    ("scim", &["scim"]),
    ("scim2-server (reference)", &["scim2-server"]),
    ("load generator", &["scimctl", "scimsim"]),
];

fn component_ticks() -> Vec<u64> {
    COMPONENTS
        .iter()
        .map(|(_, names)| process_ticks(|name| names.contains(&name)))
        .collect()
}

/// Measures how much of the machine other processes (a build, a test run) used meanwhile: the
/// figures are only as good as the machine was quiet. Also where the system's own CPU time
/// went ([`CpuMeter::breakdown`]).
pub struct CpuMeter {
    busy: u64,
    ours: u64,
    components: Vec<u64>,
    wall: std::time::Instant,
}

impl CpuMeter {
    pub fn start() -> Self {
        let (busy, ours) = cpu_ticks();
        Self {
            busy,
            ours,
            components: component_ticks(),
            wall: std::time::Instant::now(),
        }
    }

    /// CPU seconds each part of the system used since [`CpuMeter::start`], largest first, and
    /// per `units` (in milliseconds): "PostgreSQL 9.12 s, RabbitMQ 3.20 s, ...; 2.84 ms each".
    pub fn breakdown(&self, units: u64) -> String {
        let mut used: Vec<(&str, f64)> = COMPONENTS
            .iter()
            .zip(component_ticks().iter().zip(&self.components))
            // Kernel clock ticks are 100 per second on Linux.
            .map(|((label, _), (now, then))| (*label, now.saturating_sub(*then) as f64 / 100.0))
            .collect();
        used.sort_by(|a, b| b.1.total_cmp(&a.1));
        let total: f64 = used.iter().map(|(_, secs)| secs).sum();
        let parts: Vec<String> = used
            .iter()
            .map(|(label, secs)| format!("{label} {secs:.2} s"))
            .collect();
        format!(
            "{}; {:.2} ms each",
            parts.join(", "),
            total * 1000.0 / units.max(1) as f64
        )
    }

    /// Share of all CPUs used by other processes since [`CpuMeter::start`], in percent.
    pub fn others_percent(&self) -> f64 {
        let (busy, ours) = cpu_ticks();
        let others = busy
            .saturating_sub(self.busy)
            .saturating_sub(ours.saturating_sub(self.ours));
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1) as f64;
        // Kernel clock ticks are 100 per second on Linux.
        let capacity = self.wall.elapsed().as_secs_f64() * 100.0 * cpus;
        (others as f64 / capacity.max(1.0) * 100.0).clamp(0.0, 100.0)
    }
}

/// Sends a signal (`STOP`, `CONT`) to the three workers, by their pid files.
pub fn signal_workers(pid_dir: &Path, signal: &str) -> anyhow::Result<()> {
    for name in ["user-upsert", "group-resolver", "manager-linker"] {
        let file = pid_dir.join(format!("{name}.pid"));
        let pid = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {} (are the services up?)", file.display()))?;
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.trim())
            .status()
            .with_context(|| format!("kill -{signal} {name}"))?;
        anyhow::ensure!(
            status.success(),
            "kill -{signal} {name} (pid {}) failed",
            pid.trim()
        );
    }
    Ok(())
}

/// The RabbitMQ management API, for queue depths including unacknowledged messages.
pub struct Rabbit {
    http: reqwest::Client,
    url: reqwest::Url,
    /// The virtual host, percent-encoded for the API's paths.
    vhost: String,
    user: String,
    password: String,
}

#[derive(Deserialize)]
struct QueueInfo {
    name: String,
    #[serde(default)]
    messages: u64,
}

impl Rabbit {
    pub fn new(http: reqwest::Client, api: &str, vhost: &str) -> anyhow::Result<Self> {
        let mut url = reqwest::Url::parse(api)
            .with_context(|| format!("--rabbit-api {api:?} is not a URL"))?;
        let user = url.username().to_owned();
        let password = url.password().unwrap_or_default().to_owned();
        let _ = url.set_username("");
        let _ = url.set_password(None);
        Ok(Self {
            http,
            url,
            vhost: crate::simulate::scim::client::urlencode(vhost),
            user: if user.is_empty() {
                "guest".into()
            } else {
                user
            },
            password: if password.is_empty() {
                "guest".into()
            } else {
                password
            },
        })
    }

    /// Messages (ready and unacknowledged) per queue of the virtual host.
    async fn depths(&self) -> anyhow::Result<Vec<QueueInfo>> {
        let url = format!(
            "{}/queues/{}?columns=name,messages",
            self.url.as_str().trim_end_matches('/'),
            self.vhost
        );
        let response = self
            .http
            .get(&url)
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .with_context(|| format!("GET {url} (RabbitMQ management API)"))?;
        anyhow::ensure!(
            response.status().is_success(),
            "GET {url}: {}",
            response.status()
        );
        Ok(response.json().await?)
    }

    /// Waits until the work queues and the short delay tiers (≤ 30 s) have been empty for six
    /// seconds (the management figures refresh every five); returns what still waits on the
    /// longer tiers (retries of manager links resolved since, which will run as no-ops).
    pub async fn drain(&self, limit: Duration) -> anyhow::Result<u64> {
        let mut watched: Vec<String> = Vec::new();
        let mut long: Vec<String> = Vec::new();
        for q in WORK_QUEUES {
            watched.push(q.name.to_owned());
            for tier in DELAY_TIERS {
                if *tier <= Duration::from_secs(30) {
                    watched.push(q.delay_queue(*tier));
                } else {
                    long.push(q.delay_queue(*tier));
                }
            }
        }
        let started = Instant::now();
        let mut empty_since: Option<Instant> = None;
        loop {
            let depths = self.depths().await?;
            let busy: u64 = depths
                .iter()
                .filter(|q| watched.contains(&q.name))
                .map(|q| q.messages)
                .sum();
            if busy == 0 {
                let since = *empty_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= Duration::from_secs(6) {
                    return Ok(depths
                        .iter()
                        .filter(|q| long.contains(&q.name))
                        .map(|q| q.messages)
                        .sum());
                }
            } else {
                empty_since = None;
            }
            anyhow::ensure!(
                started.elapsed() < limit,
                "the broker still holds {busy} messages after {} s",
                limit.as_secs()
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
