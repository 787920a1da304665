//! `scimsim simulate`: generates a realistic organisation, plays an identity provider's first
//! sync and the churn after it, through either door (against ingest as Svix-signed Stytch
//! webhooks, or against the SCIM service as Entra provisions: [`scim`]), waits until the
//! product converges, and checks every user through the admin API against the generated truth.
//!
//! - [`org`]: the organisation (deterministic from `--seed`);
//! - [`truth`]: the identity provider's state over time, its events, the expected end state;
//! - [`churn`]: the changes after the first sync; [`events`]: the webhook bodies;
//! - [`plan`]: delivery order and duplicates; [`player`]: concurrent, paced, retried sending;
//! - [`session`]: registration and convergence; [`probe`]: cheap PostgreSQL reads;
//! - [`admin`], [`verify`]: the admin API and the comparison; [`report`]: the summary.

pub mod admin;
pub mod churn;
pub mod events;
pub mod names;
pub mod org;
pub mod plan;
pub mod player;
pub mod probe;
pub mod report;
pub mod scim;
pub mod session;
pub mod truth;
pub mod verify;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use scimsync_platform::Settings;

pub use plan::Order;
use player::{Pace, PlayStats};
use report::{ExpectedSummary, Report};
use session::{Goal, Session};
use verify::Mismatch;

/// Outcomes that mean an event was refused; the simulator never sends such events.
const REFUSALS: &[&str] = &[
    "rejected_duplicate_email",
    "rejected_email_domain",
    "missing_email",
    "unparseable_group_event",
    "manager_not_found",
];
/// Concerns that log a member create/update (the final step waits for all of them).
const MEMBER_CONCERNS: i64 = 3;

/// The door the simulated identity provider provisions through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// Stytch's webhooks, signed by Svix, to ingest.
    Stytch,
    /// The SCIM service, as Entra ID provisions.
    Scim,
}

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The door: Stytch webhooks (ingest) or the SCIM service.
    #[arg(long, value_enum, default_value_t = Via::Stytch)]
    pub via: Via,
    /// Entra's PATCH dialect, through the SCIM door (`entra-2020` is the `aadOptscim062020`
    /// flag's).
    #[arg(long, value_enum, default_value_t = scim::translate::Dialect::Entra)]
    pub dialect: scim::translate::Dialect,
    /// The SCIM service's tenant URL.
    #[arg(long, default_value = "http://127.0.0.1:8082/scim/v2")]
    pub scim_url: String,
    /// People in the organisation.
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Order of the initial sync.
    #[arg(long, value_enum, default_value_t = Order::Random)]
    pub order: Order,
    /// Churn operations after the initial sync.
    #[arg(long, default_value_t = 0)]
    pub churn: usize,
    /// Fraction of events delivered twice (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub duplicates: f64,
    /// Webhooks in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Target webhooks per second (default: as fast as the concurrency allows).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Shapes the organisation and the churn; the same seed gives the same organisation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Stytch organization id of the company (default: a fresh `sim-<seed>-<random>`).
    #[arg(long)]
    pub company_org: Option<String>,
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub ingest_url: String,
    #[arg(long, default_value = "http://127.0.0.1:8081")]
    pub admin_url: String,
    /// Seconds a delivery keeps being retried after a 5xx, a 429 or no answer, as Svix would
    /// (long enough to outlast a restart of ingest or the broker).
    #[arg(long, default_value_t = 30)]
    pub retry_for: u64,
    /// Seconds to wait for convergence after the last webhook.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Signing secret; defaults to the first of SCIMSYNC__INGEST__WEBHOOK_SECRETS.
    #[arg(long, env = "SCIMSYNC_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
}

/// Runs the simulation, prints the report, and fails on any mismatch.
pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<()> {
    let report = simulate(settings, &args).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report::render(&report));
    }
    anyhow::ensure!(
        report.converged,
        "the product did not converge to the generated truth within {} s",
        args.timeout
    );
    anyhow::ensure!(
        report.mismatch_count == 0,
        "{} mismatch(es) between the product and the generated truth",
        report.mismatch_count
    );
    Ok(())
}

fn validate(args: &Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.users >= 1, "--users must be at least 1");
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.duplicates),
        "--duplicates must be a fraction between 0 and 1, got {}",
        args.duplicates
    );
    anyhow::ensure!(args.concurrency >= 1, "--concurrency must be at least 1");
    if let Some(rate) = args.rate {
        anyhow::ensure!(rate > 0.0, "--rate must be positive, got {rate}");
    }
    Ok(())
}

