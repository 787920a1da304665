//! Plays webhooks against ingest the way Svix delivers them: signed, concurrently (a semaphore
//! bounds the requests in flight), optionally at a target rate (open loop: each delivery has
//! its slot in time, whatever the previous ones are doing), retried with backoff on 5xx, 429
//! and connection errors under the same `svix-id`, and counted by status.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// One delivery: a body (shared by a duplicate and its original) and its Svix message id.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub body: Arc<[u8]>,
    pub svix_id: String,
}

#[derive(Debug, Clone)]
pub struct Target {
    /// `http://host:port/webhooks/stytch`.
    pub url: String,
    pub secret: String,
}

#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub concurrency: usize,
    /// Deliveries per second; `None` sends as fast as the concurrency allows.
    pub rate: Option<f64>,
    /// How long a delivery keeps being retried after its first attempt (Svix keeps trying
    /// for more than a day; a simulation needs to outlast a restart, not a day).
    pub retry_for: Duration,
}

/// What happened to every delivery.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlayStats {
    pub deliveries: u64,
    /// Final status of each delivery (0: no HTTP answer at all).
    pub by_status: BTreeMap<u16, u64>,
    /// Extra attempts after a 5xx, 429 or connection error.
    pub retries: u64,
    pub send_secs: f64,
    /// Round trip of each answered attempt that ended the delivery, in microseconds.
    #[serde(skip)]
    pub latencies_us: Vec<u32>,
}

