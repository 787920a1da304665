//! The member's stored events: the new one is inserted (its event id is the idempotency key)
//! and every event of the member is read back, in one statement.

use std::collections::HashMap;

use scimsync_schema::stytch::{Action, Member};
use scimsync_schema::{Envelope, StytchWebhook};
use sea_orm::sea_query::{ArrayType, Value};
use sea_orm::{DatabaseTransaction, DbBackend, DbErr, FromQueryResult, Statement};

use crate::fold::MemberEvent;

/// Every event of the member including this one, or `None` if this event was already stored
/// (a duplicate delivery).
pub async fn record_and_load(
    txn: &DatabaseTransaction,
    webhook: &StytchWebhook,
    envelope: &Envelope,
    member_id: &str,
    member: Option<&Member>,
) -> Result<Option<Vec<MemberEvent>>, DbErr> {
    let new = NewEvent {
        webhook,
        envelope,
        member_id,
        member,
    };
    Ok(record_and_load_all(txn, &[new])
        .await?
        .remove(member_id)
        .flatten())
}

#[derive(Debug, FromQueryResult)]
struct MemberRow {
    fresh: bool,
    stytch_member_id: String,
    event_id: String,
    event_timestamp: chrono::DateTime<chrono::Utc>,
    action: String,
    /// The stored body as JSON text, parsed straight into a [`Member`]: through a
    /// `serde_json::Value` first, a long history took about twice as long to read.
    member: Option<String>,
}

const RECORD_AND_LOAD_ALL: &str = "
WITH ins AS (
    INSERT INTO member_events (event_id, stytch_member_id, organization_id, event_timestamp, action, member)
    SELECT e, m, o #>> '{}', t, a, NULLIF(b, 'null')::jsonb
    FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::timestamptz[], $5::text[], $6::text[])
         AS n(e, m, o, t, a, b)
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id, stytch_member_id, event_timestamp, action
)
SELECT true AS fresh, stytch_member_id, event_id, event_timestamp, action, NULL::text AS member
FROM ins
UNION ALL
SELECT false, stytch_member_id, event_id, event_timestamp, action, member::text FROM member_events
WHERE stytch_member_id = ANY($2) AND event_id <> ALL($1)";

/// One event of a batch to store.
pub struct NewEvent<'a> {
    pub webhook: &'a StytchWebhook,
    pub envelope: &'a Envelope,
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
) -> Result<HashMap<String, Option<Vec<MemberEvent>>>, DbErr> {
    // The driver binds arrays without NULL elements: the nullable columns travel as JSON (a
    // JSON null for SQL NULL) and are unwrapped in the statement.
    let json = |values: Vec<serde_json::Value>| {
        Value::Array(
            ArrayType::Json,
            Some(Box::new(
                values
                    .into_iter()
                    .map(|v| Value::Json(Some(Box::new(v))))
                    .collect(),
            )),
        )
    };
    let event_ids: Vec<String> = new.iter().map(|e| e.webhook.event_id.clone()).collect();
    let members: Vec<String> = new.iter().map(|e| e.member_id.to_owned()).collect();
    let organizations: Vec<serde_json::Value> = new
        .iter()
        .map(|e| e.member.and_then(|m| m.organization_id.clone()).into())
        .collect();
    let timestamps: Vec<chrono::DateTime<chrono::Utc>> =
        new.iter().map(|e| e.envelope.timestamp).collect();
    let actions: Vec<String> = new
        .iter()
        .map(|e| e.envelope.action.to_ascii_uppercase())
        .collect();
    // Each body written straight to JSON text (no `Value` tree to build and drop per event).
    let bodies: Vec<String> = new
        .iter()
        .map(|e| {
            e.member
                .and_then(|m| serde_json::to_string(m).ok())
                .unwrap_or_else(|| "null".to_owned())
        })
        .collect();
    let rows = MemberRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        RECORD_AND_LOAD_ALL,
        [
            event_ids.into(),
            members.into(),
            json(organizations),
            timestamps.into(),
            actions.into(),
            bodies.into(),
        ],
    ))
    .all(txn)
    .await?;
    let mut loaded: HashMap<String, (bool, Vec<MemberEvent>)> = HashMap::new();
    for row in rows {
        let member = if row.fresh {
            new.iter()
                .find(|e| e.webhook.event_id == row.event_id)
                .and_then(|e| e.member.cloned())
        } else {
            row.member.and_then(|m| serde_json::from_str(&m).ok())
        };
        let entry = loaded.entry(row.stytch_member_id).or_default();
        entry.0 |= row.fresh;
        entry.1.push(MemberEvent {
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
