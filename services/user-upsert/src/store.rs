//! Applying one member event to PostgreSQL, in one short transaction.
//!
//! Steps: lock the member (advisory, transaction-scoped), store the event (its id is the
//! idempotency key), fold every stored event of the member (R17), find the company (R2) and
//! the user (R1), check email rules (R3, R4), write the user (R5-R10), attach org schema
//! entries (R6), log the outcome (R16). A rejection rolls everything back and is logged on its
//! own, so a rejected event writes nothing.

use chrono::{DateTime, Utc};
use scimsync_db::access;
use scimsync_db::entity::{company, member_event, user};
use scimsync_db::errors::unique_violation;
use scimsync_db::event_log::{self, Entry};
use scimsync_schema::message::UserProvisioned;
use scimsync_schema::stytch::{Action, Member};
use scimsync_schema::{Envelope, StytchWebhook};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
    TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::fold::{fold, MemberEvent, MemberState};
use crate::org;

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

/// What happened, for logs and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub outcome: &'static str,
    pub user_id: Option<Uuid>,
    /// Set when a user record now exists for the member (created, adopted, or a redelivery of
    /// such an event): announced so waiting manager links resolve at once.
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

fn announcement(webhook: &StytchWebhook, user: &user::Model) -> Option<UserProvisioned> {
    Some(UserProvisioned {
        event_id: format!("{}:user_provisioned", webhook.event_id),
        timestamp: webhook.timestamp,
        company_id: user.company_id.to_string(),
        user_id: user.id.to_string(),
        stytch_member_id: user.stytch_member_id.clone()?,
        scim_id: user.scim_id.clone(),
        external_id: user.external_id.clone(),
    })
}

enum MatchedBy {
    MemberId,
    ExternalId,
    Email,
}

impl MatchedBy {
    fn as_str(&self) -> &'static str {
        match self {
            Self::MemberId => "stytch_member_id",
            Self::ExternalId => "external_id",
            Self::Email => "email",
        }
    }
}

struct Context<'a> {
    webhook: &'a StytchWebhook,
    member_id: &'a str,
}

impl Context<'_> {
    fn entry(
        &self,
        company_id: Option<Uuid>,
        user_id: Option<Uuid>,
        outcome: &'static str,
        detail: serde_json::Value,
    ) -> Entry<'_> {
        Entry {
            company_id,
            received_at: self.webhook.received_at,
            event_id: &self.webhook.event_id,
            event_type: &self.webhook.event_type,
            concern: CONCERN,
            user_id,
            stytch_member_id: Some(self.member_id),
            outcome,
            detail,
        }
    }
}

