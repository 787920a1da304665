//! The transactional outbox (SPEC §7): a SCIM write commits its resource change and the queue
//! messages for the workers in one transaction ([`enqueue`]), and is answered after the commit.
//! The relay ([`Relay::run`]) publishes each row with a publisher confirm, then deletes it.
//!
//! - Several replicas: a relay leases the rows it takes (`FOR UPDATE SKIP LOCKED`, then
//!   `leased_until`), so no two publish a row at once, and no transaction stays open while the
//!   broker confirms.
//! - Woken by `LISTEN scim_outbox` (a trigger notifies at commit), with a poll as the fallback
//!   when notifications are lost (a dropped listener connection).
//! - The broker down: writes still commit; rows wait, and flow when it returns.
//! - The process dies between commit and publish, or between publish and delete: the row is
//!   still there and is published after its lease; the workers tolerate the duplicate.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::future::join_all;
use lapin::types::FieldTable;
use scimsync_platform::amqp::headers::set_str;
use scimsync_platform::amqp::{Outgoing, Publisher};
use scimsync_schema::headers as h;
use scimsync_schema::topology::EVENTS_EXCHANGE;
use scimsync_schema::QueueMessage;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, FromQueryResult, Statement};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use uuid::Uuid;

use crate::metrics;

/// The header that names the company of a SCIM-door message (dead letters are found by
/// company, whichever door they came through).
pub const COMPANY_HEADER: &str = h::COMPANY_ID;

/// One message for the workers, written with the change that caused it.
pub struct Pending {
    pub routing_key: String,
    pub message: QueueMessage,
}

/// Writes messages into the outbox, in the caller's transaction. The current span's trace
/// context goes with them, so the relay's publish continues the request's trace.
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    messages: &[Pending],
) -> Result<(), DbErr> {
    if messages.is_empty() {
        return Ok(());
    }
    let traceparent = current_traceparent();
    let mut keys = Vec::with_capacity(messages.len());
    let mut ids = Vec::with_capacity(messages.len());
    let mut bodies = Vec::with_capacity(messages.len());
    for pending in messages {
        keys.push(pending.routing_key.clone());
        ids.push(pending.message.event_id().to_owned());
        bodies.push(pending.message.to_bytes());
    }
    conn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO scim_outbox (company_id, routing_key, event_id, message, traceparent)
         SELECT $1, k, e, m, $5 FROM unnest($2::text[], $3::text[], $4::bytea[]) AS u(k, e, m)",
        [
            company_id.into(),
            keys.into(),
            ids.into(),
            bodies.into(),
            traceparent.into(),
        ],
    ))
    .await?;
    Ok(())
}

fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    let mut carrier: HashMap<String, String> = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&context, &mut carrier));
    carrier.remove("traceparent")
}

#[derive(Debug, FromQueryResult)]
struct Row {
    id: i64,
    company_id: Uuid,
    routing_key: String,
    event_id: String,
    message: Vec<u8>,
    traceparent: Option<String>,
}

/// Takes up to `$1` rows nobody holds, leasing them for `$2` seconds.
const CLAIM: &str = "
UPDATE scim_outbox o SET leased_until = now() + make_interval(secs => $2), attempts = attempts + 1
FROM (SELECT id FROM scim_outbox
      WHERE leased_until IS NULL OR leased_until < now()
      ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) due
WHERE o.id = due.id
RETURNING o.id, o.company_id, o.routing_key, o.event_id, o.message, o.traceparent";

/// The relay of one replica.
pub struct Relay {
    pub db: DatabaseConnection,
    pub publisher: Publisher,
    /// Rows per claim.
    pub batch: i64,
    /// How long a claimed row is this relay's.
    pub lease: Duration,
    /// The fallback poll, when no notification comes.
    pub poll: Duration,
}

