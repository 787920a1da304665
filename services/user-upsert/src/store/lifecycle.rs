//! A user record's lifecycle: created from the folded state, then updated, deactivated and
//! reactivated with it (R5, R7-R10). `Err(conflict)` from these functions means a concurrent
//! writer took the email first: the caller rejects the event (R3).

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use scimsync_db::entity::{company, user};
use scimsync_db::errors::unique_violation;
use scimsync_db::json_time;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Set, Statement,
    TransactionTrait,
};
use uuid::Uuid;

use scimsync_schema::change::stytch_member_id;

use crate::history::fold::MemberState;

const INSERT_ALL: &str = "
INSERT INTO users (id, company_id, email, first_name, last_name, active, deactivated_at,
                   street_address, region, postal_code, business_phone, mobile_phone, fax_phone,
                   employee_number, stytch_member_id, stytch_organization_id, external_id, scim_id,
                   scim_provisioned, date_added, scim_version, scim_active, scim_deactivated_at)
SELECT id, company_id, email, first_name, last_name, active, deactivated_at,
       street_address, region, postal_code, business_phone, mobile_phone, fax_phone,
       employee_number, stytch_member_id, stytch_organization_id, external_id, scim_id,
       true, date_added, scim_version, active, deactivated_at
FROM jsonb_to_recordset($1::text::jsonb) AS r(
    id uuid, company_id uuid, email text, first_name text, last_name text, active boolean,
    deactivated_at timestamptz, street_address text, region text, postal_code text,
    business_phone text, mobile_phone text, fax_phone text, employee_number text,
    stytch_member_id text, stytch_organization_id text, external_id text, scim_id text,
    date_added timestamptz, scim_version timestamptz)
ON CONFLICT DO NOTHING
RETURNING id";

/// A new SCIM user's record, with its id chosen ahead: one row of [`INSERT_ALL`].
#[derive(Debug, serde::Serialize)]
pub struct NewUser {
    id: Uuid,
    company_id: Uuid,
    email: String,
    first_name: String,
    last_name: String,
    active: bool,
    deactivated_at: Option<String>,
    street_address: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    business_phone: Option<String>,
    mobile_phone: Option<String>,
    fax_phone: Option<String>,
    employee_number: Option<String>,
    /// `None` for a member of the SCIM door, known by its SCIM id instead.
    stytch_member_id: Option<String>,
    stytch_organization_id: Option<String>,
    external_id: Option<String>,
    scim_id: Option<String>,
    date_added: String,
    scim_version: Option<String>,
}

impl NewUser {
    pub fn new(
        company: &company::Model,
        member_id: &str,
        email: &str,
        state: &MemberState,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            company_id: company.id,
            email: email.to_owned(),
            first_name: state.first_name(),
            last_name: state.last_name(),
            active: state.active,
            deactivated_at: state.deactivated_at.map(json_time),
            street_address: state.street_address.clone(),
            region: state.region.clone(),
            postal_code: state.postal_code.clone(),
            business_phone: state.business_phone.clone(),
            mobile_phone: state.mobile_phone.clone(),
            fax_phone: state.fax_phone.clone(),
            employee_number: state.employee_number.clone(),
            stytch_member_id: stytch_member_id(member_id).map(str::to_owned),
            stytch_organization_id: company.stytch_organization_id.clone(),
            external_id: state.external_id.clone(),
            scim_id: state.scim_id.clone(),
            date_added: json_time(state.first_seen.unwrap_or_else(Utc::now)),
            scim_version: state.newest.map(json_time),
        }
    }
}

/// A new SCIM user. The unique email index decides races: no row back means someone else
/// holds the email now.
pub async fn insert(
    txn: &DatabaseTransaction,
    company: &company::Model,
    member_id: &str,
    email: &str,
    state: &MemberState,
) -> Result<Result<Uuid, &'static str>, DbErr> {
    let new = NewUser::new(company, member_id, email, state);
    let id = new.id;
    if insert_all(txn, vec![new]).await?.contains(&id) {
        Ok(Ok(id))
    } else {
        Ok(Err("users_email_lower"))
    }
}

/// Inserts new users (each with a member id of its own), in statements of at most
/// [`scimsync_db::ROWS_PER_STATEMENT`] rows; returns the ids inserted. A missing id means
/// another writer holds that user's email now.
pub async fn insert_all(
    txn: &DatabaseTransaction,
    rows: Vec<NewUser>,
) -> Result<HashSet<Uuid>, DbErr> {
    let mut inserted = HashSet::with_capacity(rows.len());
    for chunk in rows.chunks(scimsync_db::ROWS_PER_STATEMENT) {
        let back = txn
            .query_all(Statement::from_sql_and_values(
                DbBackend::Postgres,
                INSERT_ALL,
                [scimsync_db::json_rows(chunk)?],
            ))
            .await?;
        for row in back {
            inserted.insert(row.try_get::<Uuid>("", "id")?);
        }
    }
    Ok(inserted)
}

/// The records a batch creates, inserted together before its commit (see `org::Later` for why
/// no later event of the batch matches them), and the emails they take: R3 compares a later
/// event's email with them as the unique index would.
#[derive(Debug, Default)]
pub struct Later {
    rows: Vec<NewUser>,
    /// Each email's record and that record's company.
    emails: HashMap<String, (Uuid, Uuid)>,
}

impl Later {
    /// Holds a new record back; returns its id.
    pub fn push(
        &mut self,
        company: &company::Model,
        member_id: &str,
        email: &str,
        state: &MemberState,
    ) -> Uuid {
        let new = NewUser::new(company, member_id, email, state);
        let id = new.id;
        self.rows.push(new);
        self.emails.insert(email.to_lowercase(), (id, company.id));
        id
    }

    /// The held-back record that takes this email, if any, and its company.
    pub fn owner(&self, email: &str) -> Option<(Uuid, Uuid)> {
        self.emails.get(&email.to_lowercase()).copied()
    }

    /// Inserts the held-back records; returns the ids of those another writer's email took
    /// meanwhile (nothing else can stop them: the batch holds their members' locks).
    pub async fn flush(self, txn: &DatabaseTransaction) -> Result<HashSet<Uuid>, DbErr> {
        let mut lost: HashSet<Uuid> = self.rows.iter().map(|r| r.id).collect();
        if lost.is_empty() {
            return Ok(lost);
        }
        for id in insert_all(txn, self.rows).await? {
            lost.remove(&id);
        }
        Ok(lost)
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
    if let (None, Some(stytch)) = (&current.stytch_member_id, stytch_member_id(member_id)) {
        put!(stytch_member_id, Some(stytch.to_owned()));
    }
    if current.stytch_organization_id.is_none() && company.stytch_organization_id.is_some() {
        put!(
            stytch_organization_id,
            company.stytch_organization_id.clone()
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
