//! Users of a company: list with filters, one user, and edits of product-owned fields.

use axum::extract::State;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use scimsync_db::entity::user;
use scimsync_db::errors::unique_violation;
use scimsync_platform::http::{ApiError, JsonBody};
use scimsync_platform::http::{PathParams, QueryParams};
use scimsync_schema::email::domain_allowed;
use scimsync_schema::limits::MAX_KEY_BYTES;
use sea_orm::{
    ActiveModelTrait, DbBackend, EntityTrait, FromQueryResult, Set, Statement, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::{self, By, Change};
use crate::auth::Actor;
use crate::failure::database;
use crate::pagination::{split_page, Filtered};
use crate::{companies, fields, pagination, SharedState};

/// A user as the admin sees it.
#[derive(Debug, Serialize, FromQueryResult, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub active: bool,
    pub deactivated_at: Option<DateTime<Utc>>,
    /// `admin`, `full_access`, `manager` or `basic`.
    pub permission_level: String,
    pub manager_id: Option<Uuid>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub division: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    pub street_address: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub business_phone: Option<String>,
    pub mobile_phone: Option<String>,
    pub fax_phone: Option<String>,
    pub employee_number: Option<String>,
    pub stytch_member_id: Option<String>,
    pub stytch_organization_id: Option<String>,
    pub external_id: Option<String>,
    pub scim_provisioned: bool,
    pub date_added: DateTime<Utc>,
    /// SCIM groups the user is a member of: `{idp_group_id, name, kind}`.
    #[schema(value_type = Vec<Object>)]
    pub groups: serde_json::Value,
}

const SELECT_USERS: &str = "
SELECT u.id, u.email, u.first_name, u.last_name, u.active, u.deactivated_at, u.permission_level,
       u.manager_id, u.street_address, u.region, u.postal_code, u.business_phone, u.mobile_phone,
       u.fax_phone, u.employee_number, u.stytch_member_id, u.stytch_organization_id, u.external_id,
       u.scim_provisioned, u.date_added,
       org.job_title, org.department, org.division, org.country, org.city,
       COALESCE(grp.groups, '[]'::json) AS groups
FROM users u
LEFT JOIN LATERAL (
    SELECT max(e.value) FILTER (WHERE a.kind = 'job_title') AS job_title,
           max(e.value) FILTER (WHERE a.kind = 'department') AS department,
           max(e.value) FILTER (WHERE a.kind = 'division') AS division,
           max(e.value) FILTER (WHERE a.kind = 'country') AS country,
           max(e.value) FILTER (WHERE a.kind = 'city') AS city
    FROM user_org_attributes a JOIN org_schema_entries e ON e.id = a.entry_id
    WHERE a.user_id = u.id
) org ON true
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_object('idp_group_id', m.idp_group_id, 'name', g.display_name,
                                      'kind', COALESCE(g.kind, 'custom')) ORDER BY m.idp_group_id) AS groups
    FROM scim_group_memberships m
    LEFT JOIN scim_groups g ON g.company_id = m.company_id AND g.idp_group_id = m.idp_group_id
    WHERE m.company_id = u.company_id AND m.stytch_member_id = u.member_key
      AND m.present AND NOT COALESCE(g.deleted, false)
) grp ON true
WHERE u.company_id = $1";

#[derive(Debug, Default, Deserialize, IntoParams)]
// Read from the query string: utoipa would declare them path parameters otherwise.
#[into_params(parameter_in = Query)]
// A misspelt filter is an error, not a silently unfiltered page.
#[serde(deny_unknown_fields)]
pub struct UserFilter {
    /// Exact email, case-insensitive.
    pub email: Option<String>,
    /// Part of the email, case-insensitive.
    pub email_contains: Option<String>,
    pub active: Option<bool>,
    /// `admin`, `full_access`, `manager` or `basic`.
    pub permission_level: Option<String>,
    pub scim_provisioned: Option<bool>,
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub users: Vec<UserView>,
    pub next_cursor: Option<String>,
}

/// Lists a company's users in a stable order, filtered and paginated.
#[utoipa::path(get, operation_id = "list_users", path = "/api/v1/companies/{company_id}/users", tag = "users",
    params(("company_id" = Uuid, Path), UserFilter),
    responses((status = 200, body = UserPage), (status = 404, description = "no such company")))]
pub async fn list(
    State(state): State<SharedState>,
    PathParams(company_id): PathParams<Uuid>,
    QueryParams(filter): QueryParams<UserFilter>,
) -> Result<Json<UserPage>, ApiError> {
    Ok(Json(search(&state, company_id, filter).await?))
}

