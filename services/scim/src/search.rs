//! Lists: `GET /Users`, `GET /Groups` with a query string, and `POST /Users/.search`,
//! `POST /Groups/.search` with the same parameters in a body (RFC 7644 §3.4.2, §3.4.3), each
//! over the token's company only. Entra's Test Connection (`userName eq "<random GUID>"`) is an
//! empty ListResponse. `POST /.search` at the root searches both types as one list: Users, then
//! Groups.

use std::collections::HashMap;

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use scimsync_scim_proto::{ListResponse, Page, ScimError};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::Tenant;
use crate::body::ScimBody;
use crate::discovery::{base_url, scim_json};
use crate::error::ScimFailure;
use crate::params::{ListParams, Pairs};
use crate::render::{self, Projection};
use crate::store::listing::{Table, GROUPS, USERS};
use crate::store::{groups, users, Row};
use crate::SharedState;

async fn list(
    state: &SharedState,
    tenant: Tenant,
    headers: &HeaderMap,
    table: &'static Table,
    params: ListParams,
) -> Result<Response, ScimFailure> {
    let query = params.query(table.rt, state.settings.max_page_size)?;
    let (rows, total) = table
        .list(&state.db, tenant.company_id, &query)
        .await
        .map_err(ScimFailure::database)?;
    let resources = shown(state, headers, table, &rows, &params.projection).await?;
    let body = ListResponse::new(resources, total, query.page.start_index).to_json();
    Ok(scim_json(StatusCode::OK, &body))
}

/// Rows of `table` as the client sees them: with a User's groups or a Group's members when
/// they are shown (read only then), projected.
async fn shown(
    state: &SharedState,
    headers: &HeaderMap,
    table: &'static Table,
    rows: &[Row],
    shown: &Projection,
) -> Result<Vec<Value>, ScimFailure> {
    let rt = table.rt;
    let base = base_url(state, headers);
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
    Ok(resources.iter().map(|r| shown.apply(rt, r)).collect())
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

/// `POST /.search` (RFC 7644 §3.4.3): Users, then Groups, as one list paged across both
/// (each in creation order). The filter runs on each type that has the attributes it names; a
/// type that lacks one has no match (when neither has them, 400 `invalidFilter`). `sortBy` is
/// refused: an order across types would take merging two sorted lists, and no identity
/// provider asks for it; `/Users/.search` and `/Groups/.search` sort.
pub async fn search_root(
    State(state): State<SharedState>,
    Extension(tenant): Extension<Tenant>,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimFailure> {
    let params = ListParams::from_search(&body)?;
    if params.sort_by.is_some() {
        return Err(ScimError::invalid_value(
            "`sortBy` is not offered across resource types; sort with /Users/.search or \
             /Groups/.search",
        )
        .into());
    }
    let mut searched = Vec::new();
    let mut refused = None;
    for table in [&USERS, &GROUPS] {
        match params.query(table.rt, state.settings.max_page_size) {
            Ok(query) => searched.push((table, query)),
            Err(e) => {
                refused.get_or_insert(e);
            }
        }
    }
    let asked = match (searched.first(), refused) {
        (Some((_, query)), _) => query.page,
        (None, Some(e)) => return Err(e.into()),
        (None, None) => return Err(ScimFailure::new(500, None, "no resource type to search")),
    };
    // Each type's share of the asked page: what is left to skip after the types before it,
    // and what is left to fill. A type with nothing left to fill still counts its matches.
    let (mut skip, mut wanted) = (asked.offset(), asked.count);
    let (mut resources, mut total) = (Vec::new(), 0);
    for (table, mut query) in searched {
        query.page = Page {
            start_index: skip + 1,
            count: wanted,
        };
        let (rows, matched) = table
            .list(&state.db, tenant.company_id, &query)
            .await
            .map_err(ScimFailure::database)?;
        total += matched;
        skip = skip.saturating_sub(matched);
        wanted = wanted.saturating_sub(rows.len() as u64);
        resources.extend(shown(&state, &headers, table, &rows, &params.projection).await?);
    }
    let body = ListResponse::new(resources, total, asked.start_index).to_json();
    Ok(scim_json(StatusCode::OK, &body))
}
