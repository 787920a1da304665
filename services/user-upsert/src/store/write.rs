//! Writing the folded state onto a user record (R5, R7-R10). `Err(conflict)` from these
//! functions means a concurrent writer took the email first: the caller rejects the event (R3).

use chrono::Utc;
use scimsync_db::entity::{company, user};
use scimsync_db::errors::unique_violation;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Set, Statement,
    TransactionTrait,
};
use uuid::Uuid;

use crate::fold::MemberState;

const INSERT: &str = "
INSERT INTO users (id, company_id, email, first_name, last_name, active, deactivated_at,
                   street_address, region, postal_code, business_phone, mobile_phone, fax_phone,
                   employee_number, stytch_member_id, stytch_organization_id, external_id, scim_id,
                   scim_provisioned, date_added, scim_version, scim_active, scim_deactivated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, true, $19,
        $20, $6, $7)
ON CONFLICT DO NOTHING
RETURNING id";

/// A new SCIM user. The unique email index decides races: no row back means someone else
/// holds the email now.
pub async fn insert(
    txn: &DatabaseTransaction,
    company: &company::Model,
    member_id: &str,
    email: &str,
    state: &MemberState,
) -> Result<Result<Uuid, &'static str>, DbErr> {
    let row = txn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            INSERT,
            [
                Uuid::now_v7().into(),
                company.id.into(),
                email.into(),
                state.first_name().into(),
                state.last_name().into(),
                state.active.into(),
                state.deactivated_at.into(),
                state.street_address.clone().into(),
                state.region.clone().into(),
                state.postal_code.clone().into(),
                state.business_phone.clone().into(),
                state.mobile_phone.clone().into(),
                state.fax_phone.clone().into(),
                state.employee_number.clone().into(),
                member_id.into(),
                company.stytch_organization_id.clone().into(),
                state.external_id.clone().into(),
                state.scim_id.clone().into(),
                state.first_seen.unwrap_or_else(Utc::now).into(),
                state.newest.into(),
            ],
        ))
        .await?;
    match row {
        Some(row) => Ok(Ok(row.try_get::<Uuid>("", "id")?)),
        None => Ok(Err("users_email_lower")),
    }
}

/// Writes the folded state onto an existing record; returns the names of changed fields.
pub async fn update(
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
        ($($field:ident),*) => {$(
            if let Some(v) = state.$field.clone() {
                put!($field, Some(v));
            }
        )*};
    }
    put!(email, email.to_owned());
    put!(first_name, state.first_name());
    put!(last_name, state.last_name());
    // The member's own view of its activity; the effective `active` also depends on its
    // group memberships and is recomputed by `access::refresh`.
    put!(scim_active, state.active);
    put!(scim_deactivated_at, state.deactivated_at);
    put_some!(
        street_address,
        region,
        postal_code,
        business_phone,
        mobile_phone,
        fax_phone,
        employee_number,
        external_id,
        scim_id
    );
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
    let newest = state.newest.max(current.scim_version);
    if changed.is_empty() && newest == current.scim_version {
        return Ok(Ok(changed));
    }
    row.scim_version = Set(newest);
    row.updated_at = Set(Utc::now());
    if !changed.contains(&"email") {
        row.update(txn).await?;
        return Ok(Ok(changed));
    }
    // Only an email change can collide: a savepoint keeps the transaction usable to reject.
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
