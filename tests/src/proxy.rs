//! A TCP proxy in front of RabbitMQ or PostgreSQL that a test can cut and restore, to play an
//! outage for one client without disturbing the shared server or other tests, or whose replies
//! it can hold back for a while (a broker slow to confirm).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use reqwest::Url;
use scimsync_platform::settings::DatabaseSettings;
use secrecy::ExposeSecret;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub struct Proxy {
    pub port: u16,
    up: Arc<watch::Sender<bool>>,
    /// While true, bytes from the server are read but not passed on to the client.
    holding: Arc<watch::Sender<bool>>,
    stop: CancellationToken,
    /// Connections forwarded, and connections dropped at once because the proxy was cut.
    counts: Arc<[AtomicU64; 2]>,
}

impl Proxy {
    /// Forwards 127.0.0.1:<port> to `target` (host:port).
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let (up, _) = watch::channel(true);
        let up = Arc::new(up);
        let holding = Arc::new(watch::channel(false).0);
        let stop = CancellationToken::new();
        let counts: Arc<[AtomicU64; 2]> = Arc::default();
        let (up2, stop2, counts2) = (up.clone(), stop.clone(), counts.clone());
        let holding2 = holding.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = stop2.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((inbound, _)) = accepted else {
                    continue;
                };
                if !*up2.borrow() {
                    counts2[1].fetch_add(1, Ordering::Relaxed);
                    drop(inbound);
                    continue;
                }
                counts2[0].fetch_add(1, Ordering::Relaxed);
                let mut down = up2.subscribe();
                let held = holding2.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (from_client, to_client) = inbound.into_split();
                    let (from_server, to_server) = outbound.into_split();
                    let both = async {
                        tokio::join!(
                            pump(from_client, to_server, None),
                            pump(from_server, to_client, Some(held)),
                        )
                    };
                    tokio::select! {
                        _ = both => {}
                        _ = down.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self {
            port,
            up,
            holding,
            stop,
            counts,
        }
    }

    /// A proxy in front of the test RabbitMQ server (`SCIMSYNC_TEST_AMQP_URL`).
    pub async fn broker() -> Self {
        let base = crate::env::amqp_base_url().replacen("amqp://", "http://", 1);
        let parsed = Url::parse(&base).unwrap_or_else(|e| panic!("AMQP URL {base:?}: {e}"));
        let host = parsed.host_str().unwrap_or("127.0.0.1");
        Self::start(format!("{host}:{}", parsed.port().unwrap_or(5672))).await
    }

    /// A proxy in front of the test PostgreSQL server (`SCIMSYNC_TEST_DATABASE_URL`).
    pub async fn database() -> Self {
        let url = crate::env::admin_database_url();
        let parsed = Url::parse(&url).unwrap_or_else(|e| panic!("database URL {url:?}: {e}"));
        let host = parsed.host_str().unwrap_or("127.0.0.1");
        Self::start(format!("{host}:{}", parsed.port().unwrap_or(5432))).await
    }

    /// Points database settings at this proxy (same database, user and options), with a short
    /// connect timeout so a cut shows at once.
    pub fn reroute(&self, database: &mut DatabaseSettings) {
        let mut url = Url::parse(database.url.expose_secret()).expect("database URL");
        url.set_host(Some("127.0.0.1")).expect("host");
        url.set_port(Some(self.port)).expect("port");
        database.url = String::from(url).into();
        database.connect_timeout_secs = 1;
    }

    /// Connections forwarded so far.
    pub fn forwarded(&self) -> u64 {
        self.counts[0].load(Ordering::Relaxed)
    }

    /// Connections dropped so far because the proxy was cut.
    pub fn refused(&self) -> u64 {
        self.counts[1].load(Ordering::Relaxed)
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.up.send_replace(false);
    }

    pub fn restore(&self) {
        self.up.send_replace(true);
    }

    /// Holds back what the server sends (a publisher confirm, a query's result) on every
    /// connection, until [`Proxy::release`]; what clients send still goes through.
    pub fn hold_replies(&self) {
        self.holding.send_replace(true);
    }

    pub fn release(&self) {
        self.holding.send_replace(false);
    }
}

/// Copies one direction of a connection; with `held`, waits while it says so before passing
/// each chunk on.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut held: Option<watch::Receiver<bool>>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(held) = held.as_mut() {
            if held.wait_for(|holding| !*holding).await.is_err() {
                break;
            }
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.cancel();
        self.up.send_replace(false);
        self.holding.send_replace(false);
    }
}
