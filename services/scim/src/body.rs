//! Reading a request body (RFC 7644 §3.1, §3.8): JSON sent as `application/scim+json` or
//! `application/json` (any other media type: 415), at most `scim.max_body_bytes` (413, counted
//! as it arrives, so a body that lies about its length is stopped all the same), and a JSON
//! value (400 `invalidSyntax` naming where it stops being one). Every refusal is a SCIM error.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use futures_util::StreamExt;
use scimsync_scim_proto::ScimError;
use serde_json::Value;

use crate::error::ScimFailure;
use crate::{SharedState, SCIM_JSON};

/// A request's JSON body.
pub struct ScimBody(pub Value);

fn accepted(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case(SCIM_JSON) || essence.eq_ignore_ascii_case("application/json")
}

fn too_large(limit: usize) -> ScimFailure {
    ScimFailure::new(
        413,
        None,
        format!("the request body is larger than {limit} bytes"),
    )
}

impl FromRequest<SharedState> for ScimBody {
    type Rejection = ScimFailure;

    async fn from_request(request: Request, state: &SharedState) -> Result<Self, ScimFailure> {
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !accepted(content_type) {
            let shown = if content_type.is_empty() {
                "none".to_owned()
            } else {
                format!("{content_type:?}")
            };
            return Err(ScimFailure::new(
                415,
                None,
                format!(
                    "the body must be {SCIM_JSON} or application/json; its Content-Type is {shown}"
                ),
            ));
        }
        let limit = state.settings.max_body_bytes;
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large(limit));
        }
        let bytes = read(request.into_body(), limit).await?;
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")))?;
        Ok(Self(value))
    }
}

async fn read(body: Body, limit: usize) -> Result<Vec<u8>, ScimFailure> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            ScimFailure::from(ScimError::invalid_syntax(
                "the request body could not be read to its end",
            ))
        })?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::accepted;

    #[test]
    fn both_json_media_types_are_accepted_with_parameters_and_in_any_case() {
        assert!(accepted("application/scim+json"));
        assert!(accepted("Application/SCIM+JSON; charset=utf-8"));
        assert!(accepted("application/json;charset=UTF-8"));
        assert!(!accepted("text/plain"));
        assert!(!accepted("application/x-www-form-urlencoded"));
        assert!(!accepted(""));
    }
}
