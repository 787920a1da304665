//! Applying member events to PostgreSQL: one event in one short transaction ([`Store::apply`]),
//! or a batch of events of distinct members in one transaction ([`Store::apply_batch`]).
//!
//! Steps: lock the member (advisory, transaction-scoped), store the event and read back all of
//! the member's events (R17), fold them, find the company (R2) and the user (R1), check email
//! rules (R3, R4), write the user (R5-R10), attach org schema entries (R6), recompute activity
//! and level, log the outcome (R16). A rejection rolls everything back and is logged on its
//! own, so a rejected event writes nothing. Each step is one statement where it can be: the
//! worker is bound by round trips, not by the database.
//!
//! A batch shares what can be shared: the transaction, one statement locking every member, the
//! org entries created ahead in one statement per company, one multi-row event log insert. The
//! per-event steps and rules are the same code as for one event. An event the batch cannot
//! carry (a rejection, which must roll back its own writes only; a duplicate; an unknown
//! organization) rolls the batch back; the events before it are applied together again, it is
//! applied on its own, and the batch goes on after it. A database error falls back to one
//! transaction per event, so one bad event never holds the others back.

mod batch;
mod context;
mod events;
pub mod matching;

pub use batch::Item;
mod write;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use scimsync_db::access;
use scimsync_db::companies::Cache;
use scimsync_db::entity::user;
use scimsync_db::event_log::{self, Entry};
use scimsync_schema::message::UserProvisioned;
use scimsync_schema::stytch::{Action, Member};
use scimsync_schema::{Envelope, StytchWebhook};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, QueryFilter, Statement, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::fold::fold;
use crate::org;
use context::Context;
use matching::MatchedBy;

pub const CONCERN: &str = "user-upsert";

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// R2: permanent until the company is registered; dead-lettered for replay.
    #[error("no company has Stytch organization id {0:?}")]
    UnknownOrganization(String),
    /// The event cannot be applied as sent (no member id, ...): dead-lettered.
    #[error("{0}")]
    Invalid(String),
    /// Database trouble: retried with backoff.
    #[error("database error")]
    Database(#[from] DbErr),
}

/// What a batch prepared for one of its events.
pub(super) struct InBatch<'b> {
    /// The org entries created ahead.
    pub created: &'b org::Created,
    /// The member's events, this one already stored (`None`: a duplicate).
    pub stored: Option<Vec<crate::fold::MemberEvent>>,
    /// The batch's keys nobody holds.
    pub unheld: &'b mut matching::Unheld,
    /// New records whose activity and level the batch refreshes together before its commit.
    pub refresh_later: &'b mut Vec<Uuid>,
}

/// What happened, for logs and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub outcome: &'static str,
    pub user_id: Option<Uuid>,
    /// Set when a user record now exists for the member (created, adopted, or a redelivery of
    /// such an event) or gained an id a manager value may name: announced so waiting manager
    /// links resolve at once.
    pub provisioned: Option<UserProvisioned>,
}

impl Applied {
    fn just(outcome: &'static str, user_id: Option<Uuid>) -> Self {
        Self {
            outcome,
            user_id,
            provisioned: None,
        }
    }
}

#[allow(clippy::large_enum_variant)] // one per event, moved once
enum Step<'a> {
    Commit {
        applied: Applied,
        company_id: Option<Uuid>,
        entry: Entry<'a>,
    },
    Duplicate,
    Reject {
        company_id: Uuid,
        user_id: Option<Uuid>,
        outcome: &'static str,
        detail: serde_json::Value,
    },
    UnknownOrganization(String),
}

/// The user-upsert store: the pool plus what it remembers between events.
pub struct Store {
    pub db: DatabaseConnection,
    companies: Cache,
    last_sync_touch: Mutex<HashMap<Uuid, Instant>>,
}

