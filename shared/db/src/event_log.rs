//! Writing the SCIM event log (R16): one row per event per concern per company, written at most
//! once. Event ids are scoped to their company: another company's event with the same id is
//! another event (SPEC §7).

use chrono::{DateTime, Utc};
pub use scimsync_schema::change::Door;
use scimsync_schema::{Concern, EventOutcome};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use uuid::Uuid;

/// One audit row.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub company_id: Option<Uuid>,
    /// The door the event came through (`stytch` or `scim`).
    pub door: Door,
    pub received_at: DateTime<Utc>,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub concern: Concern,
    pub user_id: Option<Uuid>,
    /// Every other user the event changed (members of a deleted group, a level recomputed),
    /// so the log filtered by a user finds each row that changed them.
    pub user_ids: Vec<Uuid>,
    pub stytch_member_id: Option<&'a str>,
    pub outcome: EventOutcome,
    pub detail: serde_json::Value,
}

/// Records the entry unless this concern already logged this event (redeliveries).
pub async fn record(conn: &impl ConnectionTrait, entry: Entry<'_>) -> Result<(), DbErr> {
    record_all(conn, &[entry]).await
}

/// Records the entry, replacing this concern's earlier row for the event: for outcomes that
/// move on after the first attempt (a pending manager link that later resolves).
pub async fn record_latest(conn: &impl ConnectionTrait, entry: Entry<'_>) -> Result<(), DbErr> {
    record_latest_all(conn, &[entry]).await
}

const LATEST: &str = "DO UPDATE
    SET outcome = EXCLUDED.outcome, detail = EXCLUDED.detail,
        user_id = COALESCE(EXCLUDED.user_id, scim_event_log.user_id),
        user_ids = EXCLUDED.user_ids,
        company_id = COALESCE(EXCLUDED.company_id, scim_event_log.company_id)";

/// Records several entries in one statement, each unless its concern already logged its event
/// (as [`record`] does for one): batch handlers log a whole batch at once.
pub async fn record_all(conn: &impl ConnectionTrait, entries: &[Entry<'_>]) -> Result<(), DbErr> {
    write_all(conn, entries, "DO NOTHING").await
}

/// [`record_latest`] for several entries, in one statement. An event may appear once only.
pub async fn record_latest_all(
    conn: &impl ConnectionTrait,
    entries: &[Entry<'_>],
) -> Result<(), DbErr> {
    write_all(conn, entries, LATEST).await
}

async fn write_all(
    conn: &impl ConnectionTrait,
    entries: &[Entry<'_>],
    on_conflict: &str,
) -> Result<(), DbErr> {
    for chunk in entries.chunks(crate::ROWS_PER_STATEMENT) {
        write_chunk(conn, chunk, on_conflict).await?;
    }
    Ok(())
}

async fn write_chunk(
    conn: &impl ConnectionTrait,
    entries: &[Entry<'_>],
    on_conflict: &str,
) -> Result<(), DbErr> {
    #[derive(serde::Serialize)]
    struct Row<'a> {
        company_id: Option<Uuid>,
        door: &'static str,
        received_at: String,
        event_id: &'a str,
        event_type: &'a str,
        concern: &'static str,
        user_id: Option<Uuid>,
        user_ids: &'a [Uuid],
        stytch_member_id: Option<&'a str>,
        outcome: &'static str,
        detail: &'a serde_json::Value,
    }
    let rows: Vec<Row<'_>> = entries
        .iter()
        .map(|e| Row {
            company_id: e.company_id,
            door: e.door.as_str(),
            received_at: crate::json_time(e.received_at),
            event_id: e.event_id,
            event_type: e.event_type,
            concern: e.concern.as_str(),
            user_id: e.user_id,
            user_ids: &e.user_ids,
            stytch_member_id: e.stytch_member_id,
            outcome: e.outcome.as_str(),
            detail: &e.detail,
        })
        .collect();
    conn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("{RECORD_ALL} ON CONFLICT (company_id, event_id, concern) {on_conflict}"),
        [crate::json_rows(&rows)?],
    ))
    .await?;
    Ok(())
}

const RECORD_ALL: &str = "
INSERT INTO scim_event_log
    (company_id, door, received_at, event_id, event_type, concern, user_id, user_ids,
     stytch_member_id, outcome, detail)
SELECT company_id, door, received_at, event_id, event_type, concern, user_id, user_ids,
       stytch_member_id, outcome, detail
FROM jsonb_to_recordset($1::text::jsonb) AS e(
    company_id uuid, door text, received_at timestamptz, event_id text, event_type text, concern text,
    user_id uuid, user_ids uuid[], stytch_member_id text, outcome text, detail jsonb)";
