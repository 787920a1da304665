//! Companies (tenants): registered by an operator, with their Stytch organization id if they
//! provision through Stytch (a company of the SCIM door needs none).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use scimsync_db::entity::company;
use scimsync_db::errors::unique_violation;
use scimsync_platform::http::{ApiError, JsonBody, PathParams};
use scimsync_schema::company::Registration;
use sea_orm::{ActiveModelTrait, EntityTrait, QueryOrder, QuerySelect, Set, TransactionTrait};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, By, Change};
use crate::auth::Actor;
use crate::failure::database;
use crate::{fields, SharedState};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCompany {
    pub name: String,
    /// The Stytch organization whose webhooks provision this company; none for a company that
    /// provisions only through the SCIM door.
    #[serde(default)]
    pub stytch_organization_id: Option<String>,
    /// Only members whose email is in one of these domains are provisioned (R4).
    #[serde(default)]
    pub allowed_email_domains: Vec<String>,
}

/// What an edit may change; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyPatch {
    pub name: Option<String>,
    /// Replaces the list; `[]` allows every domain.
    pub allowed_email_domains: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CompanyView {
    pub id: Uuid,
    pub name: String,
    pub stytch_organization_id: Option<String>,
    pub allowed_email_domains: Vec<String>,
    pub last_scim_sync_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<company::Model> for CompanyView {
    fn from(c: company::Model) -> Self {
        Self {
            id: c.id,
            name: c.name,
            stytch_organization_id: c.stytch_organization_id,
            allowed_email_domains: c.allowed_email_domains,
            last_scim_sync_at: c.last_scim_sync_at,
            created_at: c.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyList {
    pub companies: Vec<CompanyView>,
}

/// Validates and normalises a registration; errors name the field.
pub fn validate(input: NewCompany) -> Result<NewCompany, ApiError> {
    fields::storable("name", &input.name)?;
    if let Some(org) = &input.stytch_organization_id {
        fields::storable("stytch_organization_id", org)?;
    }
    for domain in &input.allowed_email_domains {
        fields::storable("allowed_email_domains", domain)?;
    }
    let valid = Registration::validate(
        &input.name,
        input.stytch_organization_id.as_deref(),
        &input.allowed_email_domains,
    )
    .map_err(|refused| {
        ApiError::bad_request("invalid_field", refused.message).with_field(Some(refused.field))
    })?;
    Ok(NewCompany {
        name: valid.name,
        stytch_organization_id: valid.stytch_organization_id,
        allowed_email_domains: valid.allowed_email_domains,
    })
}

/// Registers a company and records who did.
pub async fn register(
    state: &SharedState,
    by: &By,
    input: NewCompany,
) -> Result<CompanyView, ApiError> {
    let input = validate(input)?;
    let row = company::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(input.name),
        stytch_organization_id: Set(input.stytch_organization_id.clone()),
        allowed_email_domains: Set(input.allowed_email_domains),
        last_scim_sync_at: Set(None),
        created_at: Set(Utc::now()),
    };
    let txn = state.db.begin().await.map_err(database)?;
    let created = match row.insert(&txn).await {
        Ok(created) => CompanyView::from(created),
        Err(error) if unique_violation(&error).is_some() => {
            return Err(ApiError::conflict(
                "organization_exists",
                format!(
                    "a company with Stytch organization id {:?} is already registered",
                    input.stytch_organization_id.unwrap_or_default()
                ),
            ))
        }
        Err(error) => return Err(database(error)),
    };
    let change = Change {
        action: "company.register",
        company_id: Some(created.id),
        target: Some(created.id.to_string()),
        before: None,
        after: Some(editable(&created)),
    };
    audit::record(&txn, by, change).await.map_err(database)?;
    txn.commit().await.map_err(database)?;
    Ok(created)
}

/// The fields of a company a person sets, as the audit trail shows them.
fn editable(company: &CompanyView) -> serde_json::Value {
    json!({
        "name": company.name,
        "stytch_organization_id": company.stytch_organization_id,
        "allowed_email_domains": company.allowed_email_domains,
    })
}

/// Edits a company's name and allowed email domains, validated as a registration is, and
/// records the values before and after.
pub async fn update(
    state: &SharedState,
    by: &By,
    company_id: Uuid,
    patch: CompanyPatch,
) -> Result<CompanyView, ApiError> {
    let txn = state.db.begin().await.map_err(database)?;
    let current = company::Entity::find_by_id(company_id)
        .lock_exclusive()
        .one(&txn)
        .await
        .map_err(database)?
        .ok_or_else(|| ApiError::not_found("company"))?;
    let before = CompanyView::from(current.clone());
    let valid = validate(NewCompany {
        name: patch.name.unwrap_or_else(|| current.name.clone()),
        stytch_organization_id: current.stytch_organization_id.clone(),
        allowed_email_domains: patch
            .allowed_email_domains
            .unwrap_or_else(|| current.allowed_email_domains.clone()),
    })?;
    let mut row: company::ActiveModel = current.into();
    row.name = Set(valid.name);
    row.allowed_email_domains = Set(valid.allowed_email_domains);
    let after = CompanyView::from(row.update(&txn).await.map_err(database)?);
    let change = Change {
        action: "company.update",
        company_id: Some(company_id),
        target: Some(company_id.to_string()),
        before: Some(editable(&before)),
        after: Some(editable(&after)),
    };
    audit::record(&txn, by, change).await.map_err(database)?;
    txn.commit().await.map_err(database)?;
    Ok(after)
}

/// Registers a company.
#[utoipa::path(post, operation_id = "create_company", path = "/api/v1/companies", tag = "companies", request_body = NewCompany,
    responses((status = 201, body = CompanyView), (status = 400, description = "invalid field"),
              (status = 409, description = "organization already registered")))]
pub async fn create(
    State(state): State<SharedState>,
    Extension(actor): Extension<Actor>,
    JsonBody(input): JsonBody<NewCompany>,
) -> Result<(StatusCode, Json<CompanyView>), ApiError> {
    let created = register(&state, &By::api(actor), input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Edits a company: its name and allowed email domains (a Stytch organization, once
/// registered, stays: the events of the company are found by it).
#[utoipa::path(patch, operation_id = "update_company", path = "/api/v1/companies/{company_id}", tag = "companies",
    params(("company_id" = Uuid, Path)), request_body = CompanyPatch,
    responses((status = 200, body = CompanyView), (status = 400, description = "invalid field"),
              (status = 404, description = "no such company")))]
pub async fn patch(
    State(state): State<SharedState>,
    Extension(actor): Extension<Actor>,
    PathParams(company_id): PathParams<Uuid>,
    JsonBody(patch): JsonBody<CompanyPatch>,
) -> Result<Json<CompanyView>, ApiError> {
    Ok(Json(
        update(&state, &By::api(actor), company_id, patch).await?,
    ))
}

/// Lists companies, oldest first.
#[utoipa::path(get, operation_id = "list_companies", path = "/api/v1/companies", tag = "companies", responses((status = 200, body = CompanyList)))]
pub async fn list(State(state): State<SharedState>) -> Result<Json<CompanyList>, ApiError> {
    let rows = company::Entity::find()
        .order_by_asc(company::Column::CreatedAt)
        .all(&state.db)
        .await
        .map_err(database)?;
    Ok(Json(CompanyList {
        companies: rows.into_iter().map(Into::into).collect(),
    }))
}

/// Loads a company or answers 404.
pub async fn find(state: &SharedState, id: Uuid) -> Result<company::Model, ApiError> {
    company::Entity::find_by_id(id)
        .one(&state.db)
        .await
        .map_err(database)?
        .ok_or_else(|| ApiError::not_found("company"))
}