/// One page of a company's users, filtered, in a stable order.
pub async fn search(
    state: &SharedState,
    company_id: Uuid,
    filter: UserFilter,
) -> Result<UserPage, ApiError> {
    companies::find(state, company_id).await?;
    let limit = pagination::limit(filter.limit)?;
    let after: Option<Uuid> = pagination::cursor(filter.cursor.as_deref())?;
    let mut query = Filtered::new(SELECT_USERS, company_id);
    if let Some(email) = filter.email.filter(|e| !e.is_empty()) {
        query.and(" AND lower(u.email) = lower(?)", email);
    }
    if let Some(part) = filter.email_contains.filter(|e| !e.is_empty()) {
        // LIKE's own wildcards are taken literally.
        let pattern = part
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        query.and(" AND u.email ILIKE '%' || ? || '%'", pattern);
    }
    if let Some(active) = filter.active {
        query.and(" AND u.active = ?", active);
    }
    if let Some(level) = filter.permission_level.filter(|l| !l.is_empty()) {
        query.and(" AND u.permission_level = ?", level);
    }
    if let Some(scim) = filter.scim_provisioned {
        query.and(" AND u.scim_provisioned = ?", scim);
    }
    if let Some(after) = after {
        query.and(" AND u.id > ?", after);
    }
    let rows = UserView::find_by_statement(query.page_statement("u.id", limit))
        .all(&state.db)
        .await
        .map_err(database)?;
    let (users, next_cursor) = split_page(rows, limit, |u| u.id.to_string());
    Ok(UserPage { users, next_cursor })
}

pub async fn load(
    state: &SharedState,
    company_id: Uuid,
    user_id: Uuid,
) -> Result<UserView, ApiError> {
    let sql = format!("{SELECT_USERS} AND u.id = $2");
    UserView::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [company_id.into(), user_id.into()],
    ))
    .one(&state.db)
    .await
    .map_err(database)?
    .ok_or_else(|| ApiError::not_found("user"))
}

/// One user.
#[utoipa::path(get, operation_id = "get_user", path = "/api/v1/companies/{company_id}/users/{user_id}", tag = "users",
    params(("company_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 200, body = UserView), (status = 404, description = "no such company or user")))]
pub async fn get(
    State(state): State<SharedState>,
    PathParams((company_id, user_id)): PathParams<(Uuid, Uuid)>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(load(&state, company_id, user_id).await?))
}

/// Product-owned fields an admin may edit. For SCIM-provisioned users, activation belongs to
/// the identity provider (R11), and a later SCIM event that carries a field overrides an edit.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub active: Option<bool>,
    pub street_address: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub business_phone: Option<String>,
    pub mobile_phone: Option<String>,
    pub fax_phone: Option<String>,
    pub employee_number: Option<String>,
}

/// Edits product-owned fields.
#[utoipa::path(patch, operation_id = "patch_user", path = "/api/v1/companies/{company_id}/users/{user_id}", tag = "users",
    params(("company_id" = Uuid, Path), ("user_id" = Uuid, Path)), request_body = UserPatch,
    responses((status = 200, body = UserView), (status = 400, description = "invalid field"),
              (status = 404, description = "no such user"),
              (status = 409, description = "activation of a SCIM user, or email taken")))]
pub async fn patch(
    State(state): State<SharedState>,
    Extension(actor): Extension<Actor>,
    PathParams((company_id, user_id)): PathParams<(Uuid, Uuid)>,
    JsonBody(patch): JsonBody<UserPatch>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(
        update(&state, &By::api(actor), company_id, user_id, patch).await?,
    ))
}

