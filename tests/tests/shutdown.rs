//! Stopping (SPEC A4): a worker finishes and acknowledges the messages in its hands within the
//! grace period; ingest stops accepting but still answers the webhook it is publishing.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_schema::Concern;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use scimsync_schema::topology::USER_UPSERT;
use scimsync_tests::app::{Services, DEADLINE, SECRET};
use scimsync_tests::broker::Broker;
use scimsync_tests::env::TestEnv;
use scimsync_tests::events::{create, event_id, set_scim, t, update};
use scimsync_tests::proxy::Proxy;
use scimsync_tests::webhooks::svix_signature;
use scimsync_tests::{wait_until, TestApp};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Two updates are held in user-upsert's hands by row locks the test takes on the records they
/// write, one batch in each of the worker's two slots, filling its prefetch window; a third
/// waits in the queue. The worker is told to stop and the locks go: it applies both held
/// updates, acknowledges them (nothing goes back to the queue to be delivered again) and exits
/// within the grace period, without taking the third, which stays in the queue never delivered.
#[tokio::test]
async fn a_stopping_worker_applies_and_acknowledges_the_messages_in_its_hands() {
    let services = Services {
        workers: &[Concern::UserUpsert],
        ..Services::INGEST_ONLY
    };
    let mut app = TestApp::spawn_with(services, |s| {
        s.worker.concurrency = 2;
        // Room for the two held messages only: the third stays ready until one is acked.
        s.amqp.prefetch = 2;
    })
    .await;
    let grace = Duration::from_secs(app.settings.worker.shutdown_grace_secs);
    let company = app.register_company("org-stop", &[]).await;
    let members = ["m-0", "m-1", "m-2"];
    for m in members {
        app.accept(&create("org-stop", m, &format!("{m}@example.com"), t(0)))
            .await;
    }
    app.wait_settled().await;

    let db = app.env.db.clone();
    let hold = db.begin().await.unwrap();
    hold.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT id FROM users WHERE company_id = $1 FOR UPDATE",
        [company.into()],
    ))
    .await
    .unwrap();
    let mut updates = Vec::new();
    for (i, m) in members.into_iter().enumerate() {
        let mut e = update("org-stop", m, &format!("{m}@example.com"), t(1));
        set_scim(&mut e, "title", json!("Director"));
        app.accept(&e).await;
        updates.push(event_id(&e));
        if i < 2 {
            // One at a time, so each is a batch of its own, in flight in its own slot.
            app.env.wait_for_lock_waiters(i as i64 + 1).await;
        }
    }
    let broker = Broker::connect(&app.env.amqp_url).await;
    assert_eq!(
        broker.depth(USER_UPSERT.name).await,
        Some(1),
        "the third waits"
    );

    let applied = "SELECT count(*) AS n FROM scim_event_log
                   WHERE concern = 'user-upsert' AND outcome = 'updated'";
    let stopping = Instant::now();
    // Joined after the stop: `stop_services` asks every service to stop before it first waits.
    let release = async {
        let row = db
            .query_one(Statement::from_string(DbBackend::Postgres, applied))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get::<i64>("", "n").unwrap(), 0, "both still held");
        hold.rollback().await.unwrap();
    };
    tokio::join!(app.stop_services(), release);
    let stopped_in = stopping.elapsed();
    assert!(
        stopped_in < grace,
        "stopped in {stopped_in:?}, over the grace period"
    );

    for id in &updates[..2] {
        let sql = format!(
            "SELECT count(*) AS n FROM scim_event_log WHERE event_id = '{id}' AND outcome = 'updated'"
        );
        assert_eq!(app.env.count(&sql).await, 1, "{id} applied once");
    }
    assert_eq!(app.env.count(applied).await, 2, "the third was not taken");
    let left = broker
        .take(USER_UPSERT.name)
        .await
        .expect("the third is queued");
    assert_eq!(left.header("x-event-id"), Some(updates[2].clone()));
    assert!(
        !left.redelivered,
        "delivered to the stopping worker, which had stopped consuming"
    );
    assert_eq!(
        broker.depth(USER_UPSERT.name).await,
        Some(0),
        "the held ones were acknowledged: nothing else went back to the queue"
    );
    app.env.cleanup().await;
}

