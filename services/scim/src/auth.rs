//! Who is calling (SPEC §7, R18): the bearer token says which company, and every query the
//! request makes is scoped to it. A missing, malformed, unknown or revoked token gets the same
//! 401, whether or not anything exists.
//!
//! Tokens found are remembered for a short while, so a busy IdP costs one lookup per token
//! every [`CACHE_TTL`] rather than one per request. A revocation is at once all the same:
//! `scim_tokens::revoke` notifies `scim_tokens`, and every replica listening forgets what it
//! remembered; a replica that cannot listen remembers nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use scimsync_db::scim_tokens::{self, Authenticated};
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::ScimFailure;

/// How long a token found stays remembered (and how often its last use is written).
pub const CACHE_TTL: Duration = Duration::from_secs(60);

/// The company a request speaks for, put in the request's extensions by [`authenticate`].
#[derive(Debug, Clone, Copy)]
pub struct Tenant {
    pub company_id: Uuid,
    pub token_id: Uuid,
}

pub struct Tokens {
    db: DatabaseConnection,
    /// Token hash → what it authenticated, and when it was looked up.
    cache: Mutex<HashMap<[u8; 32], (Authenticated, Instant)>>,
    /// Whether revocations reach this replica (it listens); if not, nothing is cached.
    listening: std::sync::atomic::AtomicBool,
    /// When each token's last use was last written.
    touched: Mutex<HashMap<Uuid, Instant>>,
}

impl Tokens {
    pub fn new(db: DatabaseConnection) -> Arc<Self> {
        Arc::new(Self {
            db,
            cache: Mutex::new(HashMap::new()),
            listening: std::sync::atomic::AtomicBool::new(false),
            touched: Mutex::new(HashMap::new()),
        })
    }

    /// Listens for revocations until `shutdown`, forgetting every remembered token on each.
    pub async fn listen(self: Arc<Self>, shutdown: CancellationToken) {
        use std::sync::atomic::Ordering;
        loop {
            let pool = self.db.get_postgres_connection_pool();
            let listener = async {
                let mut l = sea_orm::sqlx::postgres::PgListener::connect_with(pool).await?;
                l.listen("scim_tokens").await?;
                Ok::<_, sea_orm::sqlx::Error>(l)
            };
            match listener.await {
                Ok(mut listener) => {
                    self.forget();
                    self.listening.store(true, Ordering::SeqCst);
                    loop {
                        tokio::select! {
                            got = listener.recv() => match got {
                                Ok(_) => self.forget(),
                                Err(error) => {
                                    tracing::warn!(%error, "token revocations: listener lost");
                                    break;
                                }
                            },
                            () = shutdown.cancelled() => return,
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "token revocations: cannot listen"),
            }
            self.listening.store(false, Ordering::SeqCst);
            self.forget();
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    fn forget(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
    }

    /// Whether the token's last use is due to be written: at most once per [`CACHE_TTL`].
    fn touch_due(&self, token_id: Uuid) -> bool {
        let Ok(mut touched) = self.touched.lock() else {
            return true;
        };
        let due = touched
            .get(&token_id)
            .is_none_or(|at| at.elapsed() >= CACHE_TTL);
        if due {
            touched.insert(token_id, Instant::now());
        }
        due
    }

    /// The token's company, or `None` for any token that does not authenticate.
    async fn check(&self, presented: &str) -> Result<Option<Authenticated>, sea_orm::DbErr> {
        let key: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let listening = self.listening.load(std::sync::atomic::Ordering::SeqCst);
        if listening {
            if let Ok(cache) = self.cache.lock() {
                if let Some((found, at)) = cache.get(&key) {
                    if at.elapsed() < CACHE_TTL {
                        return Ok(Some(*found));
                    }
                }
            }
        }
        let found = scim_tokens::authenticate(&self.db, presented).await?;
        if let Some(found) = found {
            if self.touch_due(found.token_id) {
                if let Err(error) = scim_tokens::touch(&self.db, &[found.token_id]).await {
                    tracing::warn!(%error, "could not record a token's last use");
                }
            }
            if listening {
                if let Ok(mut cache) = self.cache.lock() {
                    cache.insert(key, (found, Instant::now()));
                }
            }
        }
        Ok(found)
    }
}

/// Middleware: only a request with a valid token goes on, carrying its [`Tenant`].
pub async fn authenticate(
    State(tokens): State<Arc<Tokens>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ScimFailure> {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .unwrap_or_default()
        .to_owned();
    let found = tokens
        .check(&presented)
        .await
        .map_err(ScimFailure::database)?;
    let Some(found) = found else {
        return Err(ScimFailure::unauthorized());
    };
    let tenant = Tenant {
        company_id: found.company_id,
        token_id: found.token_id,
    };
    // The request's span names the company (never the token), so every log line does.
    tracing::Span::current().record("company_id", tracing::field::display(tenant.company_id));
    request.extensions_mut().insert(tenant);
    Ok(next.run(request).await)
}