impl Relay {
    /// Publishes until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut listener = self.listen().await;
        let mut backoff = Duration::from_millis(100);
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            match self.drain_once().await {
                // A full batch: more may be waiting.
                Ok(n) if n as i64 >= self.batch => {
                    backoff = Duration::from_millis(100);
                    continue;
                }
                Ok(_) => backoff = Duration::from_millis(100),
                Err(error) => {
                    tracing::warn!(%error, "outbox relay: will try again");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = shutdown.cancelled() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            }
            // Nothing more for now: wait for a commit's notification, or the poll.
            let woken = async {
                match listener.as_mut() {
                    Some(l) => l.recv().await.map(drop).map_err(|e| e.to_string()),
                    None => {
                        tokio::time::sleep(self.poll).await;
                        Ok(())
                    }
                }
            };
            tokio::select! {
                result = tokio::time::timeout(self.poll, woken) => {
                    if let Ok(Err(error)) = result {
                        tracing::warn!(%error, "outbox relay: listener lost; polling until it is back");
                        listener = self.listen().await;
                    }
                }
                () = shutdown.cancelled() => return,
            }
        }
    }

    async fn listen(&self) -> Option<sea_orm::sqlx::postgres::PgListener> {
        let pool = self.db.get_postgres_connection_pool();
        let mut listener = match sea_orm::sqlx::postgres::PgListener::connect_with(pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "outbox relay: cannot listen; polling");
                return None;
            }
        };
        match listener.listen("scim_outbox").await {
            Ok(()) => Some(listener),
            Err(error) => {
                tracing::warn!(%error, "outbox relay: cannot listen; polling");
                None
            }
        }
    }

    /// Claims a batch, publishes it, deletes what the broker confirmed and releases the rest.
    /// Returns how many rows it took.
    pub async fn drain_once(&self) -> Result<usize, RelayError> {
        if !self.publisher.is_ready() {
            return Err(RelayError::BrokerUnavailable);
        }
        let rows = Row::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            CLAIM,
            [self.batch.into(), self.lease.as_secs_f64().into()],
        ))
        .all(&self.db)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let results = join_all(rows.iter().map(|row| self.publish(row))).await;
        let mut sent = Vec::new();
        let mut failed = Vec::new();
        for (row, result) in rows.iter().zip(results) {
            match result {
                Ok(()) => sent.push(row.id),
                Err(error) => {
                    tracing::warn!(event_id = %row.event_id, %error, "outbox relay: publish not confirmed");
                    failed.push(row.id);
                }
            }
        }
        self.db
            .execute(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "DELETE FROM scim_outbox WHERE id = ANY($1)",
                [sent.clone().into()],
            ))
            .await?;
        if !failed.is_empty() {
            // Back in line at once rather than after the lease.
            self.db
                .execute(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "UPDATE scim_outbox SET leased_until = NULL WHERE id = ANY($1)",
                    [failed.clone().into()],
                ))
                .await?;
        }
        metrics::relayed(sent.len(), failed.len());
        if sent.is_empty() {
            return Err(RelayError::NothingConfirmed(failed.len()));
        }
        Ok(rows.len())
    }

    async fn publish(&self, row: &Row) -> Result<(), scimsync_platform::amqp::PublishError> {
        let span = tracing::info_span!(
            "publish",
            otel.kind = "producer",
            otel.name = %format!("publish {EVENTS_EXCHANGE}"),
            messaging.system = "rabbitmq",
            messaging.destination.name = EVENTS_EXCHANGE,
            messaging.rabbitmq.destination.routing_key = %row.routing_key,
            event_id = %row.event_id,
            company_id = %row.company_id,
        );
        if let Some(traceparent) = &row.traceparent {
            let carrier = HashMap::from([("traceparent".to_owned(), traceparent.clone())]);
            let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier));
            let _ = span.set_parent(parent);
        }
        let mut headers = FieldTable::default();
        set_str(&mut headers, h::EVENT_ID, row.event_id.clone());
        set_str(&mut headers, h::EVENT_TYPE, row.routing_key.clone());
        set_str(&mut headers, COMPANY_HEADER, row.company_id.to_string());
        self.publisher
            .publish(Outgoing {
                exchange: EVENTS_EXCHANGE,
                routing_key: &row.routing_key,
                body: &row.message,
                message_id: Some(&row.event_id),
                headers,
            })
            .instrument(span)
            .await
    }
}

/// Why a relay round did not publish.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("the broker is not connected")]
    BrokerUnavailable,
    #[error("the broker confirmed none of {0} messages")]
    NothingConfirmed(usize),
    #[error("database error")]
    Database(#[from] DbErr),
}

/// Samples the outbox's depth and oldest age into the metrics every `every`, until `shutdown`.
pub async fn sample_depth(db: DatabaseConnection, every: Duration, shutdown: CancellationToken) {
    loop {
        match depth(&db).await {
            Ok((rows, age)) => metrics::outbox_depth(rows, age),
            Err(error) => tracing::warn!(%error, "could not sample the outbox"),
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// How far behind the relay is: rows waiting and the oldest one's age, for the metrics.
pub async fn depth(db: &DatabaseConnection) -> Result<(i64, f64), DbErr> {
    let row = db
        .query_one(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) AS n,
                    COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS age
             FROM scim_outbox",
        ))
        .await?;
    match row {
        Some(row) => Ok((row.try_get("", "n")?, row.try_get("", "age")?)),
        None => Ok((0, 0.0)),
    }
}
