//! Org schema attachments (R6): Job Title, Country, City, Department, Division.
//!
//! Entries are created under the company on first sight with `ON CONFLICT DO NOTHING`, then
//! attached by a second statement. The second statement has a fresh snapshot, so when two
//! workers create "Platform" at once, the one that waited on the other's insert still finds the
//! entry: one entry, both users attached.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Statement};
use uuid::Uuid;

use crate::history::fold::MemberState;

const CREATE_ENTRIES: &str = "
INSERT INTO org_schema_entries (id, company_id, kind, value)
SELECT gen_random_uuid(), $1, kind, value FROM unnest($2::text[], $3::text[]) AS w(kind, value)
ON CONFLICT (company_id, kind, value) DO NOTHING";

/// One unique-index probe per value: a join let the planner scan all of a new company's entries
/// for every user, and so does a plain LATERAL, which the planner pulls up into the same join
/// (`OFFSET 0` keeps it a per-value probe). One row per (company, user, kind, value): one user's
/// values, or a whole batch's new users' at once.
pub const ATTACH: &str = "
INSERT INTO user_org_attributes (user_id, kind, entry_id)
SELECT w.user_id, w.kind, e.id
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]) AS w(company_id, user_id, kind, value)
CROSS JOIN LATERAL (
    SELECT id FROM org_schema_entries
    WHERE company_id = w.company_id AND kind = w.kind AND value = w.value
    OFFSET 0
) e
ON CONFLICT (user_id, kind) DO UPDATE SET entry_id = EXCLUDED.entry_id
WHERE user_org_attributes.entry_id IS DISTINCT FROM EXCLUDED.entry_id";

/// One org value: its kind (`job_title`, `country`, ...) and the value.
pub type Value = (&'static str, String);

/// The entries known to exist, per company (created ahead of a batch).
pub type Created = BTreeMap<Uuid, BTreeSet<Value>>;

/// The org values a member state carries.
pub fn values(state: &MemberState) -> Vec<Value> {
    [
        ("job_title", &state.job_title),
        ("country", &state.country),
        ("city", &state.city),
        ("department", &state.department),
        ("division", &state.division),
    ]
    .into_iter()
    .filter_map(|(kind, value)| value.clone().map(|v| (kind, v)))
    .collect()
}

/// Creates the company's entries for these values ahead of a batch, in their own short
/// statement and in sorted order: inside batch transactions, two batches creating the same new
/// values in different orders would deadlock. An entry is a catalogue value, harmless to have
/// even if the event that brought it is then rejected.
pub async fn create_entries(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    values: &BTreeSet<Value>,
) -> Result<(), DbErr> {
    if values.is_empty() {
        return Ok(());
    }
    let (kinds, values): (Vec<String>, Vec<String>) = values
        .iter()
        .map(|(kind, value)| ((*kind).to_owned(), value.clone()))
        .unzip();
    conn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        CREATE_ENTRIES,
        [company_id.into(), kinds.into(), values.into()],
    ))
    .await?;
    Ok(())
}

/// One user's org values to attach.
#[derive(Debug)]
pub struct Attachment {
    pub company_id: Uuid,
    pub user_id: Uuid,
    pub values: Vec<Value>,
}

/// Attaches every org value the member has, creating the entries `created` does not list for
/// the company; returns how many attachments changed.
pub async fn attach(
    txn: &DatabaseTransaction,
    company_id: Uuid,
    user_id: Uuid,
    state: &MemberState,
    created: &Created,
) -> Result<u64, DbErr> {
    let one = Attachment {
        company_id,
        user_id,
        values: values(state),
    };
    attach_all(txn, std::slice::from_ref(&one), created).await
}

/// Attaches several users' values in one statement (each user at most once), creating first
/// the entries `created` does not list, in sorted order per company.
pub async fn attach_all(
    txn: &DatabaseTransaction,
    attachments: &[Attachment],
    created: &Created,
) -> Result<u64, DbErr> {
    let mut missing: BTreeMap<Uuid, BTreeSet<Value>> = BTreeMap::new();
    let (mut companies, mut users, mut kinds, mut values) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for a in attachments {
        let known = created.get(&a.company_id);
        for value in &a.values {
            if !known.is_some_and(|known| known.contains(value)) {
                missing
                    .entry(a.company_id)
                    .or_default()
                    .insert(value.clone());
            }
            companies.push(a.company_id);
            users.push(a.user_id);
            kinds.push(value.0.to_owned());
            values.push(value.1.clone());
        }
    }
    if users.is_empty() {
        return Ok(0);
    }
    for (company_id, values) in &missing {
        create_entries(txn, *company_id, values).await?;
    }
    let attached = txn
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            ATTACH,
            [companies.into(), users.into(), kinds.into(), values.into()],
        ))
        .await?;
    Ok(attached.rows_affected())
}

/// The attachments of the records a batch creates, made together before its commit: one
/// statement for the batch instead of one per new user. No later event of the batch writes
/// them first: a record the batch creates carries its member id and is provisioned by SCIM, so
/// only that member's events match it (R1: the external id matches only records without a
/// member id, the email only records SCIM did not provision), and a member's second event goes
/// to the next batch.
#[derive(Debug, Default)]
pub struct Later(Vec<Attachment>);

impl Later {
    pub fn push(&mut self, company_id: Uuid, user_id: Uuid, state: &MemberState) {
        let values = values(state);
        if !values.is_empty() {
            self.0.push(Attachment {
                company_id,
                user_id,
                values,
            });
        }
    }

    /// Makes all the deferred attachments.
    pub async fn flush(self, txn: &DatabaseTransaction, created: &Created) -> Result<u64, DbErr> {
        attach_all(txn, &self.0, created).await
    }
}
