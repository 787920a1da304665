//! Lists: `GET /Users`, `GET /Groups` with a query string, and `POST /Users/.search`,
//! `POST /Groups/.search` with the same parameters in a body (RFC 7644 §3.4.2, §3.4.3), each
//! over the token's company only. Entra's Test Connection (`userName eq "<random GUID>"`) is an
//! empty ListResponse. A search across both types at the root (`POST /.search`) is not
//! offered: 501.

use std::collections::HashMap;

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use scimsync_scim_proto::ListResponse;
use serde_json::Value;
use uuid::Uuid;

use crate::auth::Tenant;
use crate::body::ScimBody;
use crate::discovery::{base_url, scim_json};
use crate::error::ScimFailure;
use crate::params::{ListParams, Pairs};
use crate::render;
use crate::store::listing::{Table, GROUPS, USERS};
use crate::store::{groups, users};
use crate::SharedState;

async fn list(
    state: &SharedState,
    tenant: Tenant,
    headers: &HeaderMap,
    table: &'static Table,
    params: ListParams,
) -> Result<Response, ScimFailure> {
    let rt = table.rt;
    let query = params.query(rt, state.settings.max_page_size)?;
    let (rows, total) = table
        .list(&state.db, tenant.company_id, &query)
        .await
        .map_err(ScimFailure::database)?;
    let base = base_url(state, headers);
    let shown = &params.projection;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let resources: Vec<Value> = if std::ptr::eq(table, &USERS) {
        let mut groups = if shown.shows(rt, "groups") {
            users::groups_of(&state.db, &ids)
                .await
                .map_err(ScimFailure::database)?
        } else {
            HashMap::new()
        };
        rows.iter()
            .map(|row| render::user(&base, rt, row, groups.remove(&row.id).as_deref()))
            .collect()
    } else {
        let mut members = if shown.shows(rt, "members") {
            groups::members_of(&state.db, &ids)
                .await
                .map_err(ScimFailure::database)?
        } else {
            HashMap::new()
        };
        rows.iter()
            .map(|row| render::group(&base, rt, row, members.remove(&row.id).as_deref()))
            .collect()
    };
    let resources = resources.iter().map(|r| shown.apply(rt, r)).collect();
    let body = ListResponse::new(resources, total, query.page.start_index).to_json();
    Ok(scim_json(StatusCode::OK, &body))
}

pub async fn users(
    State(state): State<SharedState>,
    Extension(tenant): Extension<Tenant>,
    headers: HeaderMap,
    Pairs(query): Pairs,
) -> Result<Response, ScimFailure> {
    let params = ListParams::from_query(&query)?;
    list(&state, tenant, &headers, &USERS, params).await
}

pub async fn groups(
    State(state): State<SharedState>,
    Extension(tenant): Extension<Tenant>,
    headers: HeaderMap,
    Pairs(query): Pairs,
) -> Result<Response, ScimFailure> {
    let params = ListParams::from_query(&query)?;
    list(&state, tenant, &headers, &GROUPS, params).await
}

pub async fn search_users(
    State(state): State<SharedState>,
    Extension(tenant): Extension<Tenant>,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimFailure> {
    let params = ListParams::from_search(&body)?;
    list(&state, tenant, &headers, &USERS, params).await
}

pub async fn search_groups(
    State(state): State<SharedState>,
    Extension(tenant): Extension<Tenant>,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimFailure> {
    let params = ListParams::from_search(&body)?;
    list(&state, tenant, &headers, &GROUPS, params).await
}

/// `POST /.search`: a search across resource types is not offered (ServiceProviderConfig does
/// not promise it); search each endpoint instead.
pub async fn search_root() -> ScimFailure {
    ScimFailure::new(
        501,
        None,
        "searching across resource types is not supported; use /Users/.search or /Groups/.search",
    )
}
