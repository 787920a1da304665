//! What a value written through the admin API may hold: the bounds ingest applies to an event's
//! strings (`scimsync_schema::limits`, `scimsync_schema::company`), checked before the database
//! sees the value, so a refusal names its field and PostgreSQL's own error never answers.

use scimsync_platform::http::ApiError;
use scimsync_schema::limits::{unstorable_text, MAX_KEY_BYTES};

/// Refuses a value PostgreSQL cannot store (the NUL character), naming the field.
pub fn storable(field: &'static str, value: &str) -> Result<(), ApiError> {
    match unstorable_text(value) {
        None => Ok(()),
        Some(what) => Err(ApiError::bad_request(
            "invalid_value",
            format!("{field} holds {what}, which cannot be stored"),
        )
        .with_field(Some(field))),
    }
}

/// A text field of a user, trimmed: at most [`MAX_KEY_BYTES`] bytes, the bound ingest applies
/// to an identifier or an org value, and storable.
pub fn text(field: &'static str, value: String) -> Result<String, ApiError> {
    let value = value.trim();
    if value.len() > MAX_KEY_BYTES {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!(
                "{field} is {} bytes long; at most {MAX_KEY_BYTES} are accepted",
                value.len()
            ),
        )
        .with_field(Some(field)));
    }
    storable(field, value)?;
    Ok(value.to_owned())
}
