//! `scimctl event-log prune`: the SCIM event log is an audit trail, about three rows per member
//! event, kept until an operator's retention policy says otherwise. Nothing reads it to decide
//! anything (user-upsert's idempotency rests on `member_events`), so old rows can go; a very
//! old event replayed later is then simply logged again.

use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use scimsync_platform::Settings;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use serde_json::json;

use scimsync_db::audit::Change;
use scimsync_dlq::filter::parse_age;

use crate::audit::Operator;

/// The log of the last day is what an operator reads during an incident: never pruned.
pub const MIN_AGE: Duration = Duration::from_secs(86_400);

#[derive(Subcommand)]
pub enum Command {
    /// Delete the rows received longer ago than --older-than (at least 1d), in batches.
    Prune {
        /// How old a row must be to go: 90d, 12w, ...
        #[arg(long, value_parser = parse_retention)]
        older_than: Duration,
        /// Count the rows that would go; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Rows per delete, each its own transaction, so the workers' inserts never wait long.
        #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
        batch: u64,
    },
}

fn parse_retention(text: &str) -> Result<Duration, String> {
    let age = parse_age(text)?;
    if age < MIN_AGE {
        return Err(format!(
            "{text:?}: the last day of the log is always kept; use 1d or more"
        ));
    }
    Ok(age)
}

pub async fn run(settings: &Settings, operator: &Operator, command: Command) -> anyhow::Result<()> {
    let Command::Prune {
        older_than,
        dry_run,
        batch,
    } = command;
    let db = scimsync_db::connect(&settings.database).await?;
    let cutoff = Utc::now() - chrono::Duration::from_std(older_than)?;
    let total = count(&db, cutoff).await?;
    if dry_run {
        println!("{total} event log rows were received before {cutoff} (dry run: nothing deleted)");
        return Ok(());
    }
    let bar = crate::progress_bar(total, "{bar:40} {pos}/{len} rows deleted  ({eta})");
    let n = prune(&db, cutoff, batch, |so_far| bar.set_position(so_far)).await?;
    bar.finish_and_clear();
    println!("deleted {n} event log rows received before {cutoff}");
    let change = Change {
        action: "event_log.prune",
        company_id: None,
        target: Some("scim_event_log".to_owned()),
        before: Some(json!({ "received_before": cutoff, "rows": total })),
        after: Some(json!({ "deleted": n })),
    };
    operator.record(&db, change).await?;
    Ok(())
}

/// How many rows were received before `cutoff`.
pub async fn count(db: &impl ConnectionTrait, cutoff: DateTime<Utc>) -> Result<u64, DbErr> {
    let row = db
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM scim_event_log WHERE received_at < $1",
            [cutoff.into()],
        ))
        .await?;
    let n: i64 = row.map(|r| r.try_get("", "n")).transpose()?.unwrap_or(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Deletes the rows received before `cutoff`, `batch` at a time, walking the table once in id
/// order (a replayed event logged late has an old time but a new id, so time alone is no
/// bookmark). Calls `progress` after each batch; returns how many rows went.
pub async fn prune(
    db: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
    batch: u64,
    mut progress: impl FnMut(u64),
) -> Result<u64, DbErr> {
    let mut after = 0_i64;
    let mut deleted = 0_u64;
    loop {
        let rows = db
            .query_all(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "DELETE FROM scim_event_log WHERE id IN (
                     SELECT id FROM scim_event_log
                     WHERE id > $1 AND received_at < $2
                     ORDER BY id LIMIT $3)
                 RETURNING id",
                [
                    after.into(),
                    cutoff.into(),
                    i64::try_from(batch).unwrap_or(i64::MAX).into(),
                ],
            ))
            .await?;
        if rows.is_empty() {
            return Ok(deleted);
        }
        for row in &rows {
            after = after.max(row.try_get::<i64>("", "id")?);
        }
        deleted += rows.len() as u64;
        progress(deleted);
    }
}

#[cfg(test)]
mod tests {
    use super::parse_retention;

    #[test]
    fn the_last_day_is_always_kept() {
        assert!(parse_retention("23h").is_err());
        assert!(parse_retention("90d").is_ok());
        assert!(parse_retention("1d").is_ok());
    }
}
