//! The member's stored events: the new one is inserted (its event id, within its company, is the
//! idempotency key) and every event of the member in that company is read back, in one
//! statement. A member is its company and its member id (SPEC §7): another company's events for
//! the same id are another member's history.
//!
//! An event that names no organisation (a Stytch DELETE has no body) belongs to the companies
//! whose history holds its member id; when none does yet, it waits in
//! `unclaimed_member_events` until the member's first event that names its company claims it.

use std::collections::HashMap;

use scimsync_schema::change::MemberChange;
use scimsync_schema::stytch::{Action, Member};
use sea_orm::sea_query::{ArrayType, Value};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, FromQueryResult, Statement};
use uuid::Uuid;

use crate::history::fold::MemberEvent;

/// What the statement found for one member.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Every event of the member in its company, this one included.
    pub events: Vec<MemberEvent>,
    /// Events that named no organisation and were claimed for this company just now.
    pub claimed: Vec<String>,
}

/// Every event of the member including this one, or `None` if this event was already stored
/// (a duplicate delivery).
pub async fn record_and_load(
    txn: &DatabaseTransaction,
    new: NewEvent<'_>,
) -> Result<Option<Loaded>, DbErr> {
    let member_id = new.member_id.to_owned();
    Ok(record_and_load_all(txn, &[new])
        .await?
        .remove(&member_id)
        .flatten())
}

#[derive(Debug, FromQueryResult)]
struct MemberRow {
    origin: String,
    stytch_member_id: String,
    event_id: String,
    event_timestamp: chrono::DateTime<chrono::Utc>,
    action: String,
    /// The stored body as JSON text, parsed straight into a [`Member`]: through a
    /// `serde_json::Value` first, a long history took about twice as long to read.
    member: Option<String>,
}

/// `$1` event ids, `$2` member ids, `$3` organisation ids (JSON), `$4` timestamps, `$5` actions,
/// `$6` bodies, `$7` companies: one element per new event, of distinct members. The final
/// SELECT reads the table as it was before the statement, so the rows this statement moves and
/// inserts come back from the CTEs that wrote them.
const RECORD_AND_LOAD_ALL: &str = "
WITH claimed AS (
    DELETE FROM unclaimed_member_events u
    USING unnest($7::uuid[], $2::text[]) AS k(c, m)
    WHERE u.stytch_member_id = k.m
    RETURNING k.c AS company_id, u.stytch_member_id, u.event_id, u.event_timestamp, u.action,
              u.member, u.received_at
),
moved AS (
    INSERT INTO member_events (company_id, event_id, stytch_member_id, organization_id,
                               event_timestamp, action, member, received_at)
    SELECT company_id, event_id, stytch_member_id, NULL, event_timestamp, action, member, received_at
    FROM claimed
    ON CONFLICT (company_id, event_id) DO NOTHING
    RETURNING stytch_member_id, event_id, event_timestamp, action, member
),
ins AS (
    INSERT INTO member_events (company_id, event_id, stytch_member_id, organization_id,
                               event_timestamp, action, member)
    SELECT c, e, m, o #>> '{}', t, a, NULLIF(b, 'null')::jsonb
    FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::timestamptz[], $5::text[], $6::text[],
                $7::uuid[]) AS n(e, m, o, t, a, b, c)
    ON CONFLICT (company_id, event_id) DO NOTHING
    RETURNING event_id, stytch_member_id, event_timestamp, action
)
SELECT 'new' AS origin, stytch_member_id, event_id, event_timestamp, action, NULL::text AS member
FROM ins
UNION ALL
SELECT 'claimed', stytch_member_id, event_id, event_timestamp, action, member::text FROM moved
UNION ALL
SELECT 'stored', e.stytch_member_id, e.event_id, e.event_timestamp, e.action, e.member::text
FROM unnest($7::uuid[], $2::text[], $1::text[]) AS k(c, m, new_event)
JOIN member_events e
  ON e.stytch_member_id = k.m AND e.company_id = k.c AND e.event_id <> k.new_event";

/// One event of a batch to store.
pub struct NewEvent<'a> {
    pub company_id: Uuid,
    pub change: &'a MemberChange,
    pub member_id: &'a str,
    pub member: Option<&'a Member>,
}

