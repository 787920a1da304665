//! SCIM groups of a company: kinds, levels, active members; custom group levels (R12) and
//! career automations.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use scimsync_db::access;
use scimsync_db::entity::{career_automation, scim_group};
use scimsync_platform::http::PathParams;
use scimsync_platform::http::{ApiError, JsonBody};
use scimsync_schema::company::{display_name, MAX_NAME_CHARS};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, Set, Statement, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use serde_json::json;

use crate::audit::{self, By, Change};
use crate::auth::Actor;
use crate::failure::database;
use crate::{companies, fields, SharedState};

#[derive(Debug, Serialize, FromQueryResult, ToSchema)]
pub struct GroupView {
    pub id: Uuid,
    pub idp_group_id: String,
    pub name: Option<String>,
    /// `default_admin`, `default_full_access` or `custom`.
    pub kind: String,
    /// The level a custom group grants (set by an admin); default groups grant admin/full_access.
    pub permission_level: Option<String>,
    pub deleted: bool,
    pub active_members: i64,
    pub career_automations: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupList {
    pub groups: Vec<GroupView>,
}

/// The company's groups (or only group `$2`) with their active members, counted in one pass
/// over the company's memberships: a count per group probed the users once per member of each
/// group, 0.3 s for a 100,000-person company. A membership row matches at most one user
/// (`users_company_member` is unique), so `count(*)` counts people. A group the identity provider
/// deleted counts nobody: members who had other groups keep their membership rows (R12), but
/// none of them is in it any more.
fn select_groups(one_group: bool) -> String {
    let (members, groups) = match one_group {
        true => (
            "AND m.idp_group_id = (SELECT idp_group_id FROM scim_groups WHERE company_id = $1 AND id = $2)",
            "AND g.id = $2",
        ),
        false => ("", ""),
    };
    format!(
        "
SELECT g.id, g.idp_group_id, g.display_name AS name, g.kind, g.permission_level, g.deleted,
       CASE WHEN g.deleted THEN 0 ELSE coalesce(a.n, 0) END AS active_members,
       (SELECT count(*) FROM career_automations c WHERE c.group_id = g.id) AS career_automations
FROM scim_groups g
LEFT JOIN (
    SELECT m.idp_group_id, count(*) AS n
    FROM scim_group_memberships m
    JOIN users u ON u.company_id = m.company_id AND u.member_key = m.stytch_member_id
    WHERE m.company_id = $1 AND m.present AND u.active {members}
    GROUP BY m.idp_group_id
) a ON a.idp_group_id = g.idp_group_id
WHERE g.company_id = $1 {groups}"
    )
}

async fn load(
    state: &SharedState,
    company_id: Uuid,
    group_id: Uuid,
) -> Result<GroupView, ApiError> {
    GroupView::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        select_groups(true),
        [company_id.into(), group_id.into()],
    ))
    .one(&state.db)
    .await
    .map_err(database)?
    .ok_or_else(|| ApiError::not_found("group"))
}

/// Groups of a company, defaults first.
#[utoipa::path(get, operation_id = "list_groups", path = "/api/v1/companies/{company_id}/groups", tag = "groups",
    params(("company_id" = Uuid, Path)), responses((status = 200, body = GroupList),
              (status = 404, description = "no such company")))]
pub async fn list(
    State(state): State<SharedState>,
    PathParams(company_id): PathParams<Uuid>,
) -> Result<Json<GroupList>, ApiError> {
    Ok(Json(GroupList {
        groups: all(&state, company_id).await?,
    }))
}

/// The company's groups, defaults first.
pub async fn all(state: &SharedState, company_id: Uuid) -> Result<Vec<GroupView>, ApiError> {
    companies::find(state, company_id).await?;
    GroupView::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "{} ORDER BY g.kind = 'custom', g.display_name, g.idp_group_id",
            select_groups(false)
        ),
        [company_id.into()],
    ))
    .all(&state.db)
    .await
    .map_err(database)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupLevel {
    /// `admin`, `full_access`, `manager`, `basic`, or null to grant nothing.
    pub permission_level: Option<String>,
}

