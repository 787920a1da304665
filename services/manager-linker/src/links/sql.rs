//! The linker's reads and writes, each one statement for a whole batch: who the reports and
//! the managers are, the links to settle (locked), the links' new state, which pending links an
//! announcement wakes, and which the sweep looks at again.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use scimsync_db::entity::manager_link;
use scimsync_db::json_time;
use scimsync_platform::amqp::Kept;
use scimsync_schema::message::UserProvisioned;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryResult, Statement};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A (company, Stytch member id) or (company, manager value) pair.
pub type Key = (Uuid, String);

/// The users behind (company, member id) pairs.
pub const REPORTS: &str = "
SELECT DISTINCT ON (k.company_id, k.member) k.company_id, k.member AS key, u.id
FROM unnest($1::uuid[], $2::text[]) AS k(company_id, member)
CROSS JOIN LATERAL (SELECT id, company_id FROM users WHERE member_key = k.member) u
WHERE u.company_id = k.company_id
ORDER BY k.company_id, k.member, u.id";

/// R13's lookup of manager values within their companies: Stytch member id, then SCIM id, then
/// external id; each key by its own index, the company checked afterwards (migration 000003).
pub const MANAGERS: &str = "
SELECT DISTINCT ON (k.company_id, k.value) k.company_id, k.value AS key, f.id
FROM unnest($1::uuid[], $2::text[]) AS k(company_id, value)
CROSS JOIN LATERAL (
    SELECT id, company_id, 0 AS rank FROM users WHERE stytch_member_id = k.value
    UNION ALL
    SELECT id, company_id, 1 FROM users WHERE scim_id = k.value
    UNION ALL
    SELECT id, company_id, 2 FROM users WHERE external_id = k.value
) f
WHERE f.company_id = k.company_id
ORDER BY k.company_id, k.value, f.rank, f.id";

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

/// Pending links last looked at before `$1`, those looked at longest ago first, at most `$2`.
pub const DUE: &str = "
SELECT company_id, stytch_member_id FROM manager_links
WHERE status = 'pending' AND updated_at < $1
ORDER BY updated_at
LIMIT $2";

/// The messages these links keep.
pub const KEPT: &str = "
SELECT l.company_id, l.stytch_member_id, l.message FROM manager_links l
JOIN unnest($1::uuid[], $2::text[]) AS k(company_id, member)
  ON l.company_id = k.company_id AND l.stytch_member_id = k.member
WHERE l.message IS NOT NULL";

/// The pending links new users complete: as the awaited manager (`$1`-`$3`: announcement
/// index, company, one of its ids) or as the report (`$4`-`$6`: index, company, member id).
/// Each key is looked up on its own (`LATERAL`) through an index led by the value or the member
/// id; `OFFSET 0` keeps the status check outside, where no partial index on `status = 'pending'`
/// can serve it. Stale statistics make such an index look empty in a first sync, and reading it
/// meant reading every pending link once per batch (migration 000006).
pub const AWAITING: &str = "
SELECT k.n, l.company_id, l.stytch_member_id
FROM unnest($1::int4[], $2::uuid[], $3::text[]) AS k(n, company_id, value)
CROSS JOIN LATERAL (
    SELECT company_id, stytch_member_id, status FROM manager_links
    WHERE manager_value = k.value AND company_id = k.company_id
    OFFSET 0
) l
WHERE l.status = 'pending'
UNION
SELECT k.n, l.company_id, l.stytch_member_id
FROM unnest($4::int4[], $5::uuid[], $6::text[]) AS k(n, company_id, member)
CROSS JOIN LATERAL (
    SELECT company_id, stytch_member_id, status FROM manager_links
    WHERE company_id = k.company_id AND stytch_member_id = k.member
    OFFSET 0
) l
WHERE l.status = 'pending'
ORDER BY 1, 2, 3";

/// A row's link key (its `company_id` and `stytch_member_id` columns).
fn link_key(row: &QueryResult) -> Result<Key, DbErr> {
    Ok((
        row.try_get("", "company_id")?,
        row.try_get("", "stytch_member_id")?,
    ))
}

fn split(keys: &[Key]) -> (Vec<Uuid>, Vec<String>) {
    keys.iter().map(|(c, k)| (*c, k.clone())).unzip()
}

async fn ids_by_key(
    conn: &impl ConnectionTrait,
    sql: &str,
    keys: &[Key],
) -> Result<HashMap<Key, Uuid>, DbErr> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let (companies, values) = split(keys);
    let rows = conn
        .query_all(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [companies.into(), values.into()],
        ))
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok((
                (row.try_get("", "company_id")?, row.try_get("", "key")?),
                row.try_get("", "id")?,
            ))
        })
        .collect()
}

