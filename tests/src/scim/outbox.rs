//! What the SCIM door hands the workers: the outbox's rows, and a queue bound to the door's
//! routing keys on the events exchange.

use lapin::options::{BasicAckOptions, BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use scimsync_schema::topology::EVENTS_EXCHANGE;
use scimsync_schema::QueueMessage;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use uuid::Uuid;

use crate::app::DEADLINE;
use crate::wait::wait_until;
use crate::TestApp;

/// A row of the outbox, its message decoded.
#[derive(Debug)]
pub struct OutboxRow {
    pub id: i64,
    pub company_id: Uuid,
    pub routing_key: String,
    pub event_id: String,
    pub message: QueueMessage,
}

#[derive(FromQueryResult)]
struct RawRow {
    id: i64,
    company_id: Uuid,
    routing_key: String,
    event_id: String,
    message: Vec<u8>,
}

/// The outbox, oldest first.
pub async fn outbox(app: &TestApp) -> Vec<OutboxRow> {
    RawRow::find_by_statement(Statement::from_string(
        DbBackend::Postgres,
        "SELECT id, company_id, routing_key, event_id, message FROM scim_outbox ORDER BY id",
    ))
    .all(&app.env.db)
    .await
    .expect("read the outbox")
    .into_iter()
    .map(|r| OutboxRow {
        id: r.id,
        company_id: r.company_id,
        routing_key: r.routing_key,
        message: QueueMessage::from_bytes(&r.message).expect("an outbox message decodes"),
        event_id: r.event_id,
    })
    .collect()
}

/// Rows waiting in the outbox.
pub async fn outbox_depth(app: &TestApp) -> i64 {
    app.env
        .db
        .query_one(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM scim_outbox",
        ))
        .await
        .expect("count")
        .map(|r| r.try_get::<i64>("", "n").expect("n"))
        .unwrap_or(0)
}

/// A queue of the test's virtual host bound to every SCIM-door routing key (`scim.#`) on the
/// events exchange, reading what the relay publishes.
pub struct Tap {
    channel: lapin::Channel,
    _connection: lapin::Connection,
    queue: String,
}

impl Tap {
    /// Binds the queue; the exchange must exist (see [`ScimService::wait_broker`]).
    pub async fn bind(app: &TestApp) -> Self {
        let connection = scimsync_platform::amqp::connect(&app.env.amqp_url, "test-tap")
            .await
            .expect("connect to RabbitMQ");
        let channel = connection.create_channel().await.expect("channel");
        let queue = format!("test.scim-tap.{}", Uuid::now_v7().simple());
        channel
            .queue_declare(
                &queue,
                QueueDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("declare the tap");
        channel
            .queue_bind(
                &queue,
                EVENTS_EXCHANGE,
                "scim.#",
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind the tap");
        Self {
            channel,
            _connection: connection,
            queue,
        }
    }

    /// The next message (routing key and message), waiting for it up to the deadline.
    pub async fn next(&self) -> (String, QueueMessage) {
        wait_until("a message on the tap", DEADLINE, || async {
            let got = self
                .channel
                .basic_get(&self.queue, BasicGetOptions::default())
                .await
                .expect("basic.get")?;
            got.delivery
                .ack(BasicAckOptions::default())
                .await
                .expect("ack");
            let message = QueueMessage::from_bytes(&got.delivery.data).expect("decodes");
            Some((got.delivery.routing_key.to_string(), message))
        })
        .await
    }

    /// `n` messages, in the order they arrived.
    pub async fn take(&self, n: usize) -> Vec<(String, QueueMessage)> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.next().await);
        }
        out
    }
}
