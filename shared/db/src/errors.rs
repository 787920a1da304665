//! Classifying database errors: the only one a handler treats as "bad input" is a uniqueness
//! conflict; everything else is "try again later" (connection lost, pool exhausted, failover).

use sea_orm::{DbErr, SqlErr};

/// The name of the violated unique constraint or index, if that is what this error is.
pub fn unique_violation(error: &DbErr) -> Option<String> {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(detail)) => Some(detail),
        _ => None,
    }
}
