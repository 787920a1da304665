//! Classifying database errors: the only one a handler treats as "bad input" is a uniqueness
//! conflict; everything else is "try again later" (connection lost, pool exhausted, failover).

use sea_orm::{sqlx, DbErr, RuntimeErr, SqlErr};

/// The name of the violated unique constraint or index, if that is what this error is.
pub fn unique_violation(error: &DbErr) -> Option<String> {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(detail)) => Some(detail),
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
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
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
