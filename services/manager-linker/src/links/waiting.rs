//! Links left pending (R13): the message each keeps for its dead letter, which pending links
//! an announcement wakes, and which the sweep looks at again; each one statement for a whole
//! batch.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use scimsync_platform::amqp::Kept;
use scimsync_schema::message::UserProvisioned;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{split, Key};

/// A row's link key (its `company_id` and `stytch_member_id` columns).
fn link_key(row: &QueryResult) -> Result<Key, DbErr> {
    Ok((
        row.try_get("", "company_id")?,
        row.try_get("", "stytch_member_id")?,
    ))
}

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
