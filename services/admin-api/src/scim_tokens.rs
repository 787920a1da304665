//! A company's SCIM bearer tokens (SPEC §7): create (the secret is shown once, in this answer
//! only), list (a short prefix, never the secret) and revoke (at once, on every scim replica).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use scimsync_db::scim_tokens::{self, CreateError, Listed};
use scimsync_platform::http::{ApiError, JsonBody, PathParams};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use sea_orm::TransactionTrait;

use crate::audit::By;
use crate::auth::Actor;
use crate::failure::database;
use crate::{companies, fields, SharedState};

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for (`Entra production`), at most 256 characters.
    #[serde(default)]
    pub label: Option<String>,
}

/// A token just created. `token` is shown here once and stored nowhere: copy it into the
/// identity provider's "Secret Token" now.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    pub id: Uuid,
    pub token: String,
    pub label: String,
    /// The first characters of the token, as listings show it.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: Uuid,
    pub label: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    /// Recorded at most once a minute.
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<Listed> for TokenView {
    fn from(t: Listed) -> Self {
        Self {
            id: t.id,
            label: t.label,
            prefix: t.prefix,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// Creates a token and records who did (by its id, label and prefix: never the secret).
pub async fn create_token(
    state: &SharedState,
    by: &By,
    company_id: Uuid,
    label: Option<&str>,
) -> Result<CreatedToken, ApiError> {
    if let Some(label) = label {
        fields::storable("label", label)?;
    }
    companies::find(state, company_id).await?;
    let txn = state.db.begin().await.map_err(database)?;
    let created = match scim_tokens::create_recorded(&txn, by.who(), company_id, label).await {
        Ok(created) => created,
        Err(error @ CreateError::Label) => {
            return Err(
                ApiError::bad_request("invalid_field", error.to_string()).with_field(Some("label"))
            )
        }
        Err(error @ CreateError::TooMany) => {
            return Err(ApiError::conflict("too_many_tokens", error.to_string()))
        }
        Err(CreateError::NoCompany) => return Err(ApiError::not_found("company")),
        Err(CreateError::Database(error)) => return Err(database(error)),
    };
    txn.commit().await.map_err(database)?;
    Ok(CreatedToken {
        id: created.id,
        token: created.token,
        label: created.label,
        prefix: created.prefix,
        created_at: created.created_at,
    })
}

/// Revokes a token at once and records who did; false if no such active token.
pub async fn revoke_token(
    state: &SharedState,
    by: &By,
    company_id: Uuid,
    token_id: Uuid,
) -> Result<bool, ApiError> {
    let txn = state.db.begin().await.map_err(database)?;
    if !scim_tokens::revoke_recorded(&txn, by.who(), company_id, token_id)
        .await
        .map_err(database)?
    {
        return Ok(false);
    }
    txn.commit().await.map_err(database)?;
    Ok(true)
}

/// Creates a SCIM bearer token for the company.
#[utoipa::path(post, operation_id = "create_scim_token", path = "/api/v1/companies/{company_id}/scim/tokens", tag = "scim",
    params(("company_id" = Uuid, Path)), request_body(content = NewToken, description = "optional"),
    responses((status = 201, body = CreatedToken), (status = 400, description = "invalid field"),
              (status = 404, description = "no such company"),
              (status = 409, description = "the company already has the most active tokens allowed")))]
pub async fn create(
    State(state): State<SharedState>,
    Extension(actor): Extension<Actor>,
    PathParams(company_id): PathParams<Uuid>,
    request: axum::extract::Request,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    // The body is optional: a POST without one creates an unlabelled token.
    let headers = request.headers();
    let no_body = !headers.contains_key(axum::http::header::CONTENT_TYPE)
        && headers
            .get(axum::http::header::CONTENT_LENGTH)
            .is_none_or(|l| l == "0");
    let input = if no_body {
        NewToken::default()
    } else {
        use axum::extract::FromRequest;
        let JsonBody(input) = JsonBody::<NewToken>::from_request(request, &state).await?;
        input
    };
    let created = create_token(&state, &By::api(actor), company_id, input.label.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The company's SCIM tokens, newest first, revoked ones included.
#[utoipa::path(get, operation_id = "list_scim_tokens", path = "/api/v1/companies/{company_id}/scim/tokens", tag = "scim",
    params(("company_id" = Uuid, Path)),
    responses((status = 200, body = TokenList), (status = 404, description = "no such company")))]
pub async fn list(
    State(state): State<SharedState>,
    PathParams(company_id): PathParams<Uuid>,
) -> Result<Json<TokenList>, ApiError> {
    companies::find(&state, company_id).await?;
    let tokens = scim_tokens::list(&state.db, company_id)
        .await
        .map_err(database)?;
    Ok(Json(TokenList {
        tokens: tokens.into_iter().map(Into::into).collect(),
    }))
}

/// Revokes a token at once.
#[utoipa::path(delete, operation_id = "revoke_scim_token", path = "/api/v1/companies/{company_id}/scim/tokens/{token_id}", tag = "scim",
    params(("company_id" = Uuid, Path), ("token_id" = Uuid, Path)),
    responses((status = 204, description = "revoked"),
              (status = 404, description = "no such active token in this company")))]
pub async fn revoke(
    State(state): State<SharedState>,
    Extension(actor): Extension<Actor>,
    PathParams((company_id, token_id)): PathParams<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    if revoke_token(&state, &By::api(actor), company_id, token_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("active SCIM token"))
    }
}
