//! What a membership change did to people, and how its event is logged: the parts the one-event
//! and the batch paths share.

use scimsync_db::access::{self, Change};
use scimsync_db::event_log::Entry;
use scimsync_schema::StytchWebhook;
use sea_orm::DbErr;
use serde_json::json;
use uuid::Uuid;

use crate::CONCERN;

pub(crate) fn entry<'a>(
    webhook: &'a StytchWebhook,
    company_id: Option<Uuid>,
    member_id: Option<&'a str>,
    outcome: &'a str,
    detail: serde_json::Value,
) -> Entry<'a> {
    Entry {
        company_id,
        received_at: webhook.received_at,
        event_id: &webhook.event_id,
        event_type: &webhook.event_type,
        concern: CONCERN,
        user_id: None,
        stytch_member_id: member_id,
        outcome,
        detail,
    }
}

/// The outcome a membership change is logged with: what it did to people, most serious first.
pub(crate) fn outcome_of(changes: &[Change], default: &'static str) -> &'static str {
    if changes.iter().any(Change::deactivated) {
        "deactivated"
    } else if changes.iter().any(Change::reactivated) {
        "reactivated"
    } else if changes.iter().any(Change::level_changed) {
        "level_changed"
    } else {
        default
    }
}

pub(crate) fn describe(changes: &[Change]) -> serde_json::Value {
    json!({
        "level_changes": changes.iter().filter(|c| c.level_changed())
            .map(|c| json!({"user_id": c.user_id, "from": c.level_before, "to": c.level_after})).collect::<Vec<_>>(),
        "deactivated": changes.iter().filter(|c| c.deactivated()).map(|c| c.user_id).collect::<Vec<_>>(),
        "reactivated": changes.iter().filter(|c| c.reactivated()).map(|c| c.user_id).collect::<Vec<_>>(),
    })
}

/// A member event's full-state group list.
pub(crate) struct List<'a> {
    pub webhook: &'a StytchWebhook,
    pub at: chrono::DateTime<chrono::Utc>,
    pub company_id: Uuid,
    pub member_id: String,
    pub named: Vec<(String, Option<String>)>,
}

impl List<'_> {
    pub fn ids(&self) -> Vec<String> {
        self.named.iter().map(|(id, _)| id.clone()).collect()
    }
}

pub(crate) enum Listed<'a> {
    List(List<'a>),
    /// Nothing to apply; logged with this outcome.
    Skip(&'static str),
}

/// Recomputes the member's activity and level after a membership change and decides how the
/// event is logged.
pub(crate) async fn judge<'a>(
    txn: &sea_orm::DatabaseTransaction,
    webhook: &'a StytchWebhook,
    change: &MemberChange<'a>,
    annotate: impl FnOnce(&mut serde_json::Value),
) -> Result<(&'static str, Entry<'a>), DbErr> {
    let members = [change.member_id.to_owned()];
    // The lock every worker takes before writing a user record, then the lookup (see
    // `access::lock_members`).
    access::lock_members(txn, &members).await?;
    let users = access::users_of_members(txn, change.company_id, &members).await?;
    let changes = access::refresh(txn, &users).await?;
    Ok(verdict(webhook, change, &users, changes, annotate))
}

/// How a change is logged, given the member's users and what their refresh changed.
pub(crate) fn verdict<'a>(
    webhook: &'a StytchWebhook,
    change: &MemberChange<'a>,
    users: &[Uuid],
    changes: Vec<Change>,
    annotate: impl FnOnce(&mut serde_json::Value),
) -> (&'static str, Entry<'a>) {
    let outcome = if change.applied {
        outcome_of(&changes, change.base)
    } else {
        "stale_ignored"
    };
    let mut detail = describe(&changes);
    annotate(&mut detail);
    if users.is_empty() {
        detail["user_pending"] = json!(true);
    }
    let log = entry(
        webhook,
        Some(change.company_id),
        Some(change.member_id),
        outcome,
        detail,
    );
    (outcome, log)
}

/// What a membership change did, for [`GroupResolver::finish`].
pub(crate) struct MemberChange<'a> {
    pub company_id: Uuid,
    pub member_id: &'a str,
    pub applied: bool,
    pub base: &'static str,
    pub renamed: Vec<String>,
}