/// Sets the level a custom group grants; its members' levels are recomputed at once.
#[utoipa::path(put, operation_id = "set_group_level", path = "/api/v1/companies/{company_id}/groups/{group_id}", tag = "groups",
    params(("company_id" = Uuid, Path), ("group_id" = Uuid, Path)), request_body = GroupLevel,
    responses((status = 200, body = GroupView), (status = 400, description = "invalid level"),
              (status = 404, description = "no such company or group"),
              (status = 409, description = "default groups have a fixed level")))]
pub async fn set_level(
    State(state): State<SharedState>,
    Extension(actor): Extension<Actor>,
    PathParams((company_id, group_id)): PathParams<(Uuid, Uuid)>,
    JsonBody(body): JsonBody<GroupLevel>,
) -> Result<Json<GroupView>, ApiError> {
    Ok(Json(
        set_group_level(
            &state,
            &By::api(actor),
            company_id,
            group_id,
            body.permission_level,
        )
        .await?,
    ))
}

/// Sets the level a custom group grants, recomputes its members and records who did.
pub async fn set_group_level(
    state: &SharedState,
    by: &By,
    company_id: Uuid,
    group_id: Uuid,
    level: Option<String>,
) -> Result<GroupView, ApiError> {
    let state = state.clone();
    let level = level
        .map(|l| l.trim().to_ascii_lowercase())
        .filter(|l| !l.is_empty());
    if let Some(level) = &level {
        if !["admin", "full_access", "manager", "basic"].contains(&level.as_str()) {
            return Err(ApiError::bad_request(
                "invalid_field",
                "permission_level must be admin, full_access, manager, basic or null",
            )
            .with_field(Some("permission_level")));
        }
    }
    let group = find_group(&state, company_id, group_id).await?;
    if group.kind != "custom" {
        return Err(ApiError::conflict(
            "default_group",
            "the default groups' levels are fixed (admin, full access)",
        ));
    }
    let idp_group_id = group.idp_group_id.clone();
    let txn = state.db.begin().await.map_err(database)?;
    access::lock_group(&txn, company_id, &idp_group_id)
        .await
        .map_err(database)?;
    let change = Change {
        action: "group.set_level",
        company_id: Some(company_id),
        target: Some(group_id.to_string()),
        before: Some(
            json!({ "group": group.display_name, "permission_level": group.permission_level }),
        ),
        after: Some(json!({ "group": group.display_name, "permission_level": level })),
    };
    let mut row: scim_group::ActiveModel = group.into();
    row.permission_level = Set(level);
    row.update(&txn).await.map_err(database)?;
    audit::record(&txn, by, change).await.map_err(database)?;
    txn.commit().await.map_err(database)?;
    access::refresh_group_members(&state.db, company_id, &idp_group_id)
        .await
        .map_err(database)?;
    load(&state, company_id, group_id).await
}

