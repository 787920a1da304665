//! The SCIM door under the load identity providers put on it: many tenants at a steady rate
//! each (the p99 latency goal), and a userName filter in a large company against the same
//! filter in a small one (the lookup must be an index probe, not a scan).

use std::time::{Duration, Instant};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;
use uuid::Uuid;

use super::scim::{create_many, run_tag, user_body, user_name};
use super::table::{median, percentile, Figure, Goal as Target, Unit};
use super::{system, Bench};
use crate::simulate::report::thousands;
use crate::simulate::scim::client::{patch, urlencode, ScimTarget};

/// Users each tenant has before the load starts (what its filters and PATCHes reach).
const TENANT_USERS: usize = 50;
/// Users the filter scenario's companies get through the SCIM service; the large one gets the
/// rest of its users straight into the service's table.
const FILTER_POSTED: usize = 10;

/// The request mix of the tenants' load, in tenths: Entra's match before a create (GET by
/// userName), a change (PATCH), a create (POST).
const FILTER_TENTHS: u32 = 4;
const PATCH_TENTHS: u32 = 3;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Filter,
    Patch,
    Create,
}

struct Tenant {
    company: Uuid,
    target: ScimTarget,
    tag: String,
    /// SCIM ids of the users made before the load.
    ids: Vec<String>,
}

fn filter_path(user_name: &str) -> String {
    let filter = format!("userName eq \"{user_name}\"");
    format!("/Users?filter={}", urlencode(&filter))
}

impl Bench {
    pub(super) async fn scim_tenants(&mut self, figures: &mut Vec<Figure>) -> anyhow::Result<()> {
        let (count, rate, secs) = (
            self.args.scim_tenants,
            self.args.scim_tenant_rate,
            self.args.scim_load_secs,
        );
        anyhow::ensure!(rate > 0.0, "--scim-tenant-rate must be positive");
        let at = format!(
            "{count} tenants at {rate} requests/s each, at once (filter GET 40%, PATCH 30%, POST 30%)"
        );
        let mut p50 = Figure::new(
            format!("SCIM latency p50: {at}"),
            Unit::Millis,
            Target::None,
        );
        let mut p99 = Figure::new(
            format!("SCIM latency p99: {at}"),
            Unit::Millis,
            Target::AtMost(20.0),
        );
        let mut achieved = Figure::new(
            format!(
                "SCIM answered rate while {}/s were due",
                thousands((rate * count as f64) as i64)
            ),
            Unit::PerSec,
            Target::None,
        );
        for run in 0..self.args.runs {
            let mut tenants = Vec::with_capacity(count);
            for _ in 0..count {
                let (company, target) = self.scim_company("SCIM tenants").await?;
                let tag = run_tag();
                let made =
                    create_many(&self.session.http, &target, &tag, TENANT_USERS, 8, None).await?;
                anyhow::ensure!(
                    made.failed == 0,
                    "seeding a tenant: {} creates failed",
                    made.failed
                );
                let mut ids = Vec::new();
                for i in 0..TENANT_USERS {
                    let (_, id) = target
                        .find_user(&self.session.http, &user_name(&tag, i))
                        .await;
                    ids.extend(id);
                }
                anyhow::ensure!(ids.len() == TENANT_USERS, "a seeded user is missing");
                tenants.push(Tenant {
                    company,
                    target,
                    tag,
                    ids,
                });
            }
            // Let the seeding's outbox rows reach the workers before the clock starts.
            for t in &tenants {
                self.outbox_empty(t.company).await?;
            }
            let meter = system::CpuMeter::start();
            let r =
                tenant_load(&self.session.http, &tenants, rate, secs, 7000 + run as u64).await?;
            p50.values.extend(r.p50);
            p99.values.extend(r.p99);
            achieved.values.push(r.achieved);
            self.say(format!(
                "SCIM tenants {}: {} requests due at {:.0}/s, {} not 2xx, achieved {:.0}/s; p50 {:.2} ms p99 {:.2} ms; p99 by kind: filter {:.2} ms, PATCH {:.2} ms, POST {:.2} ms; sender lag p99 {:.2} ms; other processes used {:.0}% of the CPUs; CPU: {}",
                run + 1,
                thousands(r.sent as i64),
                rate * count as f64,
                r.failed,
                r.achieved,
                r.p50.unwrap_or(f64::NAN),
                r.p99.unwrap_or(f64::NAN),
                r.p99_filter.unwrap_or(f64::NAN),
                r.p99_patch.unwrap_or(f64::NAN),
                r.p99_create.unwrap_or(f64::NAN),
                r.lag_p99.unwrap_or(f64::NAN),
                meter.others_percent(),
                meter.breakdown(r.sent as u64),
            ));
            let companies: Vec<Uuid> = tenants.iter().map(|t| t.company).collect();
            self.settle_scim(&companies).await?;
        }
        figures.extend([p50, p99, achieved]);
        Ok(())
    }

