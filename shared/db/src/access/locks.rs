//! The advisory locks that serialise the writes feeding activity and level: a concern's own
//! member locks, group locks and the member locks every worker shares (lock order in the
//! parent module's documentation).

use std::collections::BTreeSet;

use scimsync_schema::Concern;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use uuid::Uuid;

/// Serialises the writes that feed these members' activity and level (their user records and
/// [`super::refresh`]) across every worker, until the transaction ends. Take it after the concern's
/// own lock ([`lock_concern`]) and the reads, right before the first write to a user record or
/// the refresh: whichever transaction takes it last refreshes with every other worker's inputs
/// committed, and the workers wait on each other only for that short tail. A transaction that
/// writes only inputs, for members that have no user record yet, may leave it out and take it
/// after its commit instead, to refresh any record that appeared meanwhile (group-resolver's
/// second look); one that writes no input and no record needs none (a manager link left
/// pending).
///
/// A member is its company and its member id (SPEC §7): the same id in another company is
/// another member, with a lock of its own. Locks are taken in sorted order (sorted here, kept by
/// `WITH ORDINALITY`) so two transactions never deadlock on them; one statement however many
/// members.
pub async fn lock_members(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    member_ids: &[String],
) -> Result<(), DbErr> {
    let keys: BTreeSet<String> = member_ids
        .iter()
        .map(|m| member_key(company_id, m))
        .collect();
    lock_sorted(conn, "pg_advisory_xact_lock", keys.into_iter().collect()).await
}

/// [`lock_members`] for members of several companies, in one statement.
pub async fn lock_members_of(
    conn: &impl ConnectionTrait,
    members: &[(Uuid, String)],
) -> Result<(), DbErr> {
    let keys: BTreeSet<String> = members
        .iter()
        .map(|(company_id, m)| member_key(*company_id, m))
        .collect();
    lock_sorted(conn, "pg_advisory_xact_lock", keys.into_iter().collect()).await
}

fn member_key(company_id: Uuid, member_id: &str) -> String {
    format!("member:{company_id}:{member_id}")
}

/// Serialises one concern's work on these members of a company (its own rows: a member's group
/// lists, its manager link) across that concern's replicas and batches, until the transaction
/// ends. Taken first, before [`lock_members`]; the three workers read the same stream at the
/// same moment, and each holds only its own concern's lock while it reads.
pub async fn lock_concern(
    conn: &impl ConnectionTrait,
    concern: Concern,
    company_id: Uuid,
    member_ids: &[String],
) -> Result<(), DbErr> {
    let members: Vec<(Uuid, String)> = member_ids.iter().map(|m| (company_id, m.clone())).collect();
    lock_concern_of(conn, concern, &members).await
}

/// [`lock_concern`] for members of several companies, in one statement.
pub async fn lock_concern_of(
    conn: &impl ConnectionTrait,
    concern: Concern,
    members: &[(Uuid, String)],
) -> Result<(), DbErr> {
    let sorted: BTreeSet<String> = members
        .iter()
        .map(|(company_id, m)| format!("{concern}:{company_id}:{m}"))
        .collect();
    lock_sorted(conn, "pg_advisory_xact_lock", sorted.into_iter().collect()).await
}

/// [`lock_concern`] for Stytch member ids whatever their company: user-upsert's lock on a
/// member's stored events. A Stytch member id is unique within the Stytch project, and a Stytch
/// DELETE names no organisation: it is attributed to the companies whose events hold the id,
/// which needs every company's events for that id kept in order with it. Nothing is read or
/// written across companies under this lock; only the order of the work is shared.
pub async fn lock_stytch_members(
    conn: &impl ConnectionTrait,
    concern: Concern,
    member_ids: &[String],
) -> Result<(), DbErr> {
    let sorted: BTreeSet<String> = member_ids
        .iter()
        .map(|m| format!("{concern}:stytch:{m}"))
        .collect();
    lock_sorted(conn, "pg_advisory_xact_lock", sorted.into_iter().collect()).await
}

const LOCK_SORTED: &str = "
SELECT count({lock}(hashtextextended(k.key, 0)))
FROM (SELECT key FROM unnest($1::text[]) WITH ORDINALITY AS u(key, n) ORDER BY n OFFSET 0) k";

async fn lock_sorted(
    conn: &impl ConnectionTrait,
    function: &str,
    keys: Vec<String>,
) -> Result<(), DbErr> {
    if keys.is_empty() {
        return Ok(());
    }
    let sql = LOCK_SORTED.replace("{lock}", function);
    conn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [keys.into()],
    ))
    .await
    .map(drop)
}

fn group_key(company_id: Uuid, group_id: &str) -> String {
    format!("group:{company_id}:{group_id}")
}

/// Taken (shared) by every transaction that writes memberships of these groups, before it
/// touches their rows; a group-level change (rename, deletion, new custom level) takes the same
/// lock exclusively ([`lock_group`]). So a membership written while a group changes is either
/// committed before the change (and then seen by its member refresh) or computed after it.
pub async fn lock_groups_shared(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    group_ids: &[String],
) -> Result<(), DbErr> {
    let sorted: BTreeSet<String> = group_ids.iter().map(|g| group_key(company_id, g)).collect();
    lock_sorted(
        conn,
        "pg_advisory_xact_lock_shared",
        sorted.into_iter().collect(),
    )
    .await
}

/// The exclusive side of [`lock_groups_shared`], for group-level changes.
pub async fn lock_group(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    group_id: &str,
) -> Result<(), DbErr> {
    conn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        [group_key(company_id, group_id).into()],
    ))
    .await?;
    Ok(())
}