async fn find_group(
    state: &SharedState,
    company_id: Uuid,
    group_id: Uuid,
) -> Result<scim_group::Model, ApiError> {
    scim_group::Entity::find_by_id(group_id)
        .one(&state.db)
        .await
        .map_err(database)?
        .filter(|g| g.company_id == company_id)
        .ok_or_else(|| ApiError::not_found("group"))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AutomationView {
    pub id: Uuid,
    pub group_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<career_automation::Model> for AutomationView {
    fn from(a: career_automation::Model) -> Self {
        Self {
            id: a.id,
            group_id: a.group_id,
            name: a.name,
            created_at: a.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AutomationList {
    pub career_automations: Vec<AutomationView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAutomation {
    pub name: String,
}

/// Career automations attached to a custom group.
#[utoipa::path(get, operation_id = "list_career_automations", path = "/api/v1/companies/{company_id}/groups/{group_id}/career-automations", tag = "groups",
    params(("company_id" = Uuid, Path), ("group_id" = Uuid, Path)), responses((status = 200, body = AutomationList),
              (status = 404, description = "no such company or group")))]
pub async fn list_automations(
    State(state): State<SharedState>,
    PathParams((company_id, group_id)): PathParams<(Uuid, Uuid)>,
) -> Result<Json<AutomationList>, ApiError> {
    find_group(&state, company_id, group_id).await?;
    let rows = career_automation::Entity::find()
        .filter(career_automation::Column::GroupId.eq(group_id))
        .order_by_asc(career_automation::Column::CreatedAt)
        .all(&state.db)
        .await
        .map_err(database)?;
    Ok(Json(AutomationList {
        career_automations: rows.into_iter().map(Into::into).collect(),
    }))
}

/// Attaches a career automation to a custom group (removed if the IdP deletes the group).
#[utoipa::path(post, operation_id = "add_career_automation", path = "/api/v1/companies/{company_id}/groups/{group_id}/career-automations", tag = "groups",
    params(("company_id" = Uuid, Path), ("group_id" = Uuid, Path)), request_body = NewAutomation,
    responses((status = 201, body = AutomationView), (status = 400, description = "invalid field"),
              (status = 404, description = "no such company or group"),
              (status = 409, description = "not a custom group that exists in the IdP")))]
pub async fn add_automation(
    State(state): State<SharedState>,
    Extension(actor): Extension<Actor>,
    PathParams((company_id, group_id)): PathParams<(Uuid, Uuid)>,
    JsonBody(body): JsonBody<NewAutomation>,
) -> Result<(StatusCode, Json<AutomationView>), ApiError> {
    let added =
        attach_automation(&state, &By::api(actor), company_id, group_id, &body.name).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// Attaches a career automation to a live custom group and records who did.
pub async fn attach_automation(
    state: &SharedState,
    by: &By,
    company_id: Uuid,
    group_id: Uuid,
    name: &str,
) -> Result<AutomationView, ApiError> {
    let state = state.clone();
    let body = NewAutomation {
        name: name.to_owned(),
    };
    fields::storable("name", &body.name)?;
    let Some(name) = display_name(&body.name).map(str::to_owned) else {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("name must hold 1 to {MAX_NAME_CHARS} characters"),
        )
        .with_field(Some("name")));
    };
    let group = find_group(&state, company_id, group_id).await?;
    if group.kind != "custom" || group.deleted {
        return Err(ApiError::conflict(
            "not_a_live_custom_group",
            "career automations attach to custom groups that exist in the IdP",
        ));
    }
    let txn = state.db.begin().await.map_err(database)?;
    let row = career_automation::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(company_id),
        group_id: Set(group_id),
        name: Set(name),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await
    .map_err(database)?;
    let change = Change {
        action: "career_automation.add",
        company_id: Some(company_id),
        target: Some(row.id.to_string()),
        before: None,
        after: Some(json!({ "group_id": group_id, "group": group.display_name, "name": row.name })),
    };
    audit::record(&txn, by, change).await.map_err(database)?;
    txn.commit().await.map_err(database)?;
    Ok(row.into())
}

/// Detaches a career automation.
#[utoipa::path(delete, operation_id = "delete_career_automation", path = "/api/v1/companies/{company_id}/groups/{group_id}/career-automations/{automation_id}", tag = "groups",
    params(("company_id" = Uuid, Path), ("group_id" = Uuid, Path), ("automation_id" = Uuid, Path)),
    responses((status = 204, description = "detached"),
              (status = 404, description = "no such automation in this group")))]
pub async fn delete_automation(
    State(state): State<SharedState>,
    Extension(actor): Extension<Actor>,
    PathParams((company_id, group_id, automation_id)): PathParams<(Uuid, Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    detach_automation(&state, &By::api(actor), company_id, group_id, automation_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Detaches a career automation and records who did.
pub async fn detach_automation(
    state: &SharedState,
    by: &By,
    company_id: Uuid,
    group_id: Uuid,
    automation_id: Uuid,
) -> Result<(), ApiError> {
    let txn = state.db.begin().await.map_err(database)?;
    let found = career_automation::Entity::find_by_id(automation_id)
        .one(&txn)
        .await
        .map_err(database)?
        .filter(|a| a.group_id == group_id && a.company_id == company_id)
        .ok_or_else(|| ApiError::not_found("career automation"))?;
    career_automation::Entity::delete_by_id(automation_id)
        .exec(&txn)
        .await
        .map_err(database)?;
    let change = Change {
        action: "career_automation.delete",
        company_id: Some(company_id),
        target: Some(automation_id.to_string()),
        before: Some(json!({ "group_id": group_id, "name": found.name })),
        after: None,
    };
    audit::record(&txn, by, change).await.map_err(database)?;
    txn.commit().await.map_err(database)?;
    Ok(())
}