    pub(super) async fn scim_filter(&mut self, figures: &mut Vec<Figure>) -> anyhow::Result<()> {
        let big = self.args.scim_filter_users.max(FILTER_POSTED);
        let samples = self.args.scim_filter_samples;
        let mut small_ms = Figure::new(
            format!("SCIM userName filter median, {FILTER_POSTED}-user company"),
            Unit::Millis,
            Target::None,
        );
        let mut big_ms = Figure::new(
            format!(
                "SCIM userName filter median, {}-user company",
                thousands(big as i64)
            ),
            Unit::Millis,
            Target::None,
        );
        let mut ratio = Figure::new(
            format!(
                "SCIM userName filter: {}-user / {FILTER_POSTED}-user company (medians)",
                thousands(big as i64)
            ),
            Unit::Ratio,
            Target::AtMost(1.5),
        );
        let (small_company, small_target) = self.scim_company("SCIM filter, small").await?;
        let small_tag = run_tag();
        let made = create_many(
            &self.session.http,
            &small_target,
            &small_tag,
            FILTER_POSTED,
            8,
            None,
        )
        .await?;
        anyhow::ensure!(
            made.failed == 0,
            "creating the small company's users failed"
        );
        let (big_company, big_target) = self.scim_company("SCIM filter, large").await?;
        let big_tag = run_tag();
        let made = create_many(
            &self.session.http,
            &big_target,
            &big_tag,
            FILTER_POSTED,
            8,
            None,
        )
        .await?;
        anyhow::ensure!(
            made.failed == 0,
            "creating the large company's users failed"
        );
        let seeded_at = Instant::now();
        seed_directory(&self.session.db, big_company, &big_tag, big).await?;
        self.say(format!(
            "SCIM filter: {} users written into directory_users in {:.1} s (and ANALYZE)",
            thousands((big - FILTER_POSTED) as i64),
            seeded_at.elapsed().as_secs_f64()
        ));
        let http = self.session.http.clone();
        let mut rng = StdRng::seed_from_u64(9000);
        // Warm both: connections, the service's token cache, PostgreSQL's plan and pages.
        for i in 0..100 {
            lookup(
                &http,
                &small_target,
                &user_name(&small_tag, i % FILTER_POSTED),
            )
            .await?;
            lookup(
                &http,
                &big_target,
                &user_name(&big_tag, rng.random_range(0..big)),
            )
            .await?;
        }
        for run in 0..self.args.runs {
            let (mut small, mut large) = (Vec::with_capacity(samples), Vec::with_capacity(samples));
            // One at a time, alternating, so both meet the same machine.
            for _ in 0..samples {
                let s = rng.random_range(0..FILTER_POSTED);
                small.push(lookup(&http, &small_target, &user_name(&small_tag, s)).await?);
                let b = rng.random_range(0..big);
                large.push(lookup(&http, &big_target, &user_name(&big_tag, b)).await?);
            }
            let (Some(s), Some(l)) = (median(&small), median(&large)) else {
                continue;
            };
            small_ms.values.push(s);
            big_ms.values.push(l);
            ratio.values.push(l / s);
            small.sort_by(f64::total_cmp);
            large.sort_by(f64::total_cmp);
            self.say(format!(
                "SCIM filter {}: {samples} lookups each; {FILTER_POSTED} users median {s:.2} ms p99 {:.2} ms; {} users median {l:.2} ms p99 {:.2} ms; ratio of the medians {:.2}",
                run + 1,
                percentile(&small, 99.0).unwrap_or(f64::NAN),
                thousands(big as i64),
                percentile(&large, 99.0).unwrap_or(f64::NAN),
                l / s
            ));
        }
        self.settle_scim(&[small_company, big_company]).await?;
        figures.extend([small_ms, big_ms, ratio]);
        Ok(())
    }
}

/// Brings the company's User resources to `total`: the first [`FILTER_POSTED`] came through
/// the service; the others are copies of the first one's stored resource, under the names
/// `user_name(tag, i)`, written straight into `directory_users` (the service's own table, with
/// its indexes and constraints), which takes seconds where 100,000 creates through the door
/// would keep the workers busy for minutes. The product does not see them: only the SCIM side
/// is measured.
async fn seed_directory(
    db: &sea_orm::DatabaseConnection,
    company: Uuid,
    tag: &str,
    total: usize,
) -> anyhow::Result<()> {
    let sql =
        "INSERT INTO directory_users (id, company_id, user_name, external_id, active, resource)
         SELECT gen_random_uuid(), $1, n.name, n.ext, true,
                t.resource || jsonb_build_object(
                    'userName', n.name, 'externalId', n.ext,
                    'emails', jsonb_build_array(jsonb_build_object(
                        'type', 'work', 'value', n.name, 'primary', true)))
         FROM (SELECT resource FROM directory_users WHERE company_id = $1
               ORDER BY created_at LIMIT 1) t,
              generate_series($2::bigint, $3::bigint) g,
              LATERAL (SELECT 'u' || g || '.' || $4 || '@bench.example' AS name,
                              $4 || '-' || g AS ext) n";
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [
            company.into(),
            (FILTER_POSTED as i64).into(),
            (total as i64 - 1).into(),
            tag.to_owned().into(),
        ],
    ))
    .await
    .context("seeding directory_users")?;
    db.execute_unprepared("ANALYZE directory_users")
        .await
        .context("ANALYZE directory_users")?;
    Ok(())
}