/// Non-SCIM member events are logged, not applied (SPEC §5).
pub async fn log_ignored(
    db: &DatabaseConnection,
    webhook: &StytchWebhook,
    envelope: &Envelope,
    member: Option<&Member>,
) -> Result<Applied, ProcessError> {
    let company = match member.and_then(|m| m.organization_id.as_deref()) {
        Some(org) => scimsync_db::companies::find_by_organization(db, org).await?,
        None => None,
    };
    let member_id = envelope.member_id().unwrap_or_default();
    let ctx = Context {
        webhook,
        member_id: &member_id,
    };
    let detail = json!({ "source": envelope.source });
    event_log::record(
        db,
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
    db: &DatabaseConnection,
    webhook: &StytchWebhook,
    envelope: &Envelope,
) -> Result<Applied, ProcessError> {
    let member_id = envelope.member_id().ok_or_else(|| {
        ProcessError::Invalid("the event names no member (no `id`, no `member.member_id`)".into())
    })?;
    let member = envelope
        .member()
        .map_err(|e| ProcessError::Invalid(e.to_string()))?;
    let ctx = Context {
        webhook,
        member_id: &member_id,
    };
    let txn = db.begin().await?;
    match apply_in(&txn, &ctx, envelope, member).await? {
        Step::Commit(applied) => {
            txn.commit().await?;
            Ok(applied)
        }
        Step::Duplicate => {
            txn.rollback().await?;
            // The first delivery may have stopped before its announcement was confirmed:
            // announce again (waking a link twice is harmless).
            let user = user::Entity::find()
                .filter(user::Column::StytchMemberId.eq(member_id.as_str()))
                .one(db)
                .await?;
            let provisioned = user.as_ref().and_then(|u| announcement(webhook, u));
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
            event_log::record(db, ctx.entry(Some(company_id), user_id, outcome, detail)).await?;
            Ok(Applied::just(outcome, user_id))
        }
        Step::UnknownOrganization(org) => {
            txn.rollback().await?;
            Err(ProcessError::UnknownOrganization(org))
        }
    }
}

enum Step {
    Commit(Applied),
    Duplicate,
    Reject {
        company_id: Uuid,
        user_id: Option<Uuid>,
        outcome: &'static str,
        detail: serde_json::Value,
    },
    UnknownOrganization(String),
}

async fn apply_in(
    txn: &DatabaseTransaction,
    ctx: &Context<'_>,
    envelope: &Envelope,
    member: Option<Member>,
) -> Result<Step, DbErr> {
    // Serialise work on one member across every worker replica; released at commit.
    access::lock_members(txn, &[ctx.member_id.to_owned()]).await?;
    let inserted = txn
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO member_events (event_id, stytch_member_id, organization_id, event_timestamp, action, member)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
            [
                ctx.webhook.event_id.clone().into(),
                ctx.member_id.into(),
                member.as_ref().and_then(|m| m.organization_id.clone()).into(),
                envelope.timestamp.into(),
                envelope.action.to_ascii_uppercase().into(),
                member.as_ref().map(|m| serde_json::to_value(m).unwrap_or_default()).into(),
            ],
        ))
        .await?;
    if inserted.rows_affected() == 0 {
        return Ok(Step::Duplicate);
    }
    let events = member_event::Entity::find()
        .filter(member_event::Column::StytchMemberId.eq(ctx.member_id))
        .order_by_asc(member_event::Column::EventTimestamp)
        .all(txn)
        .await?;
    let state = fold(events.into_iter().map(to_fold_event).collect());
    let is_newest = state.newest.is_none_or(|n| envelope.timestamp >= n);

    let Some(org) = state.organization_id.clone() else {
        // Only deletes so far: nothing to deactivate yet. The event stays stored, so a create
        // arriving later (older timestamp) still ends deactivated, as in timestamp order.
        event_log::record(
            txn,
            ctx.entry(None, None, "member_not_found", json!({ "deferred": true })),
        )
        .await?;
        return Ok(Step::Commit(Applied::just("member_not_found", None)));
    };
    let Some(company) = scimsync_db::companies::find_by_organization(txn, &org).await? else {
        return Ok(Step::UnknownOrganization(org));
    };

    // Earlier events of this member logged before its company was known now get one.
    txn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE scim_event_log SET company_id = $1 WHERE company_id IS NULL AND stytch_member_id = $2",
        [company.id.into(), ctx.member_id.into()],
    ))
    .await?;
    let (existing, matched_by) = match_user(txn, company.id, ctx.member_id, &state).await?;
    let email = match (&state.email, &existing) {
        (Some(email), _) => email.clone(),
        (None, Some(user)) => user.email.clone(),
        (None, None) => {
            let detail = json!({ "reason": "no email address in any event of this member yet" });
            event_log::record(
                txn,
                ctx.entry(Some(company.id), None, "missing_email", detail),
            )
            .await?;
            return Ok(Step::Commit(Applied::just("missing_email", None)));
        }
    };
    let existing_id = existing.as_ref().map(|u| u.id);
    if !scimsync_schema::email::domain_allowed(&email, &company.allowed_email_domains) {
        let detail =
            json!({ "email": email, "allowed_email_domains": company.allowed_email_domains });
        return Ok(Step::Reject {
            company_id: company.id,
            user_id: existing_id,
            outcome: "rejected_email_domain",
            detail,
        });
    }
    if let Some(other) = email_owner(txn, &email, existing_id).await? {
        let detail = json!({ "email": email, "conflicting_user_id": other });
        return Ok(Step::Reject {
            company_id: company.id,
            user_id: existing_id,
            outcome: "rejected_duplicate_email",
            detail,
        });
    }

    let written = match existing {
        None => insert_user(txn, &company, ctx.member_id, &email, &state)
            .await?
            .map(|id| (id, true, Vec::new())),
        Some(user) => {
            let adopted = matches!(matched_by, Some(MatchedBy::Email)) && !user.scim_provisioned;
            let id = user.id;
            update_user(txn, user, &company, ctx.member_id, &email, &state)
                .await?
                .map(|changed| (id, adopted, changed))
        }
    };
    let (user_id, created_or_adopted, changed) = match written {
        Ok(written) => written,
        Err(constraint) => {
            let detail = json!({ "email": email, "constraint": constraint });
            return Ok(Step::Reject {
                company_id: company.id,
                user_id: existing_id,
                outcome: "rejected_duplicate_email",
                detail,
            });
        }
    };
    // Effective activity and permission level (memberships may have arrived first).
    let access_changes = access::refresh(txn, &[user_id]).await?;
    let own = access_changes.iter().find(|c| c.user_id == user_id);
    let mut outcome = match (existing_id, created_or_adopted, own) {
        (None, _, _) => "created",
        (Some(_), true, _) => "adopted",
        (Some(_), false, Some(c)) if c.deactivated() => "deactivated",
        (Some(_), false, Some(c)) if c.reactivated() => "reactivated",
        (Some(_), false, _) if !changed.is_empty() => "updated",
        _ => "unchanged",
    };
    let org_changes = org::attach(txn, company.id, user_id, &state).await?;
    if outcome == "unchanged" && org_changes > 0 {
        outcome = "updated";
    }
    if outcome == "unchanged" && !is_newest {
        outcome = "stale_ignored";
    }
    txn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE companies SET last_scim_sync_at = GREATEST(COALESCE(last_scim_sync_at, now()), now()) WHERE id = $1",
        [company.id.into()],
    ))
    .await?;
    let detail = json!({
        "matched_by": matched_by.as_ref().map(MatchedBy::as_str),
        "changed_fields": changed,
        "out_of_order": !is_newest,
        "access_changes": access_changes,
    });
    event_log::record(
        txn,
        ctx.entry(Some(company.id), Some(user_id), outcome, detail),
    )
    .await?;
    let provisioned = if matches!(outcome, "created" | "adopted") {
        let user = user::Entity::find_by_id(user_id).one(txn).await?;
        user.as_ref().and_then(|u| announcement(ctx.webhook, u))
    } else {
        None
    };
    Ok(Step::Commit(Applied {
        outcome,
        user_id: Some(user_id),
        provisioned,
    }))
}

