//! Keyset pagination: `limit` (1-500, default 50) and an opaque `cursor` from the last page.

use scimsync_platform::http::ApiError;

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 500;

pub fn limit(requested: Option<u64>) -> Result<u64, ApiError> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_LIMIT}, got {n}"),
        )),
    }
}

/// Parses a cursor handed out earlier; anything else is a 400, never a silent first page.
pub fn cursor<T: std::str::FromStr>(raw: Option<&str>) -> Result<Option<T>, ApiError> {
    match raw.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            ApiError::bad_request("invalid_cursor", "cursor is not one this API handed out")
        }),
    }
}

/// A query built from optional filters: each `and` appends a clause whose `?` becomes the next
/// bind parameter, so values never end up in the SQL text.
pub struct Filtered {
    sql: String,
    values: Vec<sea_orm::Value>,
}

impl Filtered {
    /// `base` must end in a `WHERE` clause using `$1` for `first`.
    pub fn new(base: &str, first: impl Into<sea_orm::Value>) -> Self {
        Self {
            sql: base.to_owned(),
            values: vec![first.into()],
        }
    }

    pub fn and(&mut self, clause: &str, value: impl Into<sea_orm::Value>) -> &mut Self {
        self.and_all(clause, [value.into()])
    }

    /// [`Filtered::and`] for a clause with several `?`, bound in order to `values`.
    pub fn and_all(
        &mut self,
        clause: &str,
        values: impl IntoIterator<Item = sea_orm::Value>,
    ) -> &mut Self {
        let mut clause = clause.to_owned();
        for value in values {
            self.values.push(value);
            clause = clause.replacen('?', &format!("${}", self.values.len()), 1);
        }
        self.sql.push_str(&clause);
        self
    }

    /// Orders and fetches one row more than a page, to know whether another page follows.
    pub fn page_statement(mut self, order_by: &str, limit: u64) -> sea_orm::Statement {
        self.sql.push_str(&format!(" ORDER BY {order_by}"));
        self.and(
            " LIMIT ?",
            i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1),
        );
        sea_orm::Statement::from_sql_and_values(sea_orm::DbBackend::Postgres, self.sql, self.values)
    }
}

/// Cuts the extra row fetched by [`Filtered::page_statement`] and returns the cursor of the
/// next page, if there is one.
pub fn split_page<T>(
    mut rows: Vec<T>,
    limit: u64,
    cursor_of: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        let next = rows.last().map(cursor_of);
        (rows, next)
    } else {
        (rows, None)
    }
}
