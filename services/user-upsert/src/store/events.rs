//! The member's stored events: the new one is inserted (its event id is the idempotency key)
//! and every event of the member is read back, in one statement.

use scimsync_schema::stytch::{Action, Member};
use scimsync_schema::{Envelope, StytchWebhook};
use sea_orm::{DatabaseTransaction, DbBackend, DbErr, FromQueryResult, Statement};

use crate::fold::MemberEvent;

#[derive(Debug, FromQueryResult)]
struct Row {
    fresh: bool,
    event_id: String,
    event_timestamp: chrono::DateTime<chrono::Utc>,
    action: String,
    member: Option<serde_json::Value>,
}

const RECORD_AND_LOAD: &str = "
WITH ins AS (
    INSERT INTO member_events (event_id, stytch_member_id, organization_id, event_timestamp, action, member)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id, event_timestamp, action, member
)
SELECT true AS fresh, event_id, event_timestamp, action, member FROM ins
UNION ALL
SELECT false, event_id, event_timestamp, action, member FROM member_events
WHERE stytch_member_id = $2 AND event_id <> $1";

/// Every event of the member including this one, or `None` if this event was already stored
/// (a duplicate delivery).
pub async fn record_and_load(
    txn: &DatabaseTransaction,
    webhook: &StytchWebhook,
    envelope: &Envelope,
    member_id: &str,
    member: Option<&Member>,
) -> Result<Option<Vec<MemberEvent>>, DbErr> {
    let rows = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        RECORD_AND_LOAD,
        [
            webhook.event_id.clone().into(),
            member_id.into(),
            member.and_then(|m| m.organization_id.clone()).into(),
            envelope.timestamp.into(),
            envelope.action.to_ascii_uppercase().into(),
            member
                .map(|m| serde_json::to_value(m).unwrap_or_default())
                .into(),
        ],
    ))
    .all(txn)
    .await?;
    if !rows.iter().any(|r| r.fresh) {
        return Ok(None);
    }
    Ok(Some(
        rows.into_iter()
            .map(|row| MemberEvent {
                event_id: row.event_id,
                timestamp: row.event_timestamp,
                action: Action::parse(&row.action),
                member: row.member.and_then(|m| serde_json::from_value(m).ok()),
            })
            .collect(),
    ))
}
