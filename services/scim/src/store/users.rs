//! `directory_users`: User resources, with `userName`, `externalId` and `active` also in columns
//! of their own (indexed lookups, the per-company uniqueness of userName, case-insensitively).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement};
use serde_json::Value;
use uuid::Uuid;

use super::{text, Lock, Row, NEXT_MODIFIED, ROW};

/// A user's User resource, if it is one of the company's.
pub async fn get(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    id: Uuid,
    lock: Lock,
) -> Result<Option<Row>, DbErr> {
    let sql = format!(
        "SELECT {ROW} FROM directory_users WHERE id = $1 AND company_id = $2{}",
        lock.sql()
    );
    Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [id.into(), company_id.into()],
    ))
    .one(conn)
    .await
}

fn columns(resource: &Value) -> (String, Option<String>, bool) {
    (
        text(resource, "userName").unwrap_or_default(),
        text(resource, "externalId"),
        resource
            .get("active")
            .and_then(Value::as_bool)
            .unwrap_or(true),
    )
}

/// Stores a new user. A userName already taken in the company fails with a unique violation
/// (see [`super::conflict`]).
pub async fn insert(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    id: Uuid,
    resource: &Value,
) -> Result<Row, DbErr> {
    let (user_name, external_id, active) = columns(resource);
    let sql = format!(
        "INSERT INTO directory_users (id, company_id, user_name, external_id, active, resource)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ROW}"
    );
    let row = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [
            id.into(),
            company_id.into(),
            user_name.into(),
            external_id.into(),
            active.into(),
            resource.clone().into(),
        ],
    ))
    .one(conn)
    .await?;
    row.ok_or_else(|| DbErr::RecordNotInserted)
}

/// Replaces a user's resource, with a new version and modification time.
pub async fn update(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    id: Uuid,
    resource: &Value,
) -> Result<Row, DbErr> {
    let (user_name, external_id, active) = columns(resource);
    let sql = format!(
        "UPDATE directory_users SET user_name = $3, external_id = $4, active = $5, resource = $6,
                version = version + 1, last_modified = {NEXT_MODIFIED}
         WHERE id = $1 AND company_id = $2 RETURNING {ROW}"
    );
    let row = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [
            id.into(),
            company_id.into(),
            user_name.into(),
            external_id.into(),
            active.into(),
            resource.clone().into(),
        ],
    ))
    .one(conn)
    .await?;
    row.ok_or_else(|| DbErr::RecordNotFound(format!("user {id}")))
}

/// The groups a user is a member of, locked in id order before the user is (the order a group
/// write takes them in: its group, then its members' key-share locks), so deleting a user never
/// deadlocks with a membership change.
pub async fn lock_groups_of(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    user_id: Uuid,
) -> Result<(), DbErr> {
    conn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT g.id FROM directory_groups g
         WHERE g.company_id = $2
           AND g.id IN (SELECT group_id FROM directory_group_members WHERE user_id = $1)
         ORDER BY g.id FOR UPDATE",
        [user_id.into(), company_id.into()],
    ))
    .await?;
    Ok(())
}

/// Deletes a user (the caller holds its lock and its groups'): its memberships go with it, and
/// the groups it was in get a new version (their members changed). Returns the deletion's
/// timestamp: after the user's last modification.
pub async fn delete(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    id: Uuid,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    conn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "WITH gone AS (DELETE FROM directory_group_members WHERE user_id = $1 RETURNING group_id)
             UPDATE directory_groups SET version = version + 1, last_modified = {NEXT_MODIFIED}
             WHERE id IN (SELECT group_id FROM gone) AND company_id = $2"
        ),
        [id.into(), company_id.into()],
    ))
    .await?;
    let row = conn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "DELETE FROM directory_users WHERE id = $1 AND company_id = $2
                 RETURNING {NEXT_MODIFIED} AS at"
            ),
            [id.into(), company_id.into()],
        ))
        .await?;
    row.map(|r| r.try_get("", "at")).transpose()
}

/// Of `ids`, those that are users of the company, each locked against deletion until the
/// transaction ends (a membership about to be written keeps pointing at a user).
pub async fn existing(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<Uuid>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = conn
        .query_all(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM directory_users WHERE company_id = $1 AND id = ANY($2)
             ORDER BY id FOR KEY SHARE",
            [company_id.into(), ids.to_vec().into()],
        ))
        .await?;
    rows.iter().map(|r| r.try_get("", "id")).collect()
}

/// A group a user is in, as the user's `groups` attribute shows it.
#[derive(Debug, Clone, FromQueryResult)]
pub struct GroupRef {
    pub user_id: Uuid,
    pub group_id: Uuid,
    pub display_name: String,
}

/// The groups of each of these users.
pub async fn groups_of(
    conn: &impl ConnectionTrait,
    user_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<GroupRef>>, DbErr> {
    if user_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = GroupRef::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT m.user_id, g.id AS group_id, g.display_name
         FROM directory_group_members m JOIN directory_groups g ON g.id = m.group_id
         WHERE m.user_id = ANY($1) ORDER BY m.user_id, g.id",
        [user_ids.to_vec().into()],
    ))
    .all(conn)
    .await?;
    let mut out: HashMap<Uuid, Vec<GroupRef>> = HashMap::new();
    for row in rows {
        out.entry(row.user_id).or_default().push(row);
    }
    Ok(out)
}