impl Store {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            companies: Cache::new(Duration::from_secs(30)),
            last_sync_touch: Mutex::new(HashMap::new()),
        }
    }

    /// Non-SCIM member events are logged, not applied (SPEC §5).
    pub async fn log_ignored(
        &self,
        webhook: &StytchWebhook,
        envelope: &Envelope,
        member: Option<&Member>,
    ) -> Result<Applied, ProcessError> {
        let company = match member.and_then(|m| m.organization_id.as_deref()) {
            Some(org) => self.companies.find(&self.db, org).await?,
            None => None,
        };
        let member_id = envelope.member_id().unwrap_or_default();
        let ctx = Context {
            webhook,
            member_id: &member_id,
        };
        let detail = json!({ "source": envelope.source });
        event_log::record(
            &self.db,
            ctx.entry(
                company.map(|c| c.id),
                None,
                "ignored_non_scim_source",
                detail,
            ),
        )
        .await?;
        Ok(Applied::just("ignored_non_scim_source", None))
    }

    pub async fn apply(
        &self,
        webhook: &StytchWebhook,
        envelope: &Envelope,
    ) -> Result<Applied, ProcessError> {
        let member_id = envelope.member_id().ok_or_else(|| {
            ProcessError::Invalid(
                "the event names no member (no `id`, no `member.member_id`)".into(),
            )
        })?;
        let member = envelope
            .member()
            .map_err(|e| ProcessError::Invalid(e.to_string()))?;
        let ctx = Context {
            webhook,
            member_id: &member_id,
        };
        let txn = self.db.begin().await?;
        // Serialise work on one member across every worker replica; released at commit.
        access::lock_members(&txn, std::slice::from_ref(&member_id)).await?;
        match self
            .apply_in(&txn, &ctx, envelope, member.as_ref(), None)
            .await?
        {
            Step::Commit {
                applied,
                company_id,
                entry,
            } => {
                event_log::record(&txn, entry).await?;
                txn.commit().await?;
                if let Some(company_id) = company_id {
                    self.touch_last_sync(company_id).await?;
                }
                Ok(applied)
            }
            Step::Duplicate => {
                txn.rollback().await?;
                // The first delivery may have stopped before its announcement was confirmed:
                // announce again (waking a link twice is harmless).
                let user = user::Entity::find()
                    .filter(user::Column::StytchMemberId.eq(member_id.as_str()))
                    .one(&self.db)
                    .await?;
                let provisioned = user.as_ref().map(|u| UserProvisioned {
                    event_id: format!("{}:user_provisioned", webhook.event_id),
                    timestamp: webhook.timestamp,
                    company_id: u.company_id.to_string(),
                    user_id: u.id.to_string(),
                    stytch_member_id: member_id.clone(),
                    scim_id: u.scim_id.clone(),
                    external_id: u.external_id.clone(),
                });
                Ok(Applied {
                    outcome: "duplicate",
                    user_id: user.map(|u| u.id),
                    provisioned,
                })
            }
            Step::Reject {
                company_id,
                user_id,
                outcome,
                detail,
            } => {
                txn.rollback().await?;
                event_log::record(
                    &self.db,
                    ctx.entry(Some(company_id), user_id, outcome, detail),
                )
                .await?;
                Ok(Applied::just(outcome, user_id))
            }
            Step::UnknownOrganization(org) => {
                txn.rollback().await?;
                Err(ProcessError::UnknownOrganization(org))
            }
        }
    }

    /// The company's last SCIM sync time: outside the event's transaction (one row shared by
    /// every transaction of a company would serialise them on its lock) and at most once a
    /// second per company.
    async fn touch_last_sync(&self, company_id: Uuid) -> Result<(), DbErr> {
        let due = self.last_sync_touch.lock().map(|mut touched| {
            let due = touched
                .get(&company_id)
                .is_none_or(|at| at.elapsed() >= Duration::from_secs(1));
            if due {
                touched.insert(company_id, Instant::now());
            }
            due
        });
        if due.unwrap_or(true) {
            self.db
                .execute(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "UPDATE companies SET last_scim_sync_at = now() WHERE id = $1",
                    [company_id.into()],
                ))
                .await?;
        }
        Ok(())
    }

    /// One event's steps, inside a transaction that holds the member's lock; `batch` is what a
    /// batch prepared for it.
    async fn apply_in<'a>(
        &self,
        txn: &DatabaseTransaction,
        ctx: &Context<'a>,
        envelope: &Envelope,
        member: Option<&Member>,
        batch: Option<InBatch<'_>>,
    ) -> Result<Step<'a>, DbErr> {
        let none = org::Created::new();
        let (created, stored, mut unheld, refresh_later) = match batch {
            Some(b) => (b.created, b.stored, Some(b.unheld), Some(b.refresh_later)),
            None => {
                let stored =
                    events::record_and_load(txn, ctx.webhook, envelope, ctx.member_id, member)
                        .await?;
                (&none, stored, None, None)
            }
        };
        let Some(events) = stored else {
            return Ok(Step::Duplicate);
        };
        let had_delete = events.iter().any(|e| e.action == Action::Delete);
        let state = fold(events);
        let is_newest = state.newest.is_none_or(|n| envelope.timestamp >= n);

        let Some(org) = state.organization_id.clone() else {
            // Only deletes so far: nothing to deactivate yet. The event stays stored, so a
            // create arriving later (older timestamp) still ends deactivated, as in order.
            return Ok(Step::Commit {
                applied: Applied::just("member_not_found", None),
                company_id: None,
                entry: ctx.entry(None, None, "member_not_found", json!({ "deferred": true })),
            });
        };
        let Some(company) = self.companies.find(txn, &org).await? else {
            return Ok(Step::UnknownOrganization(org));
        };
        if had_delete {
            // A delete logged before its company was known now gets one.
            txn.execute(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE scim_event_log SET company_id = $1 WHERE company_id IS NULL AND stytch_member_id = $2",
                [company.id.into(), ctx.member_id.into()],
            ))
            .await?;
        }
        // A batch may know already that nobody holds the member's keys.
        let unheld_keys = unheld
            .as_deref()
            .is_some_and(|u| u.covers(ctx.member_id, &state));
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
                    applied: Applied::just("missing_email", None),
                    company_id: Some(company.id),
                    entry: ctx.entry(Some(company.id), None, "missing_email", detail),
                });
            }
        };
        let existing_id = existing.as_ref().map(|u| u.id);
        let reject = |outcome, detail| Step::Reject {
            company_id: company.id,
            user_id: existing_id,
            outcome,
            detail,
        };
        if !scimsync_schema::email::domain_allowed(&email, &company.allowed_email_domains) {
            let detail =
                json!({ "email": email, "allowed_email_domains": company.allowed_email_domains });
            return Ok(reject("rejected_email_domain", detail));
        }
        // An existing record keeping its email cannot collide; a new or changed one may.
        if existing
            .as_ref()
            .is_none_or(|u| !u.email.eq_ignore_ascii_case(&email))
            && !unheld_keys
        {
            if let Some(other) = matching::email_owner(txn, &email, existing_id).await? {
                let detail = json!({ "email": email, "conflicting_user_id": other });
                return Ok(reject("rejected_duplicate_email", detail));
            }
        }
        let written = match existing {
            None => write::insert(txn, &company, ctx.member_id, &email, &state)
                .await?
                .map(|id| (id, true, Vec::new()))
                .map_err(str::to_owned),
            Some(user) => {
                let adopted = matched_by == Some(MatchedBy::Email) && !user.scim_provisioned;
                let id = user.id;
                write::update(txn, user, &company, ctx.member_id, &email, &state)
                    .await?
                    .map(|changed| (id, adopted, changed))
            }
        };
        if let Some(unheld) = unheld.as_mut() {
            unheld.take(&email);
        }
        let (user_id, created_or_adopted, changed) = match written {
            Ok(written) => written,
            Err(constraint) => {
                return Ok(reject(
                    "rejected_duplicate_email",
                    json!({ "email": email, "constraint": constraint }),
                ))
            }
        };
        let org_changes = org::attach(txn, company.id, user_id, &state, created).await?;
        // Effective activity and permission level (memberships may have arrived first). A new
        // record has no manager and no reports yet, so its refresh changes nobody else and not
        // the outcome (`created`): a batch refreshes its new records together, and fills in
        // their `access_changes`.
        let access_changes = match (existing_id, refresh_later) {
            (None, Some(later)) => {
                later.push(user_id);
                Vec::new()
            }
            _ => access::refresh(txn, &[user_id]).await?,
        };
        let own = access_changes.iter().find(|c| c.user_id == user_id);
        let mut outcome = match (existing_id, created_or_adopted, own) {
            (None, _, _) => "created",
            (Some(_), true, _) => "adopted",
            (Some(_), false, Some(c)) if c.deactivated() => "deactivated",
            (Some(_), false, Some(c)) if c.reactivated() => "reactivated",
            (Some(_), false, _) if !changed.is_empty() || org_changes > 0 => "updated",
            _ => "unchanged",
        };
        if outcome == "unchanged" && !is_newest {
            outcome = "stale_ignored";
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
        let provisioned = (matches!(outcome, "created" | "adopted") || new_id)
            .then(|| ctx.announcement(company.id, user_id, &state));
        Ok(Step::Commit {
            applied: Applied {
                outcome,
                user_id: Some(user_id),
                provisioned,
            },
            company_id: Some(company.id),
            entry: ctx.entry(Some(company.id), Some(user_id), outcome, detail),
        })
    }
}