/// A bar for a person watching; hidden for scripts, logs and `--json`.
pub fn progress(len: u64, what: &str, json: bool) -> ProgressBar {
    if json || !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let template = format!("{{bar:40}} {{pos}}/{{len}} {what}  {{msg}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

/// The whole run, returning the report (tests call this).
pub async fn simulate(settings: &Settings, args: &Args) -> anyhow::Result<Report> {
    validate(args)?;
    let keys = match args.via {
        Via::Stytch => probe::Keys::Stytch,
        Via::Scim => probe::Keys::Scim,
    };
    let session = Session::new(
        settings,
        &args.ingest_url,
        &args.admin_url,
        args.secret.as_deref(),
        args.concurrency,
        keys,
    )
    .await?;
    let mut churned = churn::ChurnSummary::default();
    let prepared = session
        .prepare(
            args.users,
            args.seed,
            args.company_org.as_deref(),
            |truth| {
                truth.initial_sync();
                churned = churn::churn(truth, args.churn, args.seed);
            },
        )
        .await?;
    let truth = &prepared.truth;
    let company = prepared.company;
    let goal = Goal::of(truth);
    let plan = plan::plan(truth, args.order, args.duplicates, args.seed);
    let pace = Pace {
        concurrency: args.concurrency,
        rate: args.rate,
        retry_for: Duration::from_secs(args.retry_for),
    };

    let total = (plan.initial.len() + plan.churn.len() + plan.last.len()) as u64;
    let bar = progress(total, "changes", args.json);
    let first = Instant::now();
    let mut webhooks = PlayStats::default();
    let mut group_ids = std::collections::HashMap::new();
    let mut converged;
    let converge_secs;
    if let (Via::Scim, Some(token)) = (args.via, prepared.scim_token.clone()) {
        let target = scim::client::ScimTarget {
            base: args.scim_url.trim_end_matches('/').to_owned(),
            token,
            retry_for: Duration::from_secs(args.retry_for),
        };
        let play = |phases: &'static [truth::Phase], directory| {
            scim::play(
                &session.http,
                &target,
                args.dialect,
                truth,
                phases,
                args.order,
                args.duplicates,
                args.seed,
                pace,
                &bar,
                directory,
            )
        };
        let (stats, directory) = play(
            &[truth::Phase::Initial, truth::Phase::Churn],
            scim::Directory::default(),
        )
        .await;
        webhooks.merge(stats);
        if let Ok(mut ids) = session.group_ids.lock() {
            *ids = scim::groups_by_scim_id(&directory);
        }
        let deadline = Instant::now() + Duration::from_secs(args.timeout);
        converged = session.converge(company, &goal, deadline, &bar).await?;
        converge_secs = converged.map(|at| at.duration_since(first).as_secs_f64());
        let mut directory = directory;
        if converged.is_some() && truth.expected_cycle_skips > 0 {
            // The deliberate cycle, once the hierarchy it would loop is in place; its verdict is
            // an event-log row of its own.
            let (stats, after) = play(&[truth::Phase::Final], directory).await;
            webhooks.merge(stats);
            directory = after;
            while session
                .admin
                .count_events(company, "skipped_circular_manager")
                .await?
                < truth.expected_cycle_skips
            {
                anyhow::ensure!(
                    Instant::now() < deadline,
                    "the cycle attempt was not processed within the timeout"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            converged = session.converge(company, &goal, deadline, &bar).await?;
        }
        group_ids = scim::groups_by_scim_id(&directory);
    } else {
        for deliveries in [plan.initial, plan.churn] {
            let stats = player::play(&session.http, &session.target, deliveries, pace, &bar).await;
            webhooks.merge(stats);
        }
        let deadline = Instant::now() + Duration::from_secs(args.timeout);
        converged = session.converge(company, &goal, deadline, &bar).await?;
        converge_secs = converged.map(|at| at.duration_since(first).as_secs_f64());
        if converged.is_some() && !plan.last.is_empty() {
            // The deliberate cycle: sent once the hierarchy it would loop is in place.
            let ids: Vec<String> = plan.last.iter().map(|(_, id)| id.clone()).collect();
            let deliveries = plan.last.into_iter().map(|(d, _)| d).collect();
            webhooks
                .merge(player::play(&session.http, &session.target, deliveries, pace, &bar).await);
            let probe = session.probe(company);
            for id in &ids {
                // A failed read counts as "not yet", as in `converge`.
                while probe.concerns_logged(id).await.unwrap_or(0) < MEMBER_CONCERNS {
                    anyhow::ensure!(
                        Instant::now() < deadline,
                        "event {id} was not processed by every worker within the timeout"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            converged = session.converge(company, &goal, deadline, &bar).await?;
        }
    }
    bar.finish_and_clear();

    let users = session.admin.users(company).await?;
    let mut mismatches = verify::compare(&goal.expected, &users, keys, &group_ids);
    mismatches.extend(
        verify::check_reports(&session.admin, company, &goal.expected, &users, 5, keys).await?,
    );
    let observed = session
        .probe(company)
        .summary()
        .await
        .context("reading the summary counts")?;
    let skipped = session
        .admin
        .count_events(company, "skipped_circular_manager")
        .await?;
    if skipped != truth.expected_cycle_skips {
        mismatches.push(Mismatch::new(
            "company",
            "skipped_circular_manager events",
            truth.expected_cycle_skips,
            skipped,
        ));
    }
    for (concern, outcomes) in &observed.outcomes {
        for refusal in REFUSALS {
            if let Some(n) = outcomes.get(*refusal) {
                mismatches.push(Mismatch::new(
                    "company",
                    &format!("{concern} {refusal}"),
                    0,
                    n,
                ));
            }
        }
    }
    let admin = session.admin.base();
    let urls = BTreeMap::from([
        ("users", format!("{admin}/api/v1/companies/{company}/users")),
        (
            "event log",
            format!("{admin}/api/v1/companies/{company}/events"),
        ),
        (
            "groups",
            format!("{admin}/api/v1/companies/{company}/groups"),
        ),
        (
            "scim status",
            format!("{admin}/api/v1/companies/{company}/scim/status"),
        ),
        ("api docs", format!("{admin}/openapi.json")),
    ]);
    let mismatch_count = mismatches.len();
    mismatches.truncate(1000);
    Ok(Report {
        organization_id: prepared.organization_id.clone(),
        company_id: company,
        people: truth.org.people.len(),
        order: args.order,
        seed: args.seed,
        churn: churned.operations,
        events: truth.events.len(),
        duplicates: plan.duplicates,
        webhooks,
        converged: converged.is_some(),
        converge_secs,
        expected: ExpectedSummary::of(&goal.expected, truth.expected_cycle_skips),
        observed,
        mismatch_count,
        mismatches,
        urls,
    })
}
