//! Applying member events to PostgreSQL: one event in one short transaction (`Store::apply_alone`),
//! or a batch of events of distinct members in one transaction ([`Store::apply`]).
//!
//! Steps: lock the member (advisory, transaction-scoped: user-upsert's own lock, then the
//! lock every worker takes before writing a user record), store the event and read back all of
//! the member's events (R17), fold them, find the company (R2) and the user (R1), check email
//! rules (R3, R4), write the user (R5-R10), attach org schema entries (R6), recompute activity
//! and level, log the outcome (R16). A rejection rolls everything back and is logged on its
//! own, so a rejected event writes nothing. Each step is one statement where it can be: the
//! worker is bound by round trips, not by the database.
//!
//! A batch shares what can be shared: the transaction, one statement for each kind of member
//! lock (the shared one taken only once the batch's reads are done), the
//! org entries created ahead in one statement per company, its new records inserted together
//! before the commit (their emails checked against each other in memory, and against the
//! table by the insert's unique index), one multi-row event log insert. The
//! per-event steps and rules are the same code as for one event. An event the batch cannot
//! carry (a rejection, which must roll back its own writes only; a duplicate; an unknown
//! organization) rolls the batch back; the events before it are applied together again, it is
//! applied on its own, and the batch goes on after it. A database error falls back to one
//! transaction per event, so one bad event never holds the others back.
//!
//! Each file answers one question: [`matching`] which user record a member is (R1) and whether
//! its email is taken (R3); `lifecycle` how a record is created, updated, deactivated and
//! reactivated (R5, R7-R10); `outcome` what one event does and which outcome it logs (R1-R11,
//! R16); `together` how a batch's events share one transaction. A member's events and their
//! fold are in [`crate::history`], its org values (R6) in [`crate::org`].

mod lifecycle;
pub mod matching;
mod outcome;
mod together;

use outcome::Step;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use scimsync_db::access;
use scimsync_db::companies::Cache;
use scimsync_db::entity::{company, user};
use scimsync_db::event_log;
use scimsync_schema::change::{MemberChange, Tenant};
use scimsync_schema::message::UserProvisioned;
use scimsync_schema::stytch::Member;
use scimsync_schema::{Concern, EventOutcome};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    Statement, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use outcome::Context;

use crate::history::stored;
use crate::org;

pub const CONCERN: Concern = Concern::UserUpsert;

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// R2: permanent until the company is registered; dead-lettered for replay.
    #[error("no company is registered for {0:?}")]
    UnknownTenant(Tenant),
    /// The event cannot be applied as sent (no member id, ...): dead-lettered.
    #[error("{0}")]
    Invalid(String),
    /// Database trouble: retried with backoff.
    #[error("database error")]
    Database(#[from] DbErr),
    /// The event waits for another one to be applied first: retried with backoff.
    #[error("{0}")]
    Waiting(String),
}

/// What happened, for logs and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub outcome: EventOutcome,
    pub user_id: Option<Uuid>,
    /// Set when a user record now exists for the member (created, adopted, or a redelivery of
    /// such an event) or gained an id a manager value may name: announced so waiting manager
    /// links resolve at once.
    pub provisioned: Option<UserProvisioned>,
}

impl Applied {
    fn just(outcome: EventOutcome, user_id: Option<Uuid>) -> Self {
        Self {
            outcome,
            user_id,
            provisioned: None,
        }
    }
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
    async fn log_ignored(&self, change: &MemberChange) -> Result<Applied, ProcessError> {
        let company = self.companies.find_tenant(&self.db, &change.tenant).await?;
        let member_id = change.member_id.clone().unwrap_or_default();
        let ctx = Context {
            change,
            member_id: &member_id,
        };
        // The event type's first word is the Stytch source (`direct`, `dashboard`).
        let source = change.meta.event_type.split('.').next().unwrap_or_default();
        let detail = json!({ "source": source.to_ascii_uppercase() });
        event_log::record(
            &self.db,
            ctx.entry(
                company.map(|c| c.id),
                None,
                EventOutcome::IgnoredNonScimSource,
                detail,
            ),
        )
        .await?;
        Ok(Applied::just(EventOutcome::IgnoredNonScimSource, None))
    }

