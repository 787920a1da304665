//! The scenarios: throughput (whole system, and ingest alone), latency at a steady rate.

use std::time::{Duration, Instant};

use super::table::{Figure, Goal as Target, Unit};
use super::{latency, system, Bench, ConvergeRun};
use crate::simulate::plan::{plan, Order};
use crate::simulate::player::{self, Pace};
use crate::simulate::report::thousands;
use crate::simulate::session::Goal;

impl Bench {
    /// A fresh company and its organisation's first sync: the member creates (generated with
    /// `seed`, in `order`, shuffled with `plan_seed`) and the state they must end in. Only
    /// these are kept: the generated truth is several times their size.
    pub(super) async fn first_sync(
        &self,
        users: usize,
        seed: u64,
        order: Order,
        plan_seed: u64,
    ) -> anyhow::Result<(uuid::Uuid, Goal, Vec<player::Delivery>)> {
        let prepared = self
            .session
            .prepare(users, seed, None, |t| t.initial_sync())
            .await?;
        let goal = Goal::of(&prepared.truth);
        let deliveries = plan(&prepared.truth, order, 0.0, plan_seed).initial;
        Ok((prepared.company, goal, deliveries))
    }

    /// Every delivery as fast as ingest answers, `--concurrency` in flight.
    async fn send_unthrottled(
        &self,
        deliveries: Vec<player::Delivery>,
        bar: &indicatif::ProgressBar,
    ) -> player::PlayStats {
        let pace = Pace {
            concurrency: self.args.concurrency,
            rate: None,
            retry_for: super::RETRY_FOR,
        };
        player::play(
            &self.session.http,
            &self.session.target,
            deliveries,
            pace,
            bar,
        )
        .await
    }

    /// One line per run: to stderr as it happens (stdout is for the table), and kept for the
    /// results file.
    pub(super) fn say(&mut self, line: String) {
        eprintln!("{line}");
        self.log.push(line);
    }

    /// Waits until the broker is idle; how many retries still wait on the long delay tiers.
    pub(super) async fn drain(&mut self) -> anyhow::Result<u64> {
        let left = self.rabbit.drain(Duration::from_secs(900)).await?;
        if left > 0 {
            self.say(format!(
                "  (broker drained; {left} retries wait on the 2m+ delay tiers)"
            ));
        }
        Ok(left)
    }

    /// After a run: drain the broker, then delete the run's company and vacuum, unless retries
    /// for it are still waiting (they would dead-letter as `unknown_organization`).
    pub(super) async fn settle(&mut self, company: uuid::Uuid) -> anyhow::Result<()> {
        let left = self.drain().await?;
        if self.args.keep_data {
            return Ok(());
        }
        if left > 0 {
            self.say(format!(
                "  (company {company} kept: retries for it still wait)"
            ));
            return Ok(());
        }
        super::cleanup::purge(&self.session.db, company).await
    }

    /// One organisation's first sync, unthrottled, until it converged.
    pub(super) async fn converge_run(
        &mut self,
        users: usize,
        order: Order,
        seed: u64,
    ) -> anyhow::Result<ConvergeRun> {
        let (company, goal, deliveries) = self.first_sync(users, seed, order, seed).await?;
        let bar = crate::simulate::progress(deliveries.len() as u64, "webhooks", false);
        let meter = system::CpuMeter::start();
        let first = Instant::now();
        let stats = self.send_unthrottled(deliveries, &bar).await;
        let deadline =
            super::converge_deadline(Duration::from_secs(self.args.timeout), stats.refused());
        let converged = self
            .session
            .converge(company, &goal, deadline, &bar)
            .await?;
        // Before the clean-up, which is not part of the run.
        let cpu = meter.breakdown(stats.accepted());
        bar.finish_and_clear();
        let run = ConvergeRun {
            accept_rate: stats.accepted() as f64 / stats.send_secs.max(1e-9),
            refused: stats.refused(),
            total_secs: first.elapsed().as_secs_f64(),
            converge_secs: converged.map(|at| at.duration_since(first).as_secs_f64()),
        };
        let converge = run
            .converge_secs
            .map(|s| format!("converged in {s:.2} s"))
            .unwrap_or_else(|| "DID NOT CONVERGE".into());
        self.say(format!(
            "{} users {}: {} webhooks accepted at {:.0}/s, {} refused; {converge}; other processes used {:.0}% of the CPUs; CPU until then: {cpu}",
            thousands(users as i64),
            order.name(),
            thousands(stats.accepted() as i64),
            run.accept_rate,
            run.refused,
            meter.others_percent()
        ));
        self.settle(company).await?;
        Ok(run)
    }

    pub(super) async fn throughput(&mut self, figures: &mut Vec<Figure>) -> anyhow::Result<()> {
        let n = self.args.throughput_users;
        let mut accept = Figure::new(
            format!(
                "Ingest acceptance rate: {} member creates, unthrottled, {} in flight",
                thousands(n as i64),
                self.args.concurrency
            ),
            Unit::PerSec,
            Target::AtLeast(8000.0),
        );
        let mut e2e = Figure::new(
            format!(
                "End-to-end rate: {} member creates applied by every worker",
                thousands(n as i64)
            ),
            Unit::PerSec,
            Target::AtLeast(4000.0),
        );
        for run in 0..self.args.runs {
            let r = self
                .converge_run(n, Order::Random, 1000 + run as u64)
                .await?;
            accept.values.push(r.accept_rate);
            if let Some(secs) = r.converge_secs {
                e2e.values.push(n as f64 / secs);
            }
        }
        figures.extend([accept, e2e]);
        Ok(())
    }

