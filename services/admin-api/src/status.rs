//! SCIM sync status of a company (R16): last sync time and active users per default group.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use scimsync_platform::http::ApiError;
use scimsync_platform::http::PathParams;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::failure::database;
use crate::{companies, SharedState};

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupStatus {
    pub name: String,
    /// `default_admin` or `default_full_access`.
    pub kind: String,
    pub active_users: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScimStatus {
    pub last_sync_at: Option<DateTime<Utc>>,
    pub groups: Vec<GroupStatus>,
}

/// Active members of the company's default group of this kind, from real memberships.
const ACTIVE_IN_KIND: &str = "
SELECT count(DISTINCT u.id) AS n
FROM scim_groups g
JOIN scim_group_memberships m
  ON m.company_id = g.company_id AND m.idp_group_id = g.idp_group_id AND m.present
JOIN users u
  ON u.company_id = m.company_id AND u.member_key = m.stytch_member_id AND u.active
WHERE g.company_id = $1 AND g.kind = $2 AND NOT g.deleted";

/// Last sync time and the default groups' active user counts.
#[utoipa::path(get, operation_id = "get_scim_status", path = "/api/v1/companies/{company_id}/scim/status", tag = "status",
    params(("company_id" = Uuid, Path)),
    responses((status = 200, body = ScimStatus), (status = 404, description = "no such company")))]
pub async fn get(
    State(state): State<SharedState>,
    PathParams(company_id): PathParams<Uuid>,
) -> Result<Json<ScimStatus>, ApiError> {
    Ok(Json(scim_status(&state, company_id).await?))
}

/// The company's last sync time and its default groups' active members.
pub async fn scim_status(state: &SharedState, company_id: Uuid) -> Result<ScimStatus, ApiError> {
    let company = companies::find(state, company_id).await?;
    let mut groups = Vec::new();
    for (kind, name) in [
        ("default_admin", &state.groups.admin_group),
        ("default_full_access", &state.groups.full_access_group),
    ] {
        let row = state
            .db
            .query_one(Statement::from_sql_and_values(
                DbBackend::Postgres,
                ACTIVE_IN_KIND,
                [company_id.into(), kind.into()],
            ))
            .await
            .map_err(database)?;
        let active_users = match row {
            Some(row) => row.try_get::<i64>("", "n").map_err(database)?,
            None => 0,
        };
        groups.push(GroupStatus {
            name: name.clone(),
            kind: kind.into(),
            active_users,
        });
    }
    Ok(ScimStatus {
        last_sync_at: company.last_scim_sync_at,
        groups,
    })
}
