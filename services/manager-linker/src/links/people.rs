//! Who the reports and the managers are (R13): the users behind members and behind manager
//! values, each lookup one statement for a whole batch.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use uuid::Uuid;

use super::{split, Key};

/// The users behind (company, member id) pairs.
pub const REPORTS: &str = "
SELECT DISTINCT ON (k.company_id, k.member) k.company_id, k.member AS key, u.id
FROM unnest($1::uuid[], $2::text[]) AS k(company_id, member)
CROSS JOIN LATERAL (SELECT id, company_id FROM users WHERE member_key = k.member) u
WHERE u.company_id = k.company_id
ORDER BY k.company_id, k.member, u.id";

/// R13's lookup of manager values within their companies: Stytch member id, then SCIM id, then
/// external id; each key by its own index, the company checked afterwards (migration 000003).
pub const MANAGERS: &str = "
SELECT DISTINCT ON (k.company_id, k.value) k.company_id, k.value AS key, f.id
FROM unnest($1::uuid[], $2::text[]) AS k(company_id, value)
CROSS JOIN LATERAL (
    SELECT id, company_id, 0 AS rank FROM users WHERE stytch_member_id = k.value
    UNION ALL
    SELECT id, company_id, 1 FROM users WHERE scim_id = k.value
    UNION ALL
    SELECT id, company_id, 2 FROM users WHERE external_id = k.value
) f
WHERE f.company_id = k.company_id
ORDER BY k.company_id, k.value, f.rank, f.id";

async fn ids_by_key(
    conn: &impl ConnectionTrait,
    sql: &str,
    keys: &[Key],
) -> Result<HashMap<Key, Uuid>, DbErr> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let (companies, values) = split(keys);
    let rows = conn
        .query_all(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [companies.into(), values.into()],
        ))
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok((
                (row.try_get("", "company_id")?, row.try_get("", "key")?),
                row.try_get("", "id")?,
            ))
        })
        .collect()
}

/// The user of each (company, member id) pair that has one.
pub async fn reports(
    conn: &impl ConnectionTrait,
    keys: &[Key],
) -> Result<HashMap<Key, Uuid>, DbErr> {
    ids_by_key(conn, REPORTS, keys).await
}

/// The user each (company, manager value) pair names, if any (R13).
pub async fn managers(
    conn: &impl ConnectionTrait,
    keys: &[Key],
) -> Result<HashMap<Key, Uuid>, DbErr> {
    ids_by_key(conn, MANAGERS, keys).await
}
