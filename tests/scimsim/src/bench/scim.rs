//! The SCIM door's create rate: User creates, `--concurrency` in flight, answered per second,
//! for the SCIM service and for the reference server `scim2-server` in the same run (their
//! ratio is the goal); and end to end, until the product shows every user the service
//! answered 201 for (the admin API, through the outbox, the broker and the workers).
//!
//! Both servers get the same requests: an Entra-like User (core and enterprise schema), one
//! per new userName, with a bearer token. The SCIM service's per-company rate limit is raised
//! for the benchmark by `deploy/bench/run.sh`: this figure is what one company's requests
//! cost, not where the limit is set.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::Method;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{json, Value};
use uuid::Uuid;

use super::reference::Reference;
use super::table::{percentile, Figure, Goal as Target, Unit};
use super::{latency, system, Bench};
use crate::simulate::admin::Admin;
use crate::simulate::report::thousands;
use crate::simulate::scim::client::ScimTarget;
use crate::simulate::scim::translate::{ENTERPRISE, USER};

/// How often a create-to-visible watch polls the admin API, at most.
const POLL_MAX: Duration = Duration::from_millis(100);
const POLL: Duration = Duration::from_millis(5);

/// The userName (and work email) of the benchmark's `i`-th user under `tag`.
pub(super) fn user_name(tag: &str, i: usize) -> String {
    format!("u{i}.{tag}@bench.example")
}

/// The User an Entra tenant creates: core and enterprise attributes, as `simulate --via scim`
/// sends them.
pub(super) fn user_body(tag: &str, i: usize) -> Value {
    let name = user_name(tag, i);
    json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": format!("{tag}-{i}"),
        "userName": name,
        "active": true,
        "displayName": format!("Bench User {i}"),
        "title": "Engineer",
        "name": {"givenName": "Bench", "familyName": format!("User {i}")},
        "emails": [{"type": "work", "value": name, "primary": true}],
        ENTERPRISE: {"department": "Research", "employeeNumber": i.to_string()},
    })
}

/// A short tag that keeps one run's userNames apart from every other run's.
pub(super) fn run_tag() -> String {
    Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// One run of creates against one server.
pub(super) struct CreateRun {
    pub answered: usize,
    pub failed: usize,
    pub rate: f64,
    pub first: Instant,
    /// Create-to-visible times of the sampled creates (only with a product to watch).
    pub visible: Vec<Duration>,
    /// Samples the product did not show within [`latency::VISIBLE_LIMIT`].
    pub invisible: usize,
}

/// `n` creates, `concurrency` in flight. With `watch`, every `n / samples`-th user answered
/// 201 is also watched until the admin API shows it (from the moment its POST went out).
pub(super) async fn create_many(
    http: &reqwest::Client,
    target: &ScimTarget,
    tag: &str,
    n: usize,
    concurrency: usize,
    watch: Option<(Admin, Uuid, usize)>,
) -> anyhow::Result<CreateRun> {
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let every = watch
        .as_ref()
        .map(|(_, _, samples)| (n / (*samples).max(1)).max(1));
    let first = Instant::now();
    let mut outcomes = Vec::with_capacity(n);
    for i in 0..n {
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .context("the in-flight limit closed")?;
        let (http, target, body) = (http.clone(), target.clone(), user_body(tag, i));
        let watch = watch
            .as_ref()
            .filter(|_| every.is_some_and(|e| i % e == 0))
            .map(|(admin, company, _)| (admin.clone(), *company));
        tasks.spawn(async move {
            let started = Instant::now();
            let answer = target
                .send(&http, Method::POST, "/Users", Some(&body))
                .await;
            let finished = Instant::now();
            drop(permit);
            let created = answer.status == 201;
            let visible = match watch {
                Some((admin, company)) if created => {
                    let email = body["userName"].as_str().unwrap_or_default().to_owned();
                    Some(watch_visible(&admin, company, &email, started).await)
                }
                _ => None,
            };
            (created, finished, visible)
        });
        while let Some(done) = tasks.try_join_next() {
            outcomes.push(done.context("a create task failed")?);
        }
    }
    let mut run = CreateRun {
        answered: 0,
        failed: 0,
        rate: 0.0,
        first,
        visible: Vec::new(),
        invisible: 0,
    };
    while let Some(done) = tasks.join_next().await {
        outcomes.push(done.context("a create task failed")?);
    }
    // Every task has finished here, watches included: the rate counts answers only.
    let mut last_answer = first;
    for (created, finished, visible) in outcomes {
        last_answer = last_answer.max(finished);
        if created {
            run.answered += 1;
        } else {
            run.failed += 1;
        }
        match visible {
            Some(Some(d)) => run.visible.push(d),
            Some(None) => run.invisible += 1,
            None => {}
        }
    }
    run.rate = run.answered as f64 / last_answer.duration_since(first).as_secs_f64().max(1e-9);
    Ok(run)
}

/// Polls the admin API until it lists the user (5 ms at first, then a tenth of the time
/// waited, at most 100 ms: an upper bound by up to one poll).
async fn watch_visible(
    admin: &Admin,
    company: Uuid,
    email: &str,
    started: Instant,
) -> Option<Duration> {
    while started.elapsed() < latency::VISIBLE_LIMIT {
        if let Ok(Some(_)) = admin.user_by_email(company, email).await {
            return Some(started.elapsed());
        }
        tokio::time::sleep((started.elapsed() / 10).clamp(POLL, POLL_MAX)).await;
    }
    None
}

/// Users of the company in the product (the rows the admin API lists).
async fn product_users(db: &sea_orm::DatabaseConnection, company: Uuid) -> anyhow::Result<i64> {
    let row = db
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM users WHERE company_id = $1",
            [company.into()],
        ))
        .await?
        .context("count(*) returned no row")?;
    Ok(row.try_get("", "n")?)
}

