//! `scimsim bench`: the figures the system is held to, measured against the running services
//! (`make bench` starts a release build of them first): ingest acceptance rate, end-to-end rate
//! of member creates, latency at a steady 1,000 webhooks/s, time to converge for 10,000 and
//! 100,000 users in the best and the worst order, the SCIM door's create rate next to the
//! reference server `scim2-server`, its latency with 20 tenants at once and its userName filter
//! in a large company, and each service's peak memory. Several runs each; one table with the
//! median, min and max, printed and written to a results file.
//!
//! Every run registers a fresh company; the broker's backlog is drained before the next run is
//! timed, and the run's company deleted with all its rows (unless `--keep-data`). Benchmarks
//! are not tests: nothing here runs under `make test`.

mod broker;
mod cleanup;
mod converge;
pub mod latency;
mod reference;
mod scenarios;
mod scim;
mod scim_load;
pub mod system;
pub mod table;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use scimsync_platform::Settings;

use crate::simulate::session::Session;
use system::{Machine, Rabbit};

/// How long the benchmark retries a refused webhook (about eight attempts): a refusal is
/// counted, not waited out.
const RETRY_FOR: Duration = Duration::from_secs(5);

/// How long a run waits for its goal once a delivery was refused for good: the goal then cannot
/// be met, and waiting the whole `--timeout` (an hour) would only stall the benchmark. This is
/// long enough for what was accepted to be applied.
const AFTER_REFUSAL: Duration = Duration::from_secs(60);

/// When to stop waiting for a run's goal: `timeout` from now, or [`AFTER_REFUSAL`] from now if
/// `refused` deliveries mean the goal cannot be met.
fn converge_deadline(timeout: Duration, refused: u64) -> Instant {
    let wait = if refused > 0 {
        timeout.min(AFTER_REFUSAL)
    } else {
        timeout
    };
    Instant::now() + wait
}

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Runs of each scenario.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Runs of each 100,000-user scenario (one if a run takes longer than --big-run-budget).
    #[arg(long, default_value_t = 3)]
    pub big_runs: usize,
    /// Seconds a 100,000-user run may take before it is run only once.
    #[arg(long, default_value_t = 600)]
    pub big_run_budget: u64,
    /// Member creates in the throughput scenario.
    #[arg(long, default_value_t = 20_000)]
    pub throughput_users: usize,
    /// Organisation sizes for time to converge.
    #[arg(long, default_value_t = 10_000)]
    pub small_users: usize,
    #[arg(long, default_value_t = 100_000)]
    pub big_users: usize,
    /// Steady rates of the latency scenario: the goals apply to the first, the others show
    /// the latency at a rate the system keeps up with.
    #[arg(long, value_delimiter = ',', default_value = "1000,100")]
    pub latency_rates: Vec<f64>,
    #[arg(long, default_value_t = 20)]
    pub latency_secs: u64,
    /// Member creates whose webhook-to-visible time is measured per latency run.
    #[arg(long, default_value_t = 100)]
    pub visible_samples: usize,
    /// Webhooks in flight in the unthrottled scenarios.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// User creates per run of the SCIM create-rate scenario (the same number for the
    /// reference server).
    #[arg(long, default_value_t = 5_000)]
    pub scim_creates: usize,
    /// The reference SCIM server the create rate is compared with (`scim2-server`, installed
    /// by deploy/checks/python-tools.sh).
    #[arg(long, default_value = ".local/venv/bin/scim2-server")]
    pub scim_reference: PathBuf,
    /// Tenants sending at once, each at --scim-tenant-rate requests a second, for
    /// --scim-load-secs seconds.
    #[arg(long, default_value_t = 20)]
    pub scim_tenants: usize,
    #[arg(long, default_value_t = 25.0)]
    pub scim_tenant_rate: f64,
    #[arg(long, default_value_t = 20)]
    pub scim_load_secs: u64,
    /// Users of the large company in the userName filter scenario (the small one has 10).
    #[arg(long, default_value_t = 100_000)]
    pub scim_filter_users: usize,
    /// Lookups in each company per run of the filter scenario.
    #[arg(long, default_value_t = 1_000)]
    pub scim_filter_samples: usize,
    /// Scenarios to run: throughput, ingest-alone, broker, latency, converge-small,
    /// converge-big, scim-create, scim-tenants, scim-filter, memory.
    #[arg(long, value_delimiter = ',', default_value = ALL_SCENARIOS)]
    pub only: Vec<String>,
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub ingest_url: String,
    #[arg(long, default_value = "http://127.0.0.1:8081")]
    pub admin_url: String,
    /// The SCIM service's tenant URL.
    #[arg(long, default_value = "http://127.0.0.1:8082/scim/v2")]
    pub scim_url: String,
    #[arg(long, default_value = "http://guest:guest@127.0.0.1:55673/api")]
    pub rabbit_api: String,
    /// The services' RabbitMQ virtual host (the one whose queues are drained between runs).
    #[arg(long, default_value = "/")]
    pub rabbit_vhost: String,
    /// Where the services' pid files are (peak memory).
    #[arg(long, default_value = ".local/run")]
    pub pid_dir: PathBuf,
    /// Markdown results file. By default deploy/bench/results.md for a run of every scenario
    /// and deploy/bench/results-partial.md for a subset (--only), so a partial run never
    /// replaces the full one the README shows.
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Describes the build measured (e.g. the git commit).
    #[arg(long)]
    pub label: Option<String>,
    /// Keep each run's company and data (by default they are deleted after the run, so every
    /// run meets the same database).
    #[arg(long)]
    pub keep_data: bool,
    /// Seconds a run may take to converge.
    #[arg(long, default_value_t = 3600)]
    pub timeout: u64,
}