/// A signed webhook written by hand over TCP, so the test can see when its answer is on the
/// wire, whoever reads it.
struct RawWebhook(TcpStream);

impl RawWebhook {
    async fn send(ingest: SocketAddr, event: &serde_json::Value) -> Self {
        let body = serde_json::to_vec(event).unwrap();
        let (id, now) = ("msg_in_flight", chrono::Utc::now().timestamp());
        let signature = svix_signature(SECRET, id, now, &body);
        let head = format!(
            "POST /webhooks/stytch HTTP/1.1\r\nhost: {ingest}\r\ncontent-type: application/json\r\n\
             svix-id: {id}\r\nsvix-timestamp: {now}\r\nsvix-signature: {signature}\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let mut stream = TcpStream::connect(ingest).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body).await.unwrap();
        Self(stream)
    }

    /// Whether any of the answer has reached this end of the connection (read from the
    /// socket itself, not from the runtime's readiness, which may lag).
    fn answered(self) -> (bool, Self) {
        let stream = self.0.into_std().unwrap();
        let mut byte = [0u8; 1];
        let answered = matches!(stream.peek(&mut byte), Ok(n) if n > 0);
        (answered, Self(TcpStream::from_std(stream).unwrap()))
    }

    /// The answer's status.
    async fn status(mut self) -> u16 {
        let mut response = String::new();
        self.0.read_to_string(&mut response).await.unwrap();
        let status = response.split_whitespace().nth(1).unwrap_or_default();
        status
            .parse()
            .unwrap_or_else(|_| panic!("no status in {response:?}"))
    }
}

/// Ingest is told to stop while a webhook waits for the broker's confirm (held back by a
/// proxy): it stops accepting connections at once but keeps running; once the confirm comes it
/// answers that webhook 202, and only then exits. The event is in the queue once.
#[tokio::test]
async fn a_webhook_in_flight_when_ingest_stops_is_answered_2xx_before_ingest_exits() {
    let env = TestEnv::new().await;
    let proxy = Proxy::broker().await;
    let mut settings = env.settings.clone();
    let via_proxy = format!("amqp://guest:guest@127.0.0.1:{}/{}", proxy.port, env.name);
    settings.amqp.url = via_proxy.into();
    // Patient enough for the test's steps however loaded the machine.
    settings.amqp.publish_timeout_ms = 60_000;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let ingest = tokio::spawn(scimsync_ingest::run(settings, listener, stop.clone()));
    let http = reqwest::Client::new();
    wait_until("ingest to be ready", DEADLINE, || async {
        let r = http
            .get(format!("http://{address}/readyz"))
            .send()
            .await
            .ok()?;
        r.status().is_success().then_some(())
    })
    .await;
    let broker = Broker::connect(&env.amqp_url).await;

    proxy.hold_replies();
    let event = create("org-any", "m-1", "in-flight@example.com", t(0));
    let webhook = RawWebhook::send(address, &event).await;
    // The publish reached the broker; its confirm is held in the proxy.
    wait_until("the event in the queue", DEADLINE, || async {
        (broker.depth(USER_UPSERT.name).await == Some(1)).then_some(())
    })
    .await;

    stop.cancel();
    wait_until("ingest to stop accepting", DEADLINE, || async {
        TcpStream::connect(address).await.is_err().then_some(())
    })
    .await;
    let (answered, webhook) = webhook.answered();
    assert!(!answered, "answered before its confirm");
    assert!(
        !ingest.is_finished(),
        "ingest exited with a webhook in flight"
    );

    proxy.release();
    let exited = tokio::time::timeout(DEADLINE, ingest).await;
    assert!(
        matches!(exited, Ok(Ok(Ok(())))),
        "ingest exits cleanly: {exited:?}"
    );
    // Ingest wrote its answer before it returned (on loopback, a write is in the peer's buffer
    // when it returns): a process that exits here has answered.
    let (answered, webhook) = webhook.answered();
    assert!(
        answered,
        "ingest exited before answering the webhook in flight"
    );
    assert_eq!(webhook.status().await, 202);
    assert_eq!(
        broker.depth(USER_UPSERT.name).await,
        Some(1),
        "published once"
    );
    env.cleanup().await;
}