/// Polls the company's user count every [`COUNT_POLL`] in the background and remembers when
/// it grew: the first moment it held a given number is then known afterwards.
struct CountPoller {
    seen: Arc<std::sync::Mutex<Vec<(Instant, i64)>>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

const COUNT_POLL: Duration = Duration::from_millis(20);

impl CountPoller {
    fn start(db: sea_orm::DatabaseConnection, company: Uuid) -> Self {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            let mut last = -1;
            loop {
                let n = product_users(&db, company).await?;
                if n != last {
                    if let Ok(mut log) = log.lock() {
                        log.push((Instant::now(), n));
                    }
                    last = n;
                }
                tokio::time::sleep(COUNT_POLL).await;
            }
        });
        Self { seen, task }
    }

    /// When the count first held `n` (an upper bound by up to one poll); waits for it until
    /// `deadline`, `None` if it never did.
    async fn reached(self, n: i64, deadline: Instant) -> anyhow::Result<Option<Instant>> {
        let found = loop {
            let at = self
                .seen
                .lock()
                .ok()
                .and_then(|log| log.iter().find(|(_, count)| *count >= n).map(|(at, _)| *at));
            if at.is_some() || Instant::now() >= deadline {
                break at;
            }
            if self.task.is_finished() {
                break None;
            }
            tokio::time::sleep(COUNT_POLL).await;
        };
        self.task.abort();
        if found.is_none() {
            if let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_secs(1), self.task).await {
                return Err(e.context("polling the product's user count"));
            }
        }
        Ok(found)
    }
}

impl Bench {
    pub(super) fn scim_target(&self, token: String) -> ScimTarget {
        ScimTarget {
            base: self.args.scim_url.trim_end_matches('/').to_owned(),
            token,
            retry_for: super::RETRY_FOR,
        }
    }