const ALL_SCENARIOS: &str = "throughput,ingest-alone,broker,latency,converge-small,converge-big,\
     scim-create,scim-tenants,scim-filter,memory";

impl Args {
    /// Where the results go: `--results`, else the full or the partial results file.
    pub fn results_path(&self) -> PathBuf {
        if let Some(path) = &self.results {
            return path.clone();
        }
        let every = ALL_SCENARIOS
            .split(',')
            .all(|scenario| self.only.iter().any(|o| o.trim() == scenario));
        PathBuf::from(if every {
            "deploy/bench/results.md"
        } else {
            "deploy/bench/results-partial.md"
        })
    }
}

struct Bench {
    session: Session,
    rabbit: Rabbit,
    args: Args,
    log: Vec<String>,
    notes: Vec<String>,
}

struct ConvergeRun {
    accept_rate: f64,
    refused: u64,
    /// Sending and converging, from the first webhook.
    total_secs: f64,
    converge_secs: Option<f64>,
}

pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<()> {
    let session = Session::new(
        settings,
        &args.ingest_url,
        &args.admin_url,
        None,
        args.concurrency.max(256),
        crate::simulate::probe::Keys::Stytch,
    )
    .await?;
    let rabbit = Rabbit::new(session.http.clone(), &args.rabbit_api, &args.rabbit_vhost)?;
    let machine = Machine::probe(args.label.clone());
    let only = args.only.clone();
    let wants = |name: &str| only.iter().any(|o| o.trim() == name);
    let mut bench = Bench {
        session,
        rabbit,
        args: args.clone(),
        log: Vec::new(),
        notes: Vec::new(),
    };
    let started = Instant::now();
    let meter = system::CpuMeter::start();
    bench.say(machine.describe());
    bench
        .drain()
        .await
        .context("the broker must be idle before the benchmark")?;
    let mut figures = Vec::new();
    if wants("throughput") {
        bench.throughput(&mut figures).await?;
        bench.memory_so_far("throughput");
    }
    if wants("ingest-alone") {
        bench.ingest_alone(&mut figures).await?;
        bench.memory_so_far("ingest alone");
    }
    if wants("broker") {
        bench
            .broker_ceiling(
                &settings.amqp.url,
                settings.amqp.publisher_channels,
                &mut figures,
            )
            .await?;
    }
    if wants("latency") {
        for (i, rate) in args.latency_rates.iter().enumerate() {
            anyhow::ensure!(*rate > 0.0, "--latency-rates must be positive, got {rate}");
            bench.latency(&mut figures, *rate, i == 0).await?;
            bench.memory_so_far(&format!("latency at {rate}/s"));
        }
    }
    if wants("converge-small") {
        bench
            .converge(&mut figures, args.small_users, args.runs, None)
            .await?;
        bench.memory_so_far("converge, small");
    }
    if wants("converge-big") && args.big_users > 0 {
        bench
            .converge(
                &mut figures,
                args.big_users,
                args.big_runs,
                Some(args.big_run_budget),
            )
            .await?;
        bench.memory_so_far("converge, big");
    }
    if wants("scim-create") {
        bench.scim_create(&mut figures).await?;
        bench.memory_so_far("SCIM create rate");
    }
    if wants("scim-tenants") {
        bench.scim_tenants(&mut figures).await?;
        bench.memory_so_far("SCIM tenants");
    }
    if wants("scim-filter") {
        bench.scim_filter(&mut figures).await?;
        bench.memory_so_far("SCIM filter");
    }
    if wants("memory") {
        bench.memory(&mut figures);
    }
    bench.notes.push(format!(
        "The benchmark took {:.0} s; processes outside the system under test (builds, tests) \
         used {:.0}% of the CPUs meanwhile (each run's share is in its line below).",
        started.elapsed().as_secs_f64(),
        meter.others_percent()
    ));
    let document = table::document(&machine, &figures, &bench.notes, &bench.log);
    let results = args.results_path();
    if let Some(dir) = results.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&results, &document)
        .with_context(|| format!("writing {}", results.display()))?;
    println!("\n{}", machine.describe());
    println!("\n{}", table::table(&figures));
    println!("Written to {}", results.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    use clap::Parser;

    #[test]
    fn a_refused_delivery_shortens_the_wait_for_a_goal_it_makes_unreachable() {
        let hour = Duration::from_secs(3600);
        let now = Instant::now();
        let all_accepted = super::converge_deadline(hour, 0);
        assert!(all_accepted >= now + hour);
        let one_refused = super::converge_deadline(hour, 1);
        assert!(one_refused <= Instant::now() + super::AFTER_REFUSAL);
        assert!(one_refused >= now + super::AFTER_REFUSAL);
        // A timeout shorter than the grace after a refusal still applies.
        let short = Duration::from_secs(5);
        assert!(super::converge_deadline(short, 3) <= Instant::now() + short);
    }

    use crate::{Cli, Command};

    fn results_of(args: &[&str]) -> PathBuf {
        let cli = Cli::try_parse_from(["scimsim", "bench"].iter().chain(args)).expect("args");
        let Command::Bench(bench) = cli.command else {
            panic!("not bench");
        };
        bench.results_path()
    }

    #[test]
    fn only_a_run_of_every_scenario_writes_the_full_results() {
        let full = PathBuf::from("deploy/bench/results.md");
        let partial = PathBuf::from("deploy/bench/results-partial.md");
        assert_eq!(results_of(&[]), full);
        assert_eq!(results_of(&["--only", "latency"]), partial);
        assert_eq!(
            results_of(&[
                "--only",
                "memory,converge-big,converge-small,latency,broker,ingest-alone,throughput,\
                 scim-create,scim-tenants,scim-filter"
            ]),
            full
        );
        assert_eq!(
            results_of(&["--only", "latency", "--results", "/tmp/x.md"]),
            PathBuf::from("/tmp/x.md")
        );
    }
}
