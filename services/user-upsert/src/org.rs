//! Org schema attachments (R6): Job Title, Country, City, Department, Division.
//!
//! Entries are created under the company on first sight with `ON CONFLICT DO NOTHING` and then
//! read back, so two workers creating "Platform" at once end with one entry: the second insert
//! waits on the first one's unique index entry and then finds it.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Statement};
use uuid::Uuid;

use crate::fold::MemberState;

/// Attaches every org value the member has; returns how many attachments changed.
pub async fn attach(
    txn: &DatabaseTransaction,
    company_id: Uuid,
    user_id: Uuid,
    state: &MemberState,
) -> Result<u64, DbErr> {
    let values = [
        ("job_title", &state.job_title),
        ("country", &state.country),
        ("city", &state.city),
        ("department", &state.department),
        ("division", &state.division),
    ];
    let mut changed = 0;
    for (kind, value) in values {
        let Some(value) = value else { continue };
        txn.execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO org_schema_entries (id, company_id, kind, value) VALUES ($1, $2, $3, $4)
             ON CONFLICT (company_id, kind, value) DO NOTHING",
            [
                Uuid::now_v7().into(),
                company_id.into(),
                kind.into(),
                value.clone().into(),
            ],
        ))
        .await?;
        let result = txn
            .execute(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO user_org_attributes (user_id, kind, entry_id)
                 SELECT $1, $2, id FROM org_schema_entries WHERE company_id = $3 AND kind = $2 AND value = $4
                 ON CONFLICT (user_id, kind) DO UPDATE SET entry_id = EXCLUDED.entry_id
                 WHERE user_org_attributes.entry_id IS DISTINCT FROM EXCLUDED.entry_id",
                [user_id.into(), kind.into(), company_id.into(), value.clone().into()],
            ))
            .await?;
        changed += result.rows_affected();
    }
    Ok(changed)
}