    /// Waits until the SCIM service published every outbox row of the company.
    pub(super) async fn outbox_empty(&self, company: Uuid) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let row = self
                .session
                .db
                .query_one(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT count(*) AS n FROM scim_outbox WHERE company_id = $1",
                    [company.into()],
                ))
                .await?
                .context("count(*) returned no row")?;
            let left: i64 = row.try_get("", "n")?;
            if left == 0 {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the SCIM outbox still holds {left} rows of company {company} after 300 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Once the outbox holds nothing of the companies, settles them like any run's company
    /// (broker drained, once for all, then their rows deleted).
    pub(super) async fn settle_scim(&mut self, companies: &[Uuid]) -> anyhow::Result<()> {
        for company in companies {
            self.outbox_empty(*company).await?;
        }
        let left = self.drain().await?;
        if self.args.keep_data {
            return Ok(());
        }
        if left > 0 {
            self.say(format!(
                "  ({} companies kept: retries for them still wait)",
                companies.len()
            ));
            return Ok(());
        }
        for company in companies {
            super::cleanup::delete(&self.session.db, *company).await?;
        }
        super::cleanup::vacuum(&self.session.db).await
    }

    /// A fresh company of the SCIM door and its service target.
    pub(super) async fn scim_company(&self, label: &str) -> anyhow::Result<(Uuid, ScimTarget)> {
        let (company, token) = self
            .session
            .admin
            .register_scim(&format!("Benchmark: {label} ({})", run_tag()))
            .await?;
        Ok((company, self.scim_target(token)))
    }

    pub(super) async fn scim_create(&mut self, figures: &mut Vec<Figure>) -> anyhow::Result<()> {
        let n = self.args.scim_creates;
        let c = self.args.concurrency;
        let of = format!("{} User creates, {c} in flight", thousands(n as i64));
        let mut ours = Figure::new(
            format!("SCIM create rate, answered: {of}"),
            Unit::PerSec,
            Target::None,
        );
        let mut reference = Figure::new(
            format!(
                "SCIM create rate, answered, of scim2-server (Python reference, in memory): {of}"
            ),
            Unit::PerSec,
            Target::None,
        );
        let mut ratio = Figure::new(
            "SCIM create rate: scimsync / scim2-server",
            Unit::Ratio,
            Target::AtLeast(20.0),
        );
        let mut e2e = Figure::new(
            format!("SCIM end-to-end rate: {of}, until the admin API shows every one"),
            Unit::PerSec,
            Target::None,
        );
        let mut visible_p50 = Figure::new(
            "SCIM create-to-visible p50 (sampled creates of the runs above)",
            Unit::Millis,
            Target::None,
        );
        let mut visible_p99 = Figure::new(
            "SCIM create-to-visible p99 (sampled creates of the runs above)",
            Unit::Millis,
            Target::None,
        );
        let program = self.args.scim_reference.clone();
        for run in 0..self.args.runs {
            // scimsync first: a company, its creates, then until the product shows them all.
            let (company, target) = self.scim_company("SCIM create rate").await?;
            let meter = system::CpuMeter::start();
            let watch = (
                self.session.admin.clone(),
                company,
                self.args.visible_samples,
            );
            // The product's count is polled alongside, so the moment it reached every answered
            // create is known however long the sampled watches take.
            let counts = CountPoller::start(self.session.db.clone(), company);
            let r = create_many(&self.session.http, &target, &run_tag(), n, c, Some(watch)).await?;
            let deadline = Instant::now() + Duration::from_secs(self.args.timeout);
            let shown = counts.reached(r.answered as i64, deadline).await?;
            let shown = shown.map(|at| at.duration_since(r.first));
            let cpu = meter.breakdown(r.answered as u64);
            // What the admin API lists, read once at the end (a full read every poll would
            // load the system it measures).
            let listed = self.session.admin.users(company).await?.len();
            ours.values.push(r.rate);
            if let Some(shown) = shown.filter(|_| listed >= r.answered) {
                e2e.values.push(r.answered as f64 / shown.as_secs_f64());
            }
            let mut visible: Vec<f64> =
                r.visible.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
            visible.extend(std::iter::repeat_n(
                latency::VISIBLE_LIMIT.as_secs_f64() * 1000.0,
                r.invisible,
            ));
            visible.sort_by(f64::total_cmp);
            visible_p50.values.extend(percentile(&visible, 50.0));
            visible_p99.values.extend(percentile(&visible, 99.0));
            self.say(format!(
                "SCIM create {}: scimsync {} answered 201 at {:.0}/s, {} not; the admin API showed all {} after {}; visible p50 {:.1} ms p99 {:.1} ms ({} samples, {} not within {} s); other processes used {:.0}% of the CPUs; CPU: {cpu}",
                run + 1,
                thousands(r.answered as i64),
                r.rate,
                r.failed,
                thousands(listed as i64),
                shown.map(|s| format!("{:.2} s", s.as_secs_f64())).unwrap_or_else(|| "NEVER".into()),
                percentile(&visible, 50.0).unwrap_or(f64::NAN),
                percentile(&visible, 99.0).unwrap_or(f64::NAN),
                visible.len(),
                r.invisible,
                latency::VISIBLE_LIMIT.as_secs(),
                meter.others_percent(),
            ));
            self.settle_scim(&[company]).await?;

            // Then the reference, fresh, with the same requests.
            let meter = system::CpuMeter::start();
            let server = Reference::start(&program, &self.session.http, super::RETRY_FOR).await?;
            let theirs =
                create_many(&self.session.http, &server.target, &run_tag(), n, c, None).await?;
            drop(server);
            reference.values.push(theirs.rate);
            if theirs.rate > 0.0 {
                ratio.values.push(r.rate / theirs.rate);
            }
            self.say(format!(
                "SCIM create {}: scim2-server {} answered 201 at {:.0}/s, {} not; other processes used {:.0}% of the CPUs; CPU: {}",
                run + 1,
                thousands(theirs.answered as i64),
                theirs.rate,
                theirs.failed,
                meter.others_percent(),
                meter.breakdown(theirs.answered as u64),
            ));
        }
        if let (Some(a), Some(b)) = (ours.median(), reference.median()) {
            self.notes.push(format!(
                "SCIM create rate: ratio of the medians {:.1} (scimsync {a:.0}/s / scim2-server {b:.0}/s).",
                a / b
            ));
        }
        figures.extend([ours, reference, ratio, e2e, visible_p50, visible_p99]);
        Ok(())
    }
}