    /// Applies one member event. An event that names its organisation applies to that company's
    /// member; one that names none (a Stytch DELETE carries no body) to the member of every
    /// company whose history holds its member id, or, while none does, it waits for the first
    /// event that names the member's company ([`stored`]).
    async fn apply_alone(&self, change: &MemberChange) -> Result<Applied, ProcessError> {
        let member_id = change.member_id.clone().ok_or_else(|| {
            ProcessError::Invalid(
                "the event names no member (no `id`, no `member.member_id`)".into(),
            )
        })?;
        let member = change.member.as_ref();
        let ctx = Context {
            change,
            member_id: &member_id,
        };
        if change.tenant != Tenant::Unnamed {
            let company = self
                .companies
                .find_tenant(&self.db, &change.tenant)
                .await?
                .ok_or_else(|| ProcessError::UnknownTenant(change.tenant.clone()))?;
            return self.apply_to(&ctx, &company, member).await;
        }
        let txn = self.db.begin().await?;
        access::lock_stytch_members(&txn, CONCERN, std::slice::from_ref(&member_id)).await?;
        let holders = stored::holders(&txn, &member_id).await?;
        if holders.is_empty() {
            let kept = stored::keep_unclaimed(&txn, change, &member_id, member).await?;
            if !kept {
                txn.rollback().await?;
                return Ok(Applied::just(EventOutcome::Duplicate, None));
            }
            // Nothing to deactivate yet. A create arriving later (older timestamp) claims this
            // event and still ends deactivated, as in order.
            let entry = ctx.entry(
                None,
                None,
                EventOutcome::MemberNotFound,
                json!({ "deferred": true }),
            );
            event_log::record(&txn, entry).await?;
            txn.commit().await?;
            return Ok(Applied::just(EventOutcome::MemberNotFound, None));
        }
        txn.rollback().await?;
        let mut first = None;
        for company_id in holders {
            let Some(company) = company::Entity::find_by_id(company_id)
                .one(&self.db)
                .await?
            else {
                continue;
            };
            let applied = self.apply_to(&ctx, &company, member).await?;
            first.get_or_insert(applied);
        }
        Ok(first.unwrap_or_else(|| Applied::just(EventOutcome::MemberNotFound, None)))
    }

    /// [`Store::apply_alone`] for the member of one company, in one transaction.
    async fn apply_to(
        &self,
        ctx: &Context<'_>,
        company: &company::Model,
        member: Option<&Member>,
    ) -> Result<Applied, ProcessError> {
        let member_id = ctx.member_id;
        let txn = self.db.begin().await?;
        // Serialise work on one member across every replica, and its user record's writes
        // across every worker; released at commit.
        let members = [member_id.to_owned()];
        access::lock_stytch_members(&txn, CONCERN, &members).await?;
        access::lock_members(&txn, company.id, &members).await?;
        let new = stored::NewEvent {
            company_id: company.id,
            change: ctx.change,
            member_id,
            member,
        };
        let ahead = outcome::Ahead {
            created: &org::Created::new(),
            stored: stored::record_and_load(&txn, new).await?,
            unheld: &mut matching::Unheld::default(),
            later: None,
        };
        match self.apply_in(&txn, ctx, company, ahead).await? {
            Step::Commit { applied, entry } => {
                event_log::record(&txn, entry).await?;
                txn.commit().await?;
                self.touch_last_sync(company.id).await?;
                Ok(applied)
            }
            Step::Duplicate => {
                txn.rollback().await?;
                // The first delivery may have stopped before its announcement was confirmed:
                // announce again (waking a link twice is harmless).
                let user = user::Entity::find()
                    .filter(user::Column::CompanyId.eq(company.id))
                    .filter(user::Column::MemberKey.eq(member_id))
                    .one(&self.db)
                    .await?;
                let provisioned = user.as_ref().map(|u| UserProvisioned {
                    event_id: format!("{}:user_provisioned", ctx.change.meta.event_id),
                    timestamp: ctx.change.meta.timestamp,
                    company_id: u.company_id.to_string(),
                    user_id: u.id.to_string(),
                    stytch_member_id: member_id.to_owned(),
                    scim_id: u.scim_id.clone(),
                    external_id: u.external_id.clone(),
                });
                Ok(Applied {
                    outcome: EventOutcome::Duplicate,
                    user_id: user.map(|u| u.id),
                    provisioned,
                })
            }
            Step::Retry { reason } => {
                txn.rollback().await?;
                Err(ProcessError::Waiting(reason))
            }
            Step::Reject {
                user_id,
                outcome,
                detail,
            } => {
                txn.rollback().await?;
                event_log::record(
                    &self.db,
                    ctx.entry(Some(company.id), user_id, outcome, detail),
                )
                .await?;
                Ok(Applied::just(outcome, user_id))
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
}
