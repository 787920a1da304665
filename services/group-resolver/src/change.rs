//! What a membership change did to people, and how its event is logged: the parts a member's
//! group list and a group event's membership change share.

use scimsync_db::access::{self, Change};
use scimsync_db::event_log::{self, Entry};
use scimsync_schema::change::ChangeMeta;
use scimsync_schema::EventOutcome;
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use crate::CONCERN;

/// An event's log entry. `user_id` is the member's own user, when the event is about one member
/// who has a record; `changes` are what the event did to people, and every user they name is
/// recorded with the row, so the log filtered by a user finds it (R16: "why was this user
/// deactivated?").
pub(crate) fn entry<'a>(
    meta: &'a ChangeMeta,
    company_id: Option<Uuid>,
    member: Option<(&'a str, Option<Uuid>)>,
    outcome: EventOutcome,
    changes: &[Change],
    detail: serde_json::Value,
) -> Entry<'a> {
    let user_id = member.and_then(|(_, user)| user);
    let mut user_ids: Vec<Uuid> = changes
        .iter()
        .map(|c| c.user_id)
        .filter(|u| Some(*u) != user_id)
        .collect();
    user_ids.sort_unstable();
    user_ids.dedup();
    Entry {
        company_id,
        door: meta.door,
        received_at: meta.received_at,
        event_id: &meta.event_id,
        event_type: &meta.event_type,
        concern: CONCERN,
        user_id,
        user_ids,
        stytch_member_id: member.map(|(m, _)| m),
        outcome,
        detail,
    }
}

/// The outcome a membership change is logged with: what it did to people, most serious first.
pub(crate) fn outcome_of(changes: &[Change], default: EventOutcome) -> EventOutcome {
    if changes.iter().any(Change::deactivated) {
        EventOutcome::Deactivated
    } else if changes.iter().any(Change::reactivated) {
        EventOutcome::Reactivated
    } else if changes.iter().any(Change::level_changed) {
        EventOutcome::LevelChanged
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

/// What an event adds to its log entry's detail: the list it carried, or the group it named.
pub(crate) type Note = (&'static str, serde_json::Value);

/// Recomputes the activity and level of the members' users after their memberships changed.
/// Only members that have a user record take the member locks every worker shares (see
/// `access::lock_members`); a user deleted meanwhile is simply not refreshed. A member without
/// one takes no lock here: its user, if user-upsert is creating it right now, is refreshed by
/// [`recheck`] after this transaction commits. Returns the users by member and what their
/// refresh changed.
pub(crate) async fn refresh_present(
    txn: &DatabaseTransaction,
    company_id: Uuid,
    members: &[String],
) -> Result<(Vec<(String, Uuid)>, Vec<Change>), DbErr> {
    let users = access::users_by_member(txn, company_id, members).await?;
    if users.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let present: Vec<String> = users.iter().map(|(member, _)| member.clone()).collect();
    access::lock_members(txn, company_id, &present).await?;
    let changes = access::refresh(txn, &user_ids(&users)).await?;
    Ok((users, changes))
}

/// The user ids of `users_by_member` rows (a member has at most one user in a company).
pub(crate) fn user_ids(users: &[(String, Uuid)]) -> Vec<Uuid> {
    users.iter().map(|(_, user)| *user).collect()
}

/// A membership change committed while its member had no user record.
pub(crate) struct Unseen<'a> {
    pub meta: &'a ChangeMeta,
    pub change: MembershipChange<'a>,
    pub note: Note,
}

/// The second look, after the commit, at members that had no user record: under their member
/// locks, any user that appeared since is refreshed. user-upsert creates a user holding that
/// lock, so this either waits for its commit and sees the user, or runs first and the user's
/// own refresh sees the committed memberships. Where the refresh changed something, the event's
/// log entry is replaced. Returns each change's new outcome, where it has one.
pub(crate) async fn recheck(
    db: &DatabaseConnection,
    company_id: Uuid,
    unseen: &[Unseen<'_>],
) -> Result<Vec<Option<EventOutcome>>, DbErr> {
    let mut outcomes = vec![None; unseen.len()];
    if unseen.is_empty() {
        return Ok(outcomes);
    }
    let members: Vec<String> = unseen
        .iter()
        .map(|u| u.change.member_id.to_owned())
        .collect();
    let txn = db.begin().await?;
    access::lock_members(&txn, company_id, &members).await?;
    let users = access::users_by_member(&txn, company_id, &members).await?;
    if users.is_empty() {
        txn.commit().await?;
        return Ok(outcomes);
    }
    let changes = access::refresh(&txn, &user_ids(&users)).await?;
    let mut entries = Vec::new();
    for (one, outcome) in unseen.iter().zip(outcomes.iter_mut()) {
        let (own, own_changes) = own(&users, &changes, one.change.member_id);
        if own_changes.is_empty() {
            // The user's own refresh already saw these memberships.
            continue;
        }
        let (new, entry) = verdict(one.meta, &one.change, &own, own_changes, &one.note);
        *outcome = Some(new);
        entries.push(entry);
    }
    event_log::record_latest_all(&txn, &entries).await?;
    txn.commit().await?;
    Ok(outcomes)
}

/// One member's users, and what their refresh changed.
pub(crate) fn own(
    users: &[(String, Uuid)],
    changes: &[Change],
    member_id: &str,
) -> (Vec<Uuid>, Vec<Change>) {
    let own: Vec<Uuid> = users
        .iter()
        .filter(|(m, _)| m == member_id)
        .map(|(_, u)| *u)
        .collect();
    let own_changes = changes
        .iter()
        .filter(|c| own.contains(&c.user_id))
        .cloned()
        .collect();
    (own, own_changes)
}

/// How a change is logged, given the member's users and what their refresh changed.
pub(crate) fn verdict<'a>(
    meta: &'a ChangeMeta,
    change: &MembershipChange<'a>,
    users: &[Uuid],
    changes: Vec<Change>,
    note: &Note,
) -> (EventOutcome, Entry<'a>) {
    // A stale list can still change something: the groups it names tell that the member had
    // groups before its newest list (see `memberships::sync_lists`).
    let outcome = if change.applied {
        outcome_of(&changes, change.base)
    } else {
        outcome_of(&changes, EventOutcome::StaleIgnored)
    };
    let mut detail = describe(&changes);
    detail[note.0] = note.1.clone();
    if users.is_empty() {
        detail["user_pending"] = json!(true);
    }
    let log = entry(
        meta,
        Some(change.company_id),
        Some((change.member_id, users.first().copied())),
        outcome,
        &changes,
        detail,
    );
    (outcome, log)
}

/// What a membership change did, for [`GroupResolver::finish`].
#[derive(Clone)]
pub(crate) struct MembershipChange<'a> {
    pub company_id: Uuid,
    pub member_id: &'a str,
    pub applied: bool,
    pub base: EventOutcome,
    pub renamed: Vec<String>,
}
