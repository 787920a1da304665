//! PostgreSQL schema for scimsync: sea-orm entities (one per table), versioned migrations and
//! the connection pool set-up every service uses.

pub mod access;
pub mod audit;
pub mod companies;
pub mod entity;
pub mod errors;
pub mod event_log;
pub mod hierarchy;
pub mod migration;
pub mod scim_tokens;

use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;
use secrecy::ExposeSecret;

pub use migration::Migrator;
use scimsync_platform::settings::DatabaseSettings;

/// Rows per multi-row write at most. A manager-linker wake can settle thousands of links in one
/// transaction: written in one statement, their JSON parameter ran to megabytes, serialised
/// whole and copied into the connection's buffer at once (manager-linker's memory peak, per a
/// heap profile). Chunks of this size keep each statement to a few hundred kilobytes.
pub const ROWS_PER_STATEMENT: usize = 500;

/// Opens a pool sized from settings.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    connect_url(settings.url.expose_secret(), settings).await
}

/// Session parameters of the workers' pools. Every statement a worker runs, and every
/// foreign-key check PostgreSQL runs for it, is a lookup by key. A first sync fills tables whose
/// statistics still say they are empty until autovacuum analyses them, and until then the planner
/// turns those lookups into scans of the whole table: on a fresh database a 10,000-member sync
/// read about 24 million rows of `users` that way (docs/benchmarks.md, "Scans planned from
/// empty tables"). Turning sequential scans off makes the planner take the index whatever the
/// statistics say; a statement with no usable index still scans.
pub const WORKER_SESSION: &[(&str, &str)] = &[("enable_seqscan", "off")];

/// Opens a worker's pool ([`WORKER_SESSION`]).
pub async fn connect_worker(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    connect_with(settings, WORKER_SESSION).await
}

/// Opens a pool whose connections also set these session parameters.
pub async fn connect_with(
    settings: &DatabaseSettings,
    session: &[(&str, &str)],
) -> Result<DatabaseConnection, DbErr> {
    open(settings.url.expose_secret(), settings, session).await
}

/// Opens a pool to an explicit URL (tests use one database each).
pub async fn connect_url(
    url: &str,
    settings: &DatabaseSettings,
) -> Result<DatabaseConnection, DbErr> {
    open(url, settings, &[]).await
}

async fn open(
    url: &str,
    settings: &DatabaseSettings,
    session: &[(&str, &str)],
) -> Result<DatabaseConnection, DbErr> {
    let session: Vec<(String, String)> = session
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(settings.max_connections)
        .min_connections(settings.min_connections)
        .connect_timeout(Duration::from_secs(settings.connect_timeout_secs))
        .acquire_timeout(Duration::from_secs(settings.connect_timeout_secs))
        .sqlx_logging(false)
        // A worker acknowledges a message once its commit returns (A3), so a returned commit
        // must survive a crash, whatever default the server or its database was given.
        .map_sqlx_postgres_opts(move |pg| {
            pg.options([("synchronous_commit", "on")])
                .options(session.clone())
        });
    Database::connect(options).await
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Rows for a statement that reads them with `jsonb_to_recordset($n::text::jsonb)`, written
/// straight to JSON text. A `serde_json::Value` parameter costs a tree per row (a map, its keys
/// and values allocated one by one), written out by the driver, then dropped: work the workers
/// did for every row they wrote.
pub fn json_rows<T: serde::Serialize>(rows: &[T]) -> Result<sea_orm::Value, DbErr> {
    serde_json::to_string(rows)
        .map(sea_orm::Value::from)
        .map_err(|e| DbErr::Custom(format!("cannot write rows as JSON: {e}")))
}

/// A timestamp for a JSON row a statement reads with `jsonb_to_recordset`: microseconds,
/// truncated as the driver truncates a bound timestamp, so a value stored through JSON and one
/// bound directly compare equal.
pub fn json_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    #[test]
    fn json_time_truncates_to_microseconds() {
        let at = chrono::Utc
            .timestamp_opt(1_700_000_000, 123_456_999)
            .single()
            .expect("valid");
        assert_eq!(super::json_time(at), "2023-11-14T22:13:20.123456Z");
    }
}