fn to_fold_event(row: member_event::Model) -> MemberEvent {
    MemberEvent {
        event_id: row.event_id,
        timestamp: row.event_timestamp,
        action: Action::parse(&row.action),
        member: row.member.and_then(|m| serde_json::from_value(m).ok()),
    }
}

fn lower_email_eq(email: &str) -> sea_orm::sea_query::SimpleExpr {
    Expr::expr(Func::lower(Expr::col(user::Column::Email))).eq(email.to_lowercase())
}

/// R1: by Stytch member id, then IdP external id (an unlinked record), then email (a non-SCIM
/// user is adopted). Locks the row for the rest of the transaction.
async fn match_user(
    txn: &DatabaseTransaction,
    company_id: Uuid,
    member_id: &str,
    state: &MemberState,
) -> Result<(Option<user::Model>, Option<MatchedBy>), DbErr> {
    let in_company = || user::Entity::find().filter(user::Column::CompanyId.eq(company_id));
    if let Some(u) = in_company()
        .filter(user::Column::StytchMemberId.eq(member_id))
        .lock_exclusive()
        .one(txn)
        .await?
    {
        return Ok((Some(u), Some(MatchedBy::MemberId)));
    }
    if let Some(external) = &state.external_id {
        if let Some(u) = in_company()
            .filter(user::Column::ExternalId.eq(external.as_str()))
            .filter(user::Column::StytchMemberId.is_null())
            .lock_exclusive()
            .one(txn)
            .await?
        {
            return Ok((Some(u), Some(MatchedBy::ExternalId)));
        }
    }
    if let Some(email) = &state.email {
        if let Some(u) = in_company()
            .filter(lower_email_eq(email))
            .filter(user::Column::ScimProvisioned.eq(false))
            .lock_exclusive()
            .one(txn)
            .await?
        {
            return Ok((Some(u), Some(MatchedBy::Email)));
        }
    }
    Ok((None, None))
}

/// R3: another user (any company) holding this email, case-insensitively.
async fn email_owner(
    txn: &DatabaseTransaction,
    email: &str,
    except: Option<Uuid>,
) -> Result<Option<Uuid>, DbErr> {
    let mut query = user::Entity::find().filter(lower_email_eq(email));
    if let Some(id) = except {
        query = query.filter(user::Column::Id.ne(id));
    }
    Ok(query.one(txn).await?.map(|u| u.id))
}