/// Stores the new events (of distinct members) and reads back every event of their members, in
/// one statement: per member, every event including the new one, or `None` if the new one was
/// already stored. A new event's body is not read back: it is the one just sent (in a first
/// sync, that is every body, about a kilobyte of JSON each way).
pub async fn record_and_load_all(
    txn: &DatabaseTransaction,
    new: &[NewEvent<'_>],
) -> Result<HashMap<String, Option<Loaded>>, DbErr> {
    let event_ids: Vec<String> = new.iter().map(|e| e.change.meta.event_id.clone()).collect();
    let members: Vec<String> = new.iter().map(|e| e.member_id.to_owned()).collect();
    let organizations: Vec<serde_json::Value> = new
        .iter()
        .map(|e| e.member.and_then(|m| m.organization_id.clone()).into())
        .collect();
    let timestamps: Vec<chrono::DateTime<chrono::Utc>> =
        new.iter().map(|e| e.change.meta.timestamp).collect();
    let actions: Vec<String> = new
        .iter()
        .map(|e| e.change.action.as_str().to_owned())
        .collect();
    let bodies: Vec<String> = new.iter().map(|e| body(e.member)).collect();
    let companies: Vec<Uuid> = new.iter().map(|e| e.company_id).collect();
    let rows = MemberRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        RECORD_AND_LOAD_ALL,
        [
            event_ids.into(),
            members.into(),
            json_array(organizations),
            timestamps.into(),
            actions.into(),
            bodies.into(),
            companies.into(),
        ],
    ))
    .all(txn)
    .await?;
    let mut loaded: HashMap<String, (bool, Loaded)> = HashMap::new();
    for row in rows {
        let fresh = row.origin == "new";
        let member = if fresh {
            new.iter()
                .find(|e| {
                    e.change.meta.event_id == row.event_id && e.member_id == row.stytch_member_id
                })
                .and_then(|e| e.member.cloned())
        } else {
            row.member.and_then(|m| serde_json::from_str(&m).ok())
        };
        let entry = loaded.entry(row.stytch_member_id).or_default();
        entry.0 |= fresh;
        if row.origin == "claimed" {
            entry.1.claimed.push(row.event_id.clone());
        }
        entry.1.events.push(MemberEvent {
            event_id: row.event_id,
            timestamp: row.event_timestamp,
            action: Action::parse(&row.action),
            member,
        });
    }
    Ok(new
        .iter()
        .map(|e| {
            let events = loaded
                .remove(e.member_id)
                .and_then(|(fresh, events)| fresh.then_some(events));
            (e.member_id.to_owned(), events)
        })
        .collect())
}

/// A body written straight to JSON text (no `Value` tree to build and drop per event); JSON
/// `null` for none.
fn body(member: Option<&Member>) -> String {
    member
        .and_then(|m| serde_json::to_string(m).ok())
        .unwrap_or_else(|| "null".to_owned())
}

/// The driver binds arrays without NULL elements: nullable columns travel as JSON (a JSON null
/// for SQL NULL) and are unwrapped in the statement.
fn json_array(values: Vec<serde_json::Value>) -> Value {
    Value::Array(
        ArrayType::Json,
        Some(Box::new(
            values
                .into_iter()
                .map(|v| Value::Json(Some(Box::new(v))))
                .collect(),
        )),
    )
}

#[derive(Debug, FromQueryResult)]
struct Holder {
    company_id: Uuid,
}

/// The companies whose stored events hold this member id: where an event that names no
/// organisation belongs.
pub async fn holders(txn: &DatabaseTransaction, member_id: &str) -> Result<Vec<Uuid>, DbErr> {
    let rows = Holder::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT DISTINCT company_id FROM member_events WHERE stytch_member_id = $1 ORDER BY 1",
        [member_id.into()],
    ))
    .all(txn)
    .await?;
    Ok(rows.into_iter().map(|r| r.company_id).collect())
}

/// Keeps an event that names no organisation, for a member no company holds yet, until one
/// claims it. `false`: it was kept already (a duplicate delivery).
pub async fn keep_unclaimed(
    txn: &DatabaseTransaction,
    change: &MemberChange,
    member_id: &str,
    member: Option<&Member>,
) -> Result<bool, DbErr> {
    let kept = txn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO unclaimed_member_events
                 (stytch_member_id, event_id, event_timestamp, action, member)
             VALUES ($1, $2, $3, $4, NULLIF($5, 'null')::jsonb)
             ON CONFLICT DO NOTHING
             RETURNING event_id",
            [
                member_id.into(),
                change.meta.event_id.clone().into(),
                change.meta.timestamp.into(),
                change.action.as_str().into(),
                body(member).into(),
            ],
        ))
        .await?;
    Ok(kept.is_some())
}
