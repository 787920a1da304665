//! Latency at a steady rate, open loop: webhook `i` is due at `start + i / rate`, whatever the
//! earlier ones are doing, so a slow answer cannot slow the load down and hide itself.
//!
//! Ingest latency is measured from the moment each webhook was due to its 2xx (after the
//! broker's confirm), so time spent waiting because the system fell behind counts too (at most
//! 1,024 requests are in flight; past that the sender waits, and that wait is in the figure).
//! The plain round trip is reported alongside. Webhook-to-visible is, for a sample of member
//! creates, the time from that same due moment until the admin API lists the user (polled every 5 ms at first, then
//! every tenth of the time waited so far, at most 100 ms: the figure is an upper bound by up
//! to one poll). A sample not visible within a minute counts as one minute (a lower bound).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use uuid::Uuid;

use super::table::percentile;
use crate::simulate::admin::Admin;
use crate::simulate::player::{self, Delivery, Target};
use crate::simulate::session::{Goal, Session};
use crate::simulate::truth::Phase;

const POLL: Duration = Duration::from_millis(5);
const POLL_MAX: Duration = Duration::from_millis(100);
pub const VISIBLE_LIMIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct LatencyRun {
    pub company: Uuid,
    pub sent: usize,
    pub refused: usize,
    pub ingest_p50_ms: Option<f64>,
    pub ingest_p99_ms: Option<f64>,
    pub visible_p50_ms: Option<f64>,
    pub visible_p99_ms: Option<f64>,
    pub visible_samples: usize,
    /// Samples not visible within [`VISIBLE_LIMIT`] (counted as that long).
    pub invisible: usize,
    /// Round trip alone (from the request's start), p99.
    pub round_trip_p99_ms: Option<f64>,
    /// Accepted webhooks per second, first due to last answer: did the system keep up?
    pub achieved_rate: f64,
    /// How late the sender was against the schedule (p99), a check on the load generator.
    pub schedule_lag_p99_ms: Option<f64>,
    pub converged: bool,
}

/// Requests in flight at most; past that the sender waits (and its lag shows in the figures).
const MAX_IN_FLIGHT: usize = 1024;

struct Sent {
    status: u16,
    /// From the moment the webhook was due.
    latency: Duration,
    /// From the moment the request started.
    round_trip: Duration,
    finished: Instant,
    visible: Option<Option<Duration>>,
}

async fn watch(admin: &Admin, company: Uuid, email: &str, started: Instant) -> Option<Duration> {
    while started.elapsed() < VISIBLE_LIMIT {
        if let Ok(Some(_)) = admin.user_by_email(company, email).await {
            return Some(started.elapsed());
        }
        tokio::time::sleep((started.elapsed() / 10).clamp(POLL, POLL_MAX)).await;
    }
    None
}

pub async fn run(
    session: &Session,
    users: usize,
    rate: f64,
    samples: usize,
    seed: u64,
    timeout: Duration,
) -> anyhow::Result<LatencyRun> {
    let prepared = session
        .prepare(users, seed, None, |t| t.initial_sync())
        .await?;
    let truth = &prepared.truth;
    let goal = Goal::of(truth);
    let creates = truth.events.iter().filter(|e| e.member.is_some()).count();
    let every = (creates / samples.max(1)).max(1);
    let mut plan: Vec<(Delivery, Option<String>)> = Vec::new();
    let mut seen_creates = 0;
    for (i, event) in truth.events.iter().enumerate() {
        if event.phase != Phase::Initial {
            continue;
        }
        let body: Arc<[u8]> = Arc::from(serde_json::to_vec(&event.body)?);
        let sample = event.member.and_then(|m| {
            seen_creates += 1;
            (seen_creates % every == 0).then(|| truth.members[m].email.clone())
        });
        let svix_id = format!("msg_{}_{i}", truth.org.tag);
        plan.push((Delivery { body, svix_id }, sample));
    }
    let company = prepared.company;
    let mut tasks = tokio::task::JoinSet::new();
    let mut lags = Vec::with_capacity(plan.len());
    let start = Instant::now() + Duration::from_millis(100);
    let sent = plan.len();
    let mut results: Vec<Sent> = Vec::with_capacity(sent);
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    for (i, (delivery, sample)) in plan.into_iter().enumerate() {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .context("the in-flight limit closed")?;
        lags.push(due.elapsed().as_secs_f64() * 1000.0);
        let http = session.http.clone();
        let target: Target = session.target.clone();
        let admin = session.admin.clone();
        tasks.spawn(async move {
            let started = Instant::now();
            let outcome = player::deliver(&http, &target, &delivery, super::RETRY_FOR).await;
            let finished = Instant::now();
            drop(permit);
            let ok = (200..300).contains(&outcome.status);
            let visible = match sample {
                Some(email) if ok => Some(watch(&admin, company, &email, due).await),
                _ => None,
            };
            Sent {
                status: outcome.status,
                latency: finished.duration_since(due),
                round_trip: finished.duration_since(started),
                finished,
                visible,
            }
        });
        while let Some(done) = tasks.try_join_next() {
            results.push(done.context("a sender task failed")?);
        }
    }
    while let Some(done) = tasks.join_next().await {
        results.push(done.context("a sender task failed")?);
    }
    let refused = results
        .iter()
        .filter(|r| !(200..300).contains(&r.status))
        .count();
    let deadline = super::converge_deadline(timeout, refused as u64);
    let converged = session
        .converge(company, &goal, deadline, &indicatif::ProgressBar::hidden())
        .await?
        .is_some();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let ok: Vec<&Sent> = results
        .iter()
        .filter(|r| (200..300).contains(&r.status))
        .collect();
    let mut ingest: Vec<f64> = ok.iter().map(|r| ms(r.latency)).collect();
    ingest.sort_by(f64::total_cmp);
    let mut round_trips: Vec<f64> = ok.iter().map(|r| ms(r.round_trip)).collect();
    round_trips.sort_by(f64::total_cmp);
    let last = ok.iter().map(|r| r.finished).max().unwrap_or(start);
    let achieved_rate = ok.len() as f64
        / last
            .saturating_duration_since(start)
            .as_secs_f64()
            .max(1e-9);
    let mut visible: Vec<f64> = results
        .iter()
        .filter_map(|r| r.visible.map(|v| ms(v.unwrap_or(VISIBLE_LIMIT))))
        .collect();
    visible.sort_by(f64::total_cmp);
    lags.sort_by(f64::total_cmp);
    Ok(LatencyRun {
        company,
        sent,
        refused,
        ingest_p50_ms: percentile(&ingest, 50.0),
        ingest_p99_ms: percentile(&ingest, 99.0),
        visible_p50_ms: percentile(&visible, 50.0),
        visible_p99_ms: percentile(&visible, 99.0),
        visible_samples: visible.len(),
        invisible: results.iter().filter(|r| r.visible == Some(None)).count(),
        round_trip_p99_ms: percentile(&round_trips, 99.0),
        achieved_rate,
        schedule_lag_p99_ms: percentile(&lags, 99.0),
        converged,
    })
}
