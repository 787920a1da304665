//! What one member event does, and which outcome it logs (R1-R11, R16): from the member's
//! stored events to the user record, its org entries, its activity and level, the event log
//! entry, and the announcement of a record it created or adopted (R13). The same code for one
//! event and for a batch, which only hands it what it prepared.

use scimsync_db::access;
use scimsync_db::entity::company;
use scimsync_db::event_log::Entry;
use scimsync_schema::change::{Door, MemberChange};
use scimsync_schema::message::UserProvisioned;
use scimsync_schema::EventOutcome;

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Statement};
use serde_json::json;
use uuid::Uuid;

use super::lifecycle;
use super::matching::{self, MatchedBy};
use super::{Applied, Store, CONCERN};
use crate::history::fold::{fold, MemberState};
use crate::history::stored;
use crate::org;

/// One member event, as its steps log and announce it.
pub(super) struct Context<'a> {
    pub change: &'a MemberChange,
    pub member_id: &'a str,
}

impl<'a> Context<'a> {
    pub fn entry(
        &self,
        company_id: Option<Uuid>,
        user_id: Option<Uuid>,
        outcome: EventOutcome,
        detail: serde_json::Value,
    ) -> Entry<'a> {
        Entry {
            company_id,
            door: self.change.meta.door,
            received_at: self.change.meta.received_at,
            event_id: &self.change.meta.event_id,
            event_type: &self.change.meta.event_type,
            concern: CONCERN,
            user_id,
            user_ids: Vec::new(),
            stytch_member_id: Some(self.member_id),
            outcome,
            detail,
        }
    }

    pub fn announcement(
        &self,
        company_id: Uuid,
        user_id: Uuid,
        state: &MemberState,
    ) -> UserProvisioned {
        UserProvisioned {
            event_id: format!("{}:user_provisioned", self.change.meta.event_id),
            timestamp: self.change.meta.timestamp,
            company_id: company_id.to_string(),
            user_id: user_id.to_string(),
            stytch_member_id: self.member_id.to_owned(),
            scim_id: state.scim_id.clone(),
            external_id: state.external_id.clone(),
        }
    }
}

/// What was done ahead of one event's steps: by its batch, or, for an event applied alone, only
/// the storing of the event (nothing known unheld, no entries created, nothing deferred).
pub(super) struct Ahead<'b> {
    /// The org entries created ahead.
    pub created: &'b org::Created,
    /// The member's events, this one already stored (`None`: a duplicate).
    pub stored: Option<stored::Loaded>,
    /// The keys nobody holds, as far as the batch looked.
    pub unheld: &'b mut matching::Unheld,
    /// Where a batch defers its new records' writes to, to make them together before its
    /// commit; `None` writes them at once.
    pub later: Option<&'b mut Later>,
}

/// New records' writes a batch makes together before its commit.
#[derive(Debug, Default)]
pub(super) struct Later {
    /// New records, inserted together.
    pub insert: lifecycle::Later,
    /// Their org attachments.
    pub attach: org::Later,
    /// Their activity and level, refreshed together.
    pub refresh: Vec<Uuid>,
}

#[allow(clippy::large_enum_variant)] // one per event, moved once
pub(super) enum Step<'a> {
    Commit {
        applied: Applied,
        entry: Entry<'a>,
    },
    Duplicate,
    /// Not now: the event is retried later (it waits for another event to be applied first).
    Retry {
        reason: String,
    },
    Reject {
        user_id: Option<Uuid>,
        outcome: EventOutcome,
        detail: serde_json::Value,
    },
}