impl PlayStats {
    pub fn accepted(&self) -> u64 {
        self.by_status
            .iter()
            .filter(|(s, _)| (200..300).contains(*s))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn refused(&self) -> u64 {
        self.deliveries - self.accepted()
    }

    pub fn merge(&mut self, other: PlayStats) {
        self.deliveries += other.deliveries;
        for (status, n) in other.by_status {
            *self.by_status.entry(status).or_default() += n;
        }
        self.retries += other.retries;
        self.send_secs += other.send_secs;
        self.latencies_us.extend(other.latencies_us);
    }
}

pub struct Outcome {
    pub status: u16,
    pub attempts: u32,
    pub latency: Option<Duration>,
}

/// Signs and posts once; the status, or the error reqwest gave.
pub async fn send_once(
    http: &reqwest::Client,
    target: &Target,
    delivery: &Delivery,
) -> Result<u16, reqwest::Error> {
    let timestamp = chrono::Utc::now().timestamp();
    let signature =
        scimsync_platform::svix::sign(&target.secret, &delivery.svix_id, timestamp, &delivery.body)
            .unwrap_or_default();
    let response = http
        .post(&target.url)
        .header("svix-id", &delivery.svix_id)
        .header("svix-timestamp", timestamp.to_string())
        .header("svix-signature", signature)
        .header("content-type", "application/json")
        .body(delivery.body.to_vec())
        .send()
        .await?;
    let status = response.status().as_u16();
    // Read the body so the connection goes back to the pool.
    let _ = response.bytes().await;
    Ok(status)
}

/// Sends until a final answer: 2xx and 4xx (but 429) end it, the rest is retried like Svix
/// would (quicker: 50 ms doubling up to 2 s, instead of 5 s, 5 min, ...) for `retry_for`.
pub async fn deliver(
    http: &reqwest::Client,
    target: &Target,
    delivery: &Delivery,
    retry_for: Duration,
) -> Outcome {
    let first = Instant::now();
    let mut backoff = Duration::from_millis(50);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let started = Instant::now();
        let status = send_once(http, target, delivery).await.unwrap_or(0);
        let retry = status == 0 || status == 429 || status >= 500;
        if !retry || first.elapsed() + backoff > retry_for {
            return Outcome {
                status,
                attempts,
                latency: (status != 0).then(|| started.elapsed()),
            };
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// A client with a connection per concurrent request and no proxy lookups.
pub fn client(concurrency: usize) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency.max(1))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {e}"))
}

/// Plays `deliveries` in order (the order they start in; concurrency reorders completions).
pub async fn play(
    http: &reqwest::Client,
    target: &Target,
    deliveries: Vec<Delivery>,
    pace: Pace,
    progress: &ProgressBar,
) -> PlayStats {
    let permits = Arc::new(Semaphore::new(pace.concurrency.max(1)));
    let mut tasks: JoinSet<Outcome> = JoinSet::new();
    let mut stats = PlayStats {
        deliveries: deliveries.len() as u64,
        ..PlayStats::default()
    };
    let started = Instant::now();
    let interval = pace.rate.filter(|r| *r > 0.0).map(|r| 1.0 / r);
    for (i, delivery) in deliveries.into_iter().enumerate() {
        if let Some(interval) = interval {
            let slot = started + Duration::from_secs_f64(interval * i as f64);
            tokio::time::sleep_until(slot.into()).await;
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let http = http.clone();
        let target = target.clone();
        tasks.spawn(async move {
            let outcome = deliver(&http, &target, &delivery, pace.retry_for).await;
            drop(permit);
            outcome
        });
        while let Some(done) = tasks.try_join_next() {
            record(&mut stats, done, progress);
        }
    }
    while let Some(done) = tasks.join_next().await {
        record(&mut stats, done, progress);
    }
    stats.send_secs = started.elapsed().as_secs_f64();
    stats
}

fn record(
    stats: &mut PlayStats,
    done: Result<Outcome, tokio::task::JoinError>,
    progress: &ProgressBar,
) {
    progress.inc(1);
    let outcome = done.unwrap_or(Outcome {
        status: 0,
        attempts: 1,
        latency: None,
    });
    *stats.by_status.entry(outcome.status).or_default() += 1;
    stats.retries += u64::from(outcome.attempts.saturating_sub(1));
    if let Some(latency) = outcome.latency {
        stats
            .latencies_us
            .push(latency.as_micros().min(u128::from(u32::MAX)) as u32);
    }
}

#[cfg(test)]
mod tests {
    // Test support: a failed expectation is the test failing.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A stand-in for ingest on a free port: answers each request (one per connection) with
    /// the next of `statuses`, then `then` for good. Returns the webhook URL.
    async fn ingest(statuses: &[u16], then: u16) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks/stytch", listener.local_addr().unwrap());
        let mut answers = std::collections::VecDeque::from(statuses.to_vec());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                read_request(&mut socket).await;
                let status = answers.pop_front().unwrap_or(then);
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = socket.write_all(response.as_bytes()).await;
            }
        });
        url
    }

    /// Reads the head and the body its `content-length` announces.
    async fn read_request(socket: &mut tokio::net::TcpStream) {
        let mut request = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let Ok(n) = socket.read(&mut chunk).await else {
                return;
            };
            if n == 0 {
                return;
            }
            request.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
            let Some(head) = text.find("\r\n\r\n") else {
                continue;
            };
            let length = text[..head]
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if request.len() >= head + 4 + length {
                return;
            }
        }
    }

    async fn deliver_to(url: String, retry_for: Duration) -> Outcome {
        let target = Target {
            url,
            secret: "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX".to_owned(),
        };
        let delivery = Delivery {
            body: Arc::from(&b"{}"[..]),
            svix_id: "msg_test".to_owned(),
        };
        deliver(&client(1).unwrap(), &target, &delivery, retry_for).await
    }

    #[tokio::test]
    async fn refusals_are_retried_until_ingest_accepts() {
        let url = ingest(&[503, 503, 429], 202).await;
        let outcome = deliver_to(url, Duration::from_secs(30)).await;
        assert_eq!((outcome.status, outcome.attempts), (202, 4));
    }

    #[tokio::test]
    async fn a_client_error_is_final() {
        let url = ingest(&[400], 202).await;
        let outcome = deliver_to(url, Duration::from_secs(30)).await;
        assert_eq!((outcome.status, outcome.attempts), (400, 1));
    }

    #[tokio::test]
    async fn a_delivery_gives_up_once_its_retry_time_is_spent() {
        let url = ingest(&[], 503).await;
        let outcome = deliver_to(url, Duration::from_millis(300)).await;
        assert_eq!(outcome.status, 503);
        // 50 ms, then 100 ms between attempts: at most three fit in 300 ms.
        assert!(
            (2..=3).contains(&outcome.attempts),
            "{} attempts",
            outcome.attempts
        );
    }
}
