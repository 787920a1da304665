//! The links' stored state (R15): the links to settle, locked, and their new state, written
//! whole; each one statement for a whole batch.

use std::collections::HashMap;

use scimsync_db::entity::manager_link;
use scimsync_db::json_time;
use scimsync_platform::amqp::Kept;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, Statement};
use serde::Serialize;
use uuid::Uuid;

use super::waiting::KeptMessage;
use super::{split, Key};

/// The links of (company, member) pairs, locked until the transaction ends.
pub const LINKS_FOR_UPDATE: &str = "
SELECT l.company_id, l.stytch_member_id, l.manager_value, l.event_timestamp, l.event_id,
       l.event_type, l.received_at, l.status, l.first_seen_at, l.updated_at
FROM manager_links l
JOIN unnest($1::uuid[], $2::text[]) AS k(company_id, member)
  ON l.company_id = k.company_id AND l.stytch_member_id = k.member
ORDER BY l.company_id, l.stytch_member_id
FOR UPDATE OF l";

/// Writes links whole (inserted or replaced). A pending link keeps the message it is given, or
/// the one it had; a link that is no longer pending keeps none.
pub const WRITE_LINKS: &str = "
INSERT INTO manager_links (company_id, stytch_member_id, manager_value, event_timestamp, event_id,
                           event_type, received_at, status, first_seen_at, updated_at, message)
SELECT company_id, stytch_member_id, manager_value, event_timestamp, event_id,
       event_type, received_at, status, first_seen_at, updated_at,
       CASE WHEN status = 'pending' THEN message END
FROM jsonb_to_recordset($1::text::jsonb) AS r(
    company_id uuid, stytch_member_id text, manager_value text, event_timestamp timestamptz,
    event_id text, event_type text, received_at timestamptz, status text,
    first_seen_at timestamptz, updated_at timestamptz, message jsonb)
ON CONFLICT (company_id, stytch_member_id) DO UPDATE SET
    manager_value = EXCLUDED.manager_value, event_timestamp = EXCLUDED.event_timestamp,
    event_id = EXCLUDED.event_id, event_type = EXCLUDED.event_type,
    received_at = EXCLUDED.received_at, status = EXCLUDED.status,
    first_seen_at = EXCLUDED.first_seen_at, updated_at = EXCLUDED.updated_at,
    message = CASE WHEN EXCLUDED.status = 'pending'
                   THEN COALESCE(EXCLUDED.message, manager_links.message) END";

/// The existing links of these (company, member) pairs, locked for the transaction.
pub async fn links_for_update(
    conn: &impl ConnectionTrait,
    keys: &[Key],
) -> Result<HashMap<Key, manager_link::Model>, DbErr> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let (companies, members) = split(keys);
    let links = manager_link::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            DbBackend::Postgres,
            LINKS_FOR_UPDATE,
            [companies.into(), members.into()],
        ))
        .all(conn)
        .await?;
    Ok(links
        .into_iter()
        .map(|l| ((l.company_id, l.stytch_member_id.clone()), l))
        .collect())
}

/// Inserts or replaces these links (distinct members), each with the message it is to keep if
/// it is pending (`None`: the one it has).
pub async fn write_links(
    conn: &impl ConnectionTrait,
    links: &[(&manager_link::Model, Option<Kept<'_>>)],
) -> Result<(), DbErr> {
    for chunk in links.chunks(scimsync_db::ROWS_PER_STATEMENT) {
        write_links_chunk(conn, chunk).await?;
    }
    Ok(())
}

async fn write_links_chunk(
    conn: &impl ConnectionTrait,
    links: &[(&manager_link::Model, Option<Kept<'_>>)],
) -> Result<(), DbErr> {
    #[derive(Serialize)]
    struct Row<'a> {
        company_id: Uuid,
        stytch_member_id: &'a str,
        manager_value: &'a str,
        event_timestamp: String,
        event_id: &'a str,
        event_type: &'a str,
        received_at: String,
        status: &'a str,
        first_seen_at: String,
        updated_at: String,
        message: Option<KeptMessage>,
    }
    let rows: Vec<Row<'_>> = links
        .iter()
        .map(|(l, kept)| Row {
            company_id: l.company_id,
            stytch_member_id: &l.stytch_member_id,
            manager_value: &l.manager_value,
            event_timestamp: json_time(l.event_timestamp),
            event_id: &l.event_id,
            event_type: &l.event_type,
            received_at: json_time(l.received_at),
            status: &l.status,
            first_seen_at: json_time(l.first_seen_at),
            updated_at: json_time(l.updated_at),
            message: kept.map(KeptMessage::of),
        })
        .collect();
    conn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        WRITE_LINKS,
        [scimsync_db::json_rows(&rows)?],
    ))
    .await?;
    Ok(())
}
