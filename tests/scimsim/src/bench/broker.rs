//! The broker's own ceiling: how fast RabbitMQ on this machine confirms persistent messages
//! into three quorum queues, which is what ingest asks of it for every member webhook (SPEC A2:
//! one quorum queue per worker). No HTTP, signature, validation or worker is in the way, so
//! ingest's acceptance rate cannot exceed this figure on the same machine.
//!
//! The messages are the run's own webhook bodies, published through the publisher ingest uses
//! (same channels, persistence and confirm wait), `--concurrency` in flight, to a fanout
//! exchange and queues of their own that are deleted after each run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use scimsync_platform::amqp::publisher::PublisherConfig;
use scimsync_platform::amqp::topology::{BindingSpec, ExchangeSpec, Plan, QueueSpec};
use scimsync_platform::amqp::{Outgoing, Publisher};
use secrecy::ExposeSecret;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::table::{Figure, Goal as Target, Unit};
use super::{system, Bench};
use crate::simulate::plan::Order;
use crate::simulate::report::thousands;

const EXCHANGE: &str = "scimsync.bench.ceiling";
/// As many copies as a member create makes: one per worker's queue.
const QUEUES: usize = 3;

fn queue_names() -> Vec<String> {
    (1..=QUEUES).map(|i| format!("{EXCHANGE}.{i}")).collect()
}

fn ceiling_plan() -> Plan {
    let mut plan = Plan::default();
    plan.exchanges.push(ExchangeSpec {
        name: EXCHANGE.into(),
        kind: "fanout",
        arguments: Default::default(),
    });
    for name in queue_names() {
        plan.queues.push(QueueSpec {
            name: name.clone(),
            arguments: [("x-queue-type".to_owned(), json!("quorum"))]
                .into_iter()
                .collect(),
        });
        plan.bindings.push(BindingSpec {
            exchange: EXCHANGE.into(),
            queue: name,
            routing_key: String::new(),
        });
    }
    plan
}

impl Bench {
    pub(super) async fn broker_ceiling(
        &mut self,
        amqp_url: &secrecy::SecretString,
        publisher_channels: usize,
        figures: &mut Vec<Figure>,
    ) -> anyhow::Result<()> {
        let n = self.args.throughput_users;
        let mut f = Figure::new(
            format!(
                "Broker ceiling (RabbitMQ alone, no HTTP): {} persistent publishes confirmed into {QUEUES} quorum queues, {} in flight",
                thousands(n as i64),
                self.args.concurrency
            ),
            Unit::PerSec,
            Target::None,
        );
        // Realistic bodies: the webhooks of a generated organisation, as ingest receives them.
        let (company, _, deliveries) = self.first_sync(n, 6000, Order::Random, 1).await?;
        let bodies: Arc<Vec<Arc<[u8]>>> =
            Arc::new(deliveries.into_iter().map(|d| d.body).collect());
        anyhow::ensure!(
            !bodies.is_empty(),
            "the generated organisation has no webhooks"
        );
        for run in 0..self.args.runs {
            let result = self
                .ceiling_run(amqp_url, publisher_channels, &bodies, n)
                .await;
            // Whatever happened, the run's queues go: each run starts from empty ones.
            remove(amqp_url).await?;
            let (rate, broker_cpu_secs) = result?;
            f.values.push(rate);
            self.say(format!(
                "broker ceiling {}: {} confirmed at {rate:.0}/s; RabbitMQ used {broker_cpu_secs:.1} CPU-s ({:.0} µs per publish)",
                run + 1,
                thousands(n as i64),
                broker_cpu_secs * 1e6 / n as f64,
            ));
        }
        // The organisation was only a source of bodies; nothing was sent to ingest.
        self.settle(company).await?;
        figures.push(f);
        Ok(())
    }

    async fn ceiling_run(
        &self,
        amqp_url: &secrecy::SecretString,
        publisher_channels: usize,
        bodies: &Arc<Vec<Arc<[u8]>>>,
        n: usize,
    ) -> anyhow::Result<(f64, f64)> {
        let shutdown = CancellationToken::new();
        let publisher = Publisher::start(
            PublisherConfig {
                url: amqp_url.clone(),
                name: "scimctl-bench-ceiling".into(),
                channels: publisher_channels,
                confirm_timeout: Duration::from_secs(30),
                plan: ceiling_plan(),
            },
            shutdown.clone(),
        );
        let outcome = async {
            anyhow::ensure!(
                publisher.wait_ready(Duration::from_secs(30)).await,
                "could not connect to RabbitMQ at the configured amqp.url"
            );
            let next = Arc::new(AtomicUsize::new(0));
            let cpu_before = system::process_cpu_secs("beam.smp");
            let started = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..self.args.concurrency.max(1) {
                let (publisher, next, bodies) = (publisher.clone(), next.clone(), bodies.clone());
                tasks.spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            return Ok::<_, anyhow::Error>(());
                        }
                        publisher
                            .publish(Outgoing {
                                exchange: EXCHANGE,
                                routing_key: "",
                                body: &bodies[i % bodies.len()],
                                message_id: None,
                                headers: Default::default(),
                            })
                            .await
                            .with_context(|| format!("publish {} of {n}", i + 1))?;
                    }
                });
            }
            while let Some(joined) = tasks.join_next().await {
                joined.context("a publishing task panicked")??;
            }
            let secs = started.elapsed().as_secs_f64();
            let cpu = system::process_cpu_secs("beam.smp") - cpu_before;
            Ok((n as f64 / secs.max(1e-9), cpu))
        }
        .await;
        publisher.close().await;
        shutdown.cancel();
        outcome
    }
}

/// Deletes the ceiling's queues and exchange (idempotent: deleting what is not there is fine).
async fn remove(amqp_url: &secrecy::SecretString) -> anyhow::Result<()> {
    let connection =
        scimsync_platform::amqp::connect(amqp_url.expose_secret(), "scimctl-bench-cleanup")
            .await
            .context("connecting to RabbitMQ to delete the ceiling's queues")?;
    let channel = connection.create_channel().await?;
    for name in queue_names() {
        channel
            .queue_delete(&name, QueueDeleteOptions::default())
            .await
            .with_context(|| format!("deleting queue {name}"))?;
    }
    channel
        .exchange_delete(EXCHANGE, ExchangeDeleteOptions::default())
        .await
        .with_context(|| format!("deleting exchange {EXCHANGE}"))?;
    let _ = connection.close(200, "done").await;
    Ok(())
}