/// The user of each (company, member id) pair that has one.
pub async fn reports(
    conn: &impl ConnectionTrait,
    keys: &[Key],
) -> Result<HashMap<Key, Uuid>, DbErr> {
    ids_by_key(conn, REPORTS, keys).await
}

/// The user each (company, manager value) pair names, if any (R13).
pub async fn managers(
    conn: &impl ConnectionTrait,
    keys: &[Key],
) -> Result<HashMap<Key, Uuid>, DbErr> {
    ids_by_key(conn, MANAGERS, keys).await
}

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

/// A message a pending link keeps: what its dead letter will carry (`manager_not_found`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptMessage {
    pub exchange: String,
    pub routing_key: String,
    pub message_id: Option<String>,
    /// The message body (JSON text).
    pub body: String,
}

impl KeptMessage {
    pub fn of(kept: Kept<'_>) -> Self {
        Self {
            exchange: kept.exchange.to_owned(),
            routing_key: kept.routing_key.to_owned(),
            message_id: kept.message_id.map(str::to_owned),
            body: String::from_utf8_lossy(kept.body).into_owned(),
        }
    }

    pub fn as_kept(&self) -> Kept<'_> {
        Kept {
            body: self.body.as_bytes(),
            exchange: &self.exchange,
            routing_key: &self.routing_key,
            message_id: self.message_id.as_deref(),
        }
    }
}

/// The pending links due for another look: last looked at before `before`, oldest first.
pub async fn due(
    conn: &impl ConnectionTrait,
    before: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<Key>, DbErr> {
    let rows = conn
        .query_all(Statement::from_sql_and_values(
            DbBackend::Postgres,
            DUE,
            [
                before.into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await?;
    rows.iter().map(link_key).collect()
}

/// The messages these links keep (links without one are left out).
pub async fn kept(
    conn: &impl ConnectionTrait,
    keys: &[Key],
) -> Result<HashMap<Key, KeptMessage>, DbErr> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let (companies, members) = split(keys);
    let rows = conn
        .query_all(Statement::from_sql_and_values(
            DbBackend::Postgres,
            KEPT,
            [companies.into(), members.into()],
        ))
        .await?;
    let mut kept = HashMap::new();
    for row in rows {
        let key = link_key(&row)?;
        let message: serde_json::Value = row.try_get("", "message")?;
        match serde_json::from_value(message) {
            Ok(message) => {
                kept.insert(key, message);
            }
            Err(error) => tracing::warn!(%error, ?key, "a link keeps a message it cannot read"),
        }
    }
    Ok(kept)
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

/// The pending links the announced users complete, each with the first announcement (by index)
/// that completes it.
pub async fn awaiting(
    conn: &impl ConnectionTrait,
    announcements: &[&UserProvisioned],
) -> Result<Vec<(Key, usize)>, DbErr> {
    let (mut by_value, mut as_report) = (Vec::new(), Vec::new());
    for (n, provisioned) in announcements.iter().enumerate() {
        let Ok(company_id) = provisioned.company_id.parse::<Uuid>() else {
            continue;
        };
        let n = i32::try_from(n).unwrap_or(i32::MAX);
        let ids = [
            Some(&provisioned.stytch_member_id),
            provisioned.scim_id.as_ref(),
            provisioned.external_id.as_ref(),
        ];
        for id in ids.into_iter().flatten() {
            by_value.push((n, company_id, id.clone()));
        }
        as_report.push((n, company_id, provisioned.stytch_member_id.clone()));
    }
    if as_report.is_empty() {
        return Ok(Vec::new());
    }
    let columns = |rows: Vec<(i32, Uuid, String)>| -> [sea_orm::Value; 3] {
        let (n, rest): (Vec<i32>, Vec<(Uuid, String)>) =
            rows.into_iter().map(|(n, c, v)| (n, (c, v))).unzip();
        let (companies, values): (Vec<Uuid>, Vec<String>) = rest.into_iter().unzip();
        [n.into(), companies.into(), values.into()]
    };
    let [a, b, c] = columns(by_value);
    let [d, e, f] = columns(as_report);
    let rows = conn
        .query_all(Statement::from_sql_and_values(
            DbBackend::Postgres,
            AWAITING,
            [a, b, c, d, e, f],
        ))
        .await?;
    let mut first: HashMap<Key, usize> = HashMap::new();
    for row in rows {
        let n: i32 = row.try_get("", "n")?;
        let key = link_key(&row)?;
        first
            .entry(key)
            .or_insert(usize::try_from(n).unwrap_or_default());
    }
    let mut links: Vec<(Key, usize)> = first.into_iter().collect();
    links.sort();
    Ok(links)
}
