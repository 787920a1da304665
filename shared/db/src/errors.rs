//! Classifying database errors: "bad input" is a uniqueness conflict ([`unique_violation`]) or
//! a value PostgreSQL cannot hold ([`bad_value`]); everything else is "try again later"
//! (connection lost, pool exhausted, failover).

use scimsync_platform::amqp::Outcome;
use scimsync_schema::DeadLetterReason;
use sea_orm::{sqlx, DbErr, RuntimeErr, SqlErr};

/// The name of the violated unique constraint or index, if that is what this error is.
pub fn unique_violation(error: &DbErr) -> Option<String> {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(detail)) => Some(detail),
        _ => None,
    }
}

/// Whether PostgreSQL refused a value itself: SQLSTATE class 22, data exception (a string
/// holding U+0000, an invalid escape in JSON, a number out of range), or 54000, program limit
/// exceeded (a value too long for an index entry). The same statement with the same values
/// fails again, so retrying it only delays its dead letter.
pub fn bad_value(error: &DbErr) -> bool {
    sqlstate(error).is_some_and(|code| code.starts_with("22") || code == "54000")
}

/// What a worker does with a message whose handling hit this database error: a value the
/// database refuses goes to the dead-letter queue now (reason `unstorable_value`), where an
/// operator sees it; anything else is tried again later.
pub fn outcome(error: &DbErr, event_id: &str) -> Outcome {
    if bad_value(error) {
        tracing::warn!(%error, %event_id, "the database refused a value of the event; dead-lettering");
        return Outcome::dead_letter(
            DeadLetterReason::UnstorableValue,
            format!("the database refused a value of the event: {error}"),
        );
    }
    tracing::warn!(error = ?error, %event_id, "database error; will retry");
    Outcome::Retry {
        reason: format!("database: {error}"),
    }
}

fn sqlstate(error: &DbErr) -> Option<String> {
    match error {
        DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(db)))
        | DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Database(db))) => {
            db.code().map(|code| code.into_owned())
        }
        _ => None,
    }
}

/// Whether the database could not be reached, refused a connection or dropped one: nothing is
/// wrong with the request, which can be made again as it is once the database is back. The
/// SQLSTATE classes are PostgreSQL's: 08 connection exception, 53 insufficient resources (too
/// many connections), 57P01-57P03 shutting down or starting up.
pub fn unavailable(error: &DbErr) -> bool {
    let sqlx = match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    match sqlx {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(_) => sqlstate(error).is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("53")
                || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

    use super::unavailable;

    #[test]
    fn only_a_database_out_of_reach_is_unavailable() {
        let io = || std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let cases = [
            (DbErr::ConnectionAcquire(ConnAcquireErr::Timeout), true),
            (
                DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
                true,
            ),
            (DbErr::Query(RuntimeErr::SqlxError(io().into())), true),
            (
                DbErr::Exec(RuntimeErr::SqlxError(sea_orm::sqlx::Error::PoolTimedOut)),
                true,
            ),
            (DbErr::Query(RuntimeErr::Internal("bad SQL".into())), false),
            (DbErr::RecordNotFound("user".into()), false),
            (DbErr::Custom("a bug".into()), false),
        ];
        for (error, expected) in cases {
            assert_eq!(unavailable(&error), expected, "{error:?}");
        }
    }
}