/// One userName filter, in milliseconds; it must find exactly that user.
async fn lookup(http: &reqwest::Client, target: &ScimTarget, name: &str) -> anyhow::Result<f64> {
    let started = Instant::now();
    let answer = target
        .send(http, Method::GET, &filter_path(name), None)
        .await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    anyhow::ensure!(
        answer.status == 200 && answer.body["totalResults"] == 1,
        "filtering userName eq {name} answered {}: {}",
        answer.status,
        answer.body
    );
    Ok(ms)
}

struct LoadRun {
    sent: usize,
    failed: usize,
    achieved: f64,
    p50: Option<f64>,
    p99: Option<f64>,
    p99_filter: Option<f64>,
    p99_patch: Option<f64>,
    p99_create: Option<f64>,
    lag_p99: Option<f64>,
}

/// Open loop: tenant `t`'s `k`-th request is due at `start + (k + t / tenants) / rate`,
/// whatever the earlier ones are doing; latency runs from the moment it was due.
async fn tenant_load(
    http: &reqwest::Client,
    tenants: &[Tenant],
    rate: f64,
    secs: u64,
    seed: u64,
) -> anyhow::Result<LoadRun> {
    let per_tenant = (rate * secs as f64) as usize;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut plan = Vec::with_capacity(per_tenant * tenants.len());
    for k in 0..per_tenant {
        for (t, tenant) in tenants.iter().enumerate() {
            let due = (k as f64 + t as f64 / tenants.len() as f64) / rate;
            let roll = rng.random_range(0..10);
            let kind = if roll < FILTER_TENTHS {
                Kind::Filter
            } else if roll < FILTER_TENTHS + PATCH_TENTHS {
                Kind::Patch
            } else {
                Kind::Create
            };
            let user = rng.random_range(0..tenant.ids.len());
            plan.push((due, t, kind, user, k));
        }
    }
    plan.sort_by(|a, b| a.0.total_cmp(&b.0));
    let start = Instant::now() + Duration::from_millis(100);
    let mut tasks = tokio::task::JoinSet::new();
    let mut lags = Vec::with_capacity(plan.len());
    let sent = plan.len();
    let mut results = Vec::with_capacity(sent);
    for (due, t, kind, user, k) in plan {
        let due = start + Duration::from_secs_f64(due);
        tokio::time::sleep_until(due.into()).await;
        lags.push(due.elapsed().as_secs_f64() * 1000.0);
        let tenant = &tenants[t];
        let (method, path, body) = match kind {
            Kind::Filter => (
                Method::GET,
                filter_path(&user_name(&tenant.tag, user)),
                None,
            ),
            Kind::Patch => (
                Method::PATCH,
                format!("/Users/{}", tenant.ids[user]),
                Some(patch(vec![
                    json!({"op": "Replace", "path": "title", "value": format!("Title {k}")}),
                ])),
            ),
            // New users, past the seeded ones.
            Kind::Create => (
                Method::POST,
                "/Users".to_owned(),
                Some(user_body(&tenant.tag, TENANT_USERS + k)),
            ),
        };
        let (http, target) = (http.clone(), tenant.target.clone());
        tasks.spawn(async move {
            let answer = target.send(&http, method, &path, body.as_ref()).await;
            let ok = (200..300).contains(&answer.status);
            (kind, ok, due.elapsed(), Instant::now())
        });
        while let Some(done) = tasks.try_join_next() {
            results.push(done.context("a request task failed")?);
        }
    }
    while let Some(done) = tasks.join_next().await {
        results.push(done.context("a request task failed")?);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let sorted = |wanted: Option<Kind>| {
        let mut v: Vec<f64> = results
            .iter()
            .filter(|(kind, ok, _, _)| *ok && wanted.is_none_or(|w| w == *kind))
            .map(|(_, _, latency, _)| ms(*latency))
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let all = sorted(None);
    let last = results.iter().map(|r| r.3).max().unwrap_or(start);
    lags.sort_by(f64::total_cmp);
    Ok(LoadRun {
        sent,
        failed: results.iter().filter(|r| !r.1).count(),
        achieved: all.len() as f64
            / last
                .saturating_duration_since(start)
                .as_secs_f64()
                .max(1e-9),
        p50: percentile(&all, 50.0),
        p99: percentile(&all, 99.0),
        p99_filter: percentile(&sorted(Some(Kind::Filter)), 99.0),
        p99_patch: percentile(&sorted(Some(Kind::Patch)), 99.0),
        p99_create: percentile(&sorted(Some(Kind::Create)), 99.0),
        lag_p99: percentile(&lags, 99.0),
    })
}