/// Edits product-owned fields of a user and records the values before and after.
pub async fn update(
    state: &SharedState,
    by: &By,
    company_id: Uuid,
    user_id: Uuid,
    patch: UserPatch,
) -> Result<UserView, ApiError> {
    let state = state.clone();
    let sent = serde_json::to_value(&patch).unwrap_or_default();
    let before = serde_json::to_value(load(&state, company_id, user_id).await?).unwrap_or_default();
    let current = find_user(&state, company_id, user_id).await?;
    let mut row: user::ActiveModel = current.clone().into();
    if let Some(active) = patch.active.filter(|a| *a != current.active) {
        if current.scim_provisioned {
            return Err(ApiError::conflict(
                "scim_managed_activation",
                "this user is provisioned by SCIM: activate or deactivate them in the identity provider",
            )
            .with_field(Some("active")));
        }
        row.active = Set(active);
        row.deactivated_at = Set((!active).then(Utc::now));
    }
    let invalid = |field: &'static str, message: String| {
        ApiError::bad_request("invalid_field", message).with_field(Some(field))
    };
    if let Some(email) = patch.email {
        let email = email.trim().to_owned();
        if !email.contains('@')
            || email.contains(char::is_whitespace)
            || email.len() > MAX_KEY_BYTES
        {
            return Err(invalid(
                "email",
                format!("email must be an email address of at most {MAX_KEY_BYTES} bytes"),
            ));
        }
        fields::storable("email", &email)?;
        if current.scim_provisioned && email != current.email {
            return Err(ApiError::conflict(
                "scim_managed_field",
                "the email of a SCIM user is set by the identity provider",
            )
            .with_field(Some("email")));
        }
        if email != current.email {
            // The company's allowed domains (R4) hold for every user, not only SCIM's.
            let company = companies::find(&state, company_id).await?;
            if !domain_allowed(&email, &company.allowed_email_domains) {
                return Err(invalid(
                    "email",
                    format!(
                        "the company allows emails only at {}",
                        company.allowed_email_domains.join(", ")
                    ),
                ));
            }
        }
        row.email = Set(email);
    }
    if let Some(v) = patch.first_name {
        row.first_name = Set(fields::text("first_name", v)?);
    }
    if let Some(v) = patch.last_name {
        let v = fields::text("last_name", v)?;
        // Every user has a last name (R5 falls back as far as `Missing`).
        if v.is_empty() {
            return Err(invalid("last_name", "last_name must not be empty".into()));
        }
        row.last_name = Set(v);
    }
    macro_rules! optional {
        ($($field:ident),*) => {$(
            if let Some(v) = patch.$field {
                let v = fields::text(stringify!($field), v)?;
                row.$field = Set(Some(v).filter(|s| !s.is_empty()));
            }
        )*};
    }
    optional!(
        street_address,
        region,
        postal_code,
        business_phone,
        mobile_phone,
        fax_phone,
        employee_number
    );
    row.updated_at = Set(Utc::now());
    let txn = state.db.begin().await.map_err(database)?;
    match row.update(&txn).await {
        Ok(_) => {}
        Err(error) if unique_violation(&error).is_some() => {
            return Err(
                ApiError::conflict("email_taken", "another user already has this email")
                    .with_field(Some("email")),
            )
        }
        Err(error) => return Err(database(error)),
    }
    // The fields sent, with their values before the change and as sent.
    let sent: serde_json::Map<String, serde_json::Value> = sent
        .as_object()
        .map(|fields| {
            fields
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let before: serde_json::Map<String, serde_json::Value> = sent
        .keys()
        .map(|k| (k.clone(), before.get(k).cloned().unwrap_or_default()))
        .collect();
    let change = Change {
        action: "user.update",
        company_id: Some(company_id),
        target: Some(user_id.to_string()),
        before: Some(before.into()),
        after: Some(sent.into()),
    };
    audit::record(&txn, by, change).await.map_err(database)?;
    txn.commit().await.map_err(database)?;
    load(&state, company_id, user_id).await
}

async fn find_user(
    state: &SharedState,
    company_id: Uuid,
    user_id: Uuid,
) -> Result<user::Model, ApiError> {
    user::Entity::find_by_id(user_id)
        .one(&state.db)
        .await
        .map_err(database)?
        .filter(|u| u.company_id == company_id)
        .ok_or_else(|| ApiError::not_found("user"))
}

/// Clears the user's manager in the product (R15). The clear sticks: a later SCIM event that
/// still carries the same manager value does not restore it; a different value does apply.
#[utoipa::path(delete, operation_id = "clear_manager", path = "/api/v1/companies/{company_id}/users/{user_id}/manager", tag = "users",
    params(("company_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 200, body = UserView), (status = 404, description = "no such user")))]
pub async fn clear_manager(
    State(state): State<SharedState>,
    Extension(actor): Extension<Actor>,
    PathParams((company_id, user_id)): PathParams<(Uuid, Uuid)>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(
        clear_manager_of(&state, &By::api(actor), company_id, user_id).await?,
    ))
}

/// Clears a user's manager locally (R15) and records who did. The clear is its own
/// transactions (it locks the member and refreshes the former manager's level), so the record
/// follows it.
pub async fn clear_manager_of(
    state: &SharedState,
    by: &By,
    company_id: Uuid,
    user_id: Uuid,
) -> Result<UserView, ApiError> {
    let current = find_user(state, company_id, user_id).await?;
    scimsync_db::hierarchy::clear_locally(
        &state.db,
        company_id,
        user_id,
        current.stytch_member_id.as_deref(),
    )
    .await
    .map_err(database)?;
    let change = Change {
        action: "user.clear_manager",
        company_id: Some(company_id),
        target: Some(user_id.to_string()),
        before: Some(serde_json::json!({ "manager_id": current.manager_id })),
        after: Some(serde_json::json!({ "manager_id": null })),
    };
    audit::record(&state.db, by, change)
        .await
        .map_err(database)?;
    load(state, company_id, user_id).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportList {
    pub users: Vec<UserView>,
}

/// The user's direct reports.
#[utoipa::path(get, operation_id = "list_reports", path = "/api/v1/companies/{company_id}/users/{user_id}/reports", tag = "users",
    params(("company_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 200, body = ReportList), (status = 404, description = "no such user")))]
pub async fn reports(
    State(state): State<SharedState>,
    PathParams((company_id, user_id)): PathParams<(Uuid, Uuid)>,
) -> Result<Json<ReportList>, ApiError> {
    Ok(Json(ReportList {
        users: reports_of(&state, company_id, user_id).await?,
    }))
}

/// The user's direct reports.
pub async fn reports_of(
    state: &SharedState,
    company_id: Uuid,
    user_id: Uuid,
) -> Result<Vec<UserView>, ApiError> {
    find_user(state, company_id, user_id).await?;
    let sql = format!("{SELECT_USERS} AND u.manager_id = $2 ORDER BY u.id");
    let users = UserView::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [company_id.into(), user_id.into()],
    ))
    .all(&state.db)
    .await
    .map_err(database)?;
    Ok(users)
}
