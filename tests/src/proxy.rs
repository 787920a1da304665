//! A TCP proxy in front of RabbitMQ or PostgreSQL that a test can cut and restore, to play an
//! outage for one client without disturbing the shared server or other tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use reqwest::Url;
use scimsync_platform::settings::DatabaseSettings;
use secrecy::ExposeSecret;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub struct Proxy {
    pub port: u16,
    up: Arc<watch::Sender<bool>>,
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
        let stop = CancellationToken::new();
        let counts: Arc<[AtomicU64; 2]> = Arc::default();
        let (up2, stop2, counts2) = (up.clone(), stop.clone(), counts.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = stop2.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((mut inbound, _)) = accepted else {
                    continue;
                };
                if !*up2.borrow() {
                    counts2[1].fetch_add(1, Ordering::Relaxed);
                    drop(inbound);
                    continue;
                }
                counts2[0].fetch_add(1, Ordering::Relaxed);
                let mut down = up2.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = down.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self {
            port,
            up,
            stop,
            counts,
        }
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
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.cancel();
        self.up.send_replace(false);
    }
}