/// Inserts a new SCIM user. `Err(constraint)` when a concurrent writer took the email first.
async fn insert_user(
    txn: &DatabaseTransaction,
    company: &company::Model,
    member_id: &str,
    email: &str,
    state: &MemberState,
) -> Result<Result<Uuid, String>, DbErr> {
    let now = Utc::now();
    let model = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(company.id),
        email: Set(email.to_owned()),
        first_name: Set(state.first_name()),
        last_name: Set(state.last_name()),
        active: Set(state.active),
        deactivated_at: Set(state.deactivated_at),
        street_address: Set(state.street_address.clone()),
        region: Set(state.region.clone()),
        postal_code: Set(state.postal_code.clone()),
        business_phone: Set(state.business_phone.clone()),
        mobile_phone: Set(state.mobile_phone.clone()),
        fax_phone: Set(state.fax_phone.clone()),
        employee_number: Set(state.employee_number.clone()),
        manager_id: Set(None),
        permission_level: Set("basic".into()),
        stytch_member_id: Set(Some(member_id.to_owned())),
        stytch_organization_id: Set(Some(company.stytch_organization_id.clone())),
        external_id: Set(state.external_id.clone()),
        scim_id: Set(state.scim_id.clone()),
        scim_provisioned: Set(true),
        date_added: Set(state.first_seen.unwrap_or(now)),
        scim_version: Set(state.newest),
        created_at: Set(now),
        updated_at: Set(now),
        scim_active: Set(state.active),
        scim_deactivated_at: Set(state.deactivated_at),
        groups_lost_at: Set(None),
    };
    // A savepoint, so a uniqueness race leaves the outer transaction usable for the rejection.
    let savepoint = txn.begin().await?;
    match model.insert(&savepoint).await {
        Ok(row) => {
            savepoint.commit().await?;
            Ok(Ok(row.id))
        }
        Err(error) => match unique_violation(&error) {
            Some(constraint) => {
                savepoint.rollback().await?;
                Ok(Err(constraint))
            }
            None => Err(error),
        },
    }
}

/// Writes the folded state onto an existing record; returns the names of changed fields.
async fn update_user(
    txn: &DatabaseTransaction,
    current: user::Model,
    company: &company::Model,
    member_id: &str,
    email: &str,
    state: &MemberState,
) -> Result<Result<Vec<&'static str>, String>, DbErr> {
    let mut row: user::ActiveModel = current.clone().into();
    let mut changed: Vec<&'static str> = Vec::new();
    macro_rules! put {
        ($field:ident, $value:expr) => {{
            let value = $value;
            if current.$field != value {
                row.$field = Set(value);
                changed.push(stringify!($field));
            }
        }};
    }
    macro_rules! put_some {
        ($field:ident, $value:expr) => {{
            if let Some(v) = $value.clone() {
                put!($field, Some(v));
            }
        }};
    }
    put!(email, email.to_owned());
    put!(first_name, state.first_name());
    put!(last_name, state.last_name());
    // The member's own view of its activity; the effective `active` also depends on its
    // group memberships and is recomputed by `access::refresh`.
    put!(scim_active, state.active);
    put!(scim_deactivated_at, state.deactivated_at);
    put_some!(street_address, state.street_address);
    put_some!(region, state.region);
    put_some!(postal_code, state.postal_code);
    put_some!(business_phone, state.business_phone);
    put_some!(mobile_phone, state.mobile_phone);
    put_some!(fax_phone, state.fax_phone);
    put_some!(employee_number, state.employee_number);
    put_some!(external_id, state.external_id);
    put_some!(scim_id, state.scim_id);
    if current.stytch_member_id.is_none() {
        put!(stytch_member_id, Some(member_id.to_owned()));
    }
    if current.stytch_organization_id.is_none() {
        put!(
            stytch_organization_id,
            Some(company.stytch_organization_id.clone())
        );
    }
    put!(scim_provisioned, true);
    if let Some(first) = state
        .first_seen
        .filter(|f| *f < current.date_added && current.scim_provisioned)
    {
        put!(date_added, first);
    }
    let newest: Option<DateTime<Utc>> = state.newest.max(current.scim_version);
    row.scim_version = Set(newest);
    if !changed.is_empty() {
        row.updated_at = Set(Utc::now());
    }
    let savepoint = txn.begin().await?;
    match row.update(&savepoint).await {
        Ok(_) => {
            savepoint.commit().await?;
            Ok(Ok(changed))
        }
        Err(error) => match unique_violation(&error) {
            Some(constraint) => {
                savepoint.rollback().await?;
                Ok(Err(constraint))
            }
            None => Err(error),
        },
    }
}