impl Store {
    /// One event's steps, inside a transaction that holds the member's lock, given what was
    /// done ahead of them.
    pub(super) async fn apply_in<'a>(
        &self,
        txn: &DatabaseTransaction,
        ctx: &Context<'a>,
        company: &company::Model,
        ahead: Ahead<'_>,
    ) -> Result<Step<'a>, DbErr> {
        let Ahead {
            created,
            stored,
            unheld,
            mut later,
        } = ahead;
        let Some(loaded) = stored else {
            return Ok(Step::Duplicate);
        };
        if !loaded.claimed.is_empty() {
            // Events logged before their company was known now get one.
            txn.execute(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE scim_event_log l SET company_id = $1
                 WHERE l.company_id IS NULL AND l.stytch_member_id = $2 AND l.concern = $3
                   AND l.event_id = ANY($4)
                   AND NOT EXISTS (SELECT 1 FROM scim_event_log o
                                   WHERE o.company_id = $1 AND o.event_id = l.event_id
                                     AND o.concern = l.concern)",
                [
                    company.id.into(),
                    ctx.member_id.into(),
                    CONCERN.as_str().into(),
                    loaded.claimed.clone().into(),
                ],
            ))
            .await?;
        }
        let state = fold(loaded.events);
        let is_newest = state.newest.is_none_or(|n| ctx.change.meta.timestamp >= n);
        if !state.has_body {
            // Only deletes so far: nothing to deactivate yet. The event stays stored, so a
            // create arriving later (older timestamp) still ends deactivated, as in order.
            return Ok(Step::Commit {
                applied: Applied::just(EventOutcome::MemberNotFound, None),
                entry: ctx.entry(
                    Some(company.id),
                    None,
                    EventOutcome::MemberNotFound,
                    json!({ "deferred": true }),
                ),
            });
        }
        // A batch may know already that nobody holds the member's keys.
        let unheld_keys = unheld.covers(ctx.member_id, &state);
        let (existing, matched_by) = if unheld_keys {
            (None, None)
        } else {
            matching::match_user(txn, company.id, ctx.member_id, &state).await?
        };
        let email = match (&state.email, &existing) {
            (Some(email), _) => email.clone(),
            (None, Some(user)) => user.email.clone(),
            (None, None) => {
                let detail =
                    json!({ "reason": "no email address in any event of this member yet" });
                return Ok(Step::Commit {
                    applied: Applied::just(EventOutcome::MissingEmail, None),
                    entry: ctx.entry(Some(company.id), None, EventOutcome::MissingEmail, detail),
                });
            }
        };
        let existing_id = existing.as_ref().map(|u| u.id);
        let reject = |outcome, detail| Step::Reject {
            user_id: existing_id,
            outcome,
            detail,
        };
        if !scimsync_schema::email::domain_allowed(&email, &company.allowed_email_domains) {
            let detail =
                json!({ "email": email, "allowed_email_domains": company.allowed_email_domains });
            return Ok(reject(EventOutcome::RejectedEmailDomain, detail));
        }
        // An existing record keeping its email cannot collide; a new or changed one may.
        if existing
            .as_ref()
            .is_none_or(|u| !u.email.eq_ignore_ascii_case(&email))
            && !unheld_keys
        {
            // The batch's new records are not in the table yet.
            let held_back = later.as_deref().and_then(|l| l.insert.owner(&email));
            let other = match held_back {
                Some(other) => Some(other),
                None => matching::email_owner(txn, &email, existing_id).await?,
            };
            if let Some((other, other_company)) = other {
                // R10 at the SCIM door: the IdP deleted the holder's resource and created this
                // one with its email, but the delete, applied in another transaction, has not
                // reached the holder yet. Rejecting would lose the new user for good; it waits
                // for the delete instead (retried through the delay tiers).
                if other_company == company.id
                    && ctx.change.meta.door == Door::Scim
                    && matching::resource_deleted(txn, other).await?
                {
                    return Ok(Step::Retry {
                        reason: format!(
                            "user {other} holds the email, and the SCIM resource it came from \
                             is deleted: waiting for that delete to be applied"
                        ),
                    });
                }
                // Another company's records are not this company's to know about: the
                // rejection says only that the address is taken elsewhere.
                let detail = if other_company == company.id {
                    json!({ "email": email, "conflicting_user_id": other })
                } else {
                    json!({ "email": email, "held_by": "another_company" })
                };
                return Ok(reject(EventOutcome::RejectedDuplicateEmail, detail));
            }
        }
        let written = match (existing, later.as_deref_mut()) {
            (None, Some(later)) => Ok((
                later.insert.push(company, ctx.member_id, &email, &state),
                true,
                Vec::new(),
            )),
            (None, None) => lifecycle::insert(txn, company, ctx.member_id, &email, &state)
                .await?
                .map(|id| (id, true, Vec::new()))
                .map_err(str::to_owned),
            (Some(user), _) => {
                let adopted = matched_by == Some(MatchedBy::Email) && !user.scim_provisioned;
                let id = user.id;
                lifecycle::update(txn, user, company, ctx.member_id, &email, &state)
                    .await?
                    .map(|changed| (id, adopted, changed))
            }
        };
        unheld.take(&email);
        let (user_id, created_or_adopted, changed) = match written {
            Ok(written) => written,
            Err(constraint) => {
                return Ok(reject(
                    EventOutcome::RejectedDuplicateEmail,
                    json!({ "email": email, "constraint": constraint }),
                ))
            }
        };
        // A new record's attachments change nothing else and not the outcome (`created`): a
        // batch makes them together before its commit.
        let org_changes = match (existing_id, later.as_deref_mut()) {
            (None, Some(later)) => {
                later.attach.push(company.id, user_id, &state);
                0
            }
            _ => org::attach(txn, company.id, user_id, &state, created).await?,
        };
        // Effective activity and permission level (memberships may have arrived first). A new
        // record has no manager and no reports yet, so its refresh changes nobody else and not
        // the outcome (`created`): a batch refreshes its new records together, and fills in
        // their `access_changes`.
        let access_changes = match (existing_id, later) {
            (None, Some(later)) => {
                later.refresh.push(user_id);
                Vec::new()
            }
            _ => access::refresh(txn, &[user_id]).await?,
        };
        let own = access_changes.iter().find(|c| c.user_id == user_id);
        let mut outcome = match (existing_id, created_or_adopted, own) {
            (None, _, _) => EventOutcome::Created,
            (Some(_), true, _) => EventOutcome::Adopted,
            (Some(_), false, Some(c)) if c.deactivated() => EventOutcome::Deactivated,
            (Some(_), false, Some(c)) if c.reactivated() => EventOutcome::Reactivated,
            (Some(_), false, _) if !changed.is_empty() || org_changes > 0 => EventOutcome::Updated,
            _ => EventOutcome::Unchanged,
        };
        if outcome == EventOutcome::Unchanged && !is_newest {
            outcome = EventOutcome::StaleIgnored;
        }
        let detail = json!({
            "matched_by": matched_by.as_ref().map(MatchedBy::as_str),
            "changed_fields": changed,
            "out_of_order": !is_newest,
            "access_changes": access_changes,
        });
        // A new user, or a new id a pending manager value may name (R13): waiting links are
        // woken at once rather than on their next retry.
        let new_id = changed
            .iter()
            .any(|f| matches!(*f, "scim_id" | "external_id" | "stytch_member_id"));
        let provisioned = (matches!(outcome, EventOutcome::Created | EventOutcome::Adopted)
            || new_id)
            .then(|| ctx.announcement(company.id, user_id, &state));
        Ok(Step::Commit {
            applied: Applied {
                outcome,
                user_id: Some(user_id),
                provisioned,
            },
            entry: ctx.entry(Some(company.id), Some(user_id), outcome, detail),
        })
    }
}