    /// Ingest and the broker alone: the workers are paused (SIGSTOP) while the webhooks are
    /// sent, then resumed, and the run must still converge.
    pub(super) async fn ingest_alone(&mut self, figures: &mut Vec<Figure>) -> anyhow::Result<()> {
        let n = self.args.throughput_users;
        let mut f = Figure::new(
            format!(
                "Ingest acceptance rate, workers paused (ingest and RabbitMQ alone): {} member creates, {} in flight",
                thousands(n as i64),
                self.args.concurrency
            ),
            Unit::PerSec,
            Target::None,
        );
        for run in 0..self.args.runs {
            let (company, goal, deliveries) = self
                .first_sync(n, 4000 + run as u64, Order::Random, 1)
                .await?;
            let meter = system::CpuMeter::start();
            system::signal_workers(&self.args.pid_dir, "STOP")?;
            let bar = crate::simulate::progress(deliveries.len() as u64, "webhooks", false);
            let stats = self.send_unthrottled(deliveries, &bar).await;
            bar.finish_and_clear();
            system::signal_workers(&self.args.pid_dir, "CONT")?;
            let rate = stats.accepted() as f64 / stats.send_secs.max(1e-9);
            f.values.push(rate);
            let deadline =
                super::converge_deadline(Duration::from_secs(self.args.timeout), stats.refused());
            let hidden = indicatif::ProgressBar::hidden();
            let converged = self
                .session
                .converge(company, &goal, deadline, &hidden)
                .await?;
            self.say(format!(
                "ingest alone {}: {} accepted at {rate:.0}/s, {} refused; then the resumed workers converged: {}; other processes used {:.0}% of the CPUs",
                run + 1,
                thousands(stats.accepted() as i64),
                stats.refused(),
                converged.is_some(),
                meter.others_percent()
            ));
            self.settle(company).await?;
        }
        figures.push(f);
        Ok(())
    }

    /// At a steady `rate`; the goals apply only to the rate (`goals`), other rates are
    /// there to show where the system stands when it keeps up.
    pub(super) async fn latency(
        &mut self,
        figures: &mut Vec<Figure>,
        rate: f64,
        goals: bool,
    ) -> anyhow::Result<()> {
        let users = (rate * self.args.latency_secs as f64) as usize;
        let at = format!("at a steady {}/s", thousands(rate as i64));
        let goal = |g: f64| {
            if goals {
                Target::AtMost(g)
            } else {
                Target::None
            }
        };
        let mut f = [
            Figure::new(
                format!("Ingest latency p50 {at}"),
                Unit::Millis,
                Target::None,
            ),
            Figure::new(format!("Ingest latency p99 {at}"), Unit::Millis, goal(10.0)),
            Figure::new(
                format!("Webhook-to-visible p50 {at}"),
                Unit::Millis,
                Target::None,
            ),
            Figure::new(
                format!("Webhook-to-visible p99 {at}"),
                Unit::Millis,
                goal(150.0),
            ),
            Figure::new(
                format!(
                    "Accepted rate achieved while {}/s were due",
                    thousands(rate as i64)
                ),
                Unit::PerSec,
                Target::None,
            ),
        ];
        for run in 0..self.args.runs {
            let timeout = Duration::from_secs(self.args.timeout);
            let meter = system::CpuMeter::start();
            let r = latency::run(
                &self.session,
                users,
                rate,
                self.args.visible_samples,
                2000 + run as u64,
                timeout,
            )
            .await?;
            for (figure, value) in f.iter_mut().zip([
                r.ingest_p50_ms,
                r.ingest_p99_ms,
                r.visible_p50_ms,
                r.visible_p99_ms,
                Some(r.achieved_rate),
            ]) {
                figure.values.extend(value);
            }
            self.say(format!(
                "latency {}: {} webhooks due at {rate:.0}/s, {} refused, achieved {:.0}/s; ingest p50 {:.2} ms p99 {:.2} ms (round trip alone p99 {:.2} ms); visible p50 {:.1} ms p99 {:.1} ms ({} samples, {} not visible within {} s); sender lag p99 {:.2} ms; converged {}; other processes used {:.0}% of the CPUs",
                run + 1,
                r.sent,
                r.refused,
                r.achieved_rate,
                r.ingest_p50_ms.unwrap_or(f64::NAN),
                r.ingest_p99_ms.unwrap_or(f64::NAN),
                r.round_trip_p99_ms.unwrap_or(f64::NAN),
                r.visible_p50_ms.unwrap_or(f64::NAN),
                r.visible_p99_ms.unwrap_or(f64::NAN),
                r.visible_samples,
                r.invisible,
                latency::VISIBLE_LIMIT.as_secs(),
                r.schedule_lag_p99_ms.unwrap_or(f64::NAN),
                r.converged,
                meter.others_percent()
            ));
            self.settle(r.company).await?;
        }
        figures.extend(f);
        Ok(())
    }
}
