//! `/Users/{id}` and `POST /Users` (RFC 7644 §3.3, §3.4.1, §3.5, §3.6): a User created,
//! read, replaced, patched or deleted, in the token's company only.
//!
//! Each write that changes the User commits it with a new version and the member change for
//! the workers (see [`crate::changes`]) in one transaction, and is answered after the commit. A
//! write that changes nothing keeps the version and tells the workers nothing. A DELETE removes
//! the resource and its memberships (404 afterwards); the product keeps the user, deactivated
//! (R9a).

use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use scimsync_schema::change::ChangeAction;
use scimsync_scim_proto::filter::FilterLimits;
use scimsync_scim_proto::patch::PatchRequest;
use scimsync_scim_proto::schema::USER_RESOURCE;
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::Tenant;
use crate::body::ScimBody;
use crate::conditional::{check_if_match, not_modified};
use crate::discovery::base_url;
use crate::error::ScimFailure;
use crate::params::{projection, Pairs};
use crate::render::{self, Projection};
use crate::store::{users, Lock, Row};
use crate::{changes, domains, input, outbox, SharedState};

const USER: &str = "User";

/// The answer for one User: its groups read only if they are shown.
async fn answer(
    state: &SharedState,
    headers: &HeaderMap,
    status: StatusCode,
    row: &Row,
    shown: &Projection,
) -> Result<Response, ScimFailure> {
    let rt = &USER_RESOURCE;
    let groups = if shown.shows(rt, "groups") {
        users::groups_of(&state.db, &[row.id])
            .await
            .map_err(ScimFailure::database)?
            .remove(&row.id)
    } else {
        None
    };
    let base = base_url(state, headers);
    let body = shown.apply(rt, &render::user(&base, rt, row, groups.as_deref()));
    Ok(match status {
        StatusCode::CREATED => render::created(
            &body,
            row.version,
            &render::location(&base, rt, &row.id.to_string()),
        ),
        _ => render::single(status, &body, row.version),
    })
}

pub async fn create(
    State(state): State<SharedState>,
    Extension(tenant): Extension<Tenant>,
    headers: HeaderMap,
    Pairs(query): Pairs,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimFailure> {
    let company = tenant.company_id;
    let resource = input::user(&body)?;
    domains::check(&state.db, company, &resource).await?;
    let id = Uuid::now_v7();
    let tx = state.db.begin().await.map_err(ScimFailure::database)?;
    let row = users::insert(&tx, company, id, &resource)
        .await
        .map_err(ScimFailure::write)?;
    let change = changes::member(
        company,
        id,
        ChangeAction::Create,
        row.last_modified,
        Some(&row.resource),
    );
    outbox::enqueue(&tx, company, &[change])
        .await
        .map_err(ScimFailure::database)?;
    tx.commit().await.map_err(ScimFailure::write)?;
    tracing::info!(user_id = %id, "user created");
    answer(
        &state,
        &headers,
        StatusCode::CREATED,
        &row,
        &projection(&query),
    )
    .await
}

pub async fn get(
    State(state): State<SharedState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Pairs(query): Pairs,
) -> Result<Response, ScimFailure> {
    let user_id = ScimFailure::known_id(USER, &id)?;
    let row = users::get(&state.db, tenant.company_id, user_id, Lock::None)
        .await
        .map_err(ScimFailure::database)?
        .ok_or_else(|| ScimFailure::not_found(USER, &id))?;
    if let Some(response) = not_modified(&headers, row.version) {
        return Ok(response);
    }
    answer(&state, &headers, StatusCode::OK, &row, &projection(&query)).await
}

/// The stored User a write starts from, locked, after its `If-Match`.
async fn locked(
    conn: &impl ConnectionTrait,
    company: Uuid,
    id: &str,
    headers: &HeaderMap,
    lock: Lock,
) -> Result<Row, ScimFailure> {
    let user_id = ScimFailure::known_id(USER, id)?;
    let row = users::get(conn, company, user_id, lock)
        .await
        .map_err(ScimFailure::database)?
        .ok_or_else(|| ScimFailure::not_found(USER, id))?;
    check_if_match(headers, row.version)?;
    Ok(row)
}

/// Stores `resource` over `stored` if it differs, with its member change; returns the row now
/// stored.
async fn save(
    conn: &impl ConnectionTrait,
    company: Uuid,
    stored: Row,
    resource: Value,
) -> Result<Row, ScimFailure> {
    if resource == stored.resource {
        return Ok(stored);
    }
    domains::check(conn, company, &resource).await?;
    let row = users::update(conn, company, stored.id, &resource)
        .await
        .map_err(ScimFailure::write)?;
    let change = changes::member(
        company,
        row.id,
        ChangeAction::Update,
        row.last_modified,
        Some(&row.resource),
    );
    outbox::enqueue(conn, company, &[change])
        .await
        .map_err(ScimFailure::database)?;
    tracing::info!(user_id = %row.id, version = row.version, "user updated");
    Ok(row)
}

/// PUT: the whole User replaced by the body (RFC 7644 §3.5.1).
pub async fn replace(
    State(state): State<SharedState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Pairs(query): Pairs,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimFailure> {
    let company = tenant.company_id;
    let resource = input::user(&body)?;
    let tx = state.db.begin().await.map_err(ScimFailure::database)?;
    let stored = locked(&tx, company, &id, &headers, Lock::Update).await?;
    input::check_immutable(&USER_RESOURCE, &stored.resource, &resource)?;
    let row = save(&tx, company, stored, resource).await?;
    tx.commit().await.map_err(ScimFailure::write)?;
    answer(&state, &headers, StatusCode::OK, &row, &projection(&query)).await
}

/// PATCH (RFC 7644 §3.5.2), in Entra's dialects and Okta's: answered 200 with the User.
pub async fn patch(
    State(state): State<SharedState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Pairs(query): Pairs,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimFailure> {
    let company = tenant.company_id;
    let request = PatchRequest::from_json(&body, &FilterLimits::default())?;
    let tx = state.db.begin().await.map_err(ScimFailure::database)?;
    let stored = locked(&tx, company, &id, &headers, Lock::Update).await?;
    // With its id, so an operation that sends the id it already has is no change.
    let mut doc = stored.resource.clone();
    if let Value::Object(map) = &mut doc {
        map.insert("id".into(), stored.id.to_string().into());
    }
    let patched = request.apply(&USER_RESOURCE, &doc)?;
    let mut resource = patched.resource;
    if let Value::Object(map) = &mut resource {
        map.remove("id");
        // Write-only and never stored: this service does not authenticate users.
        map.remove("password");
    }
    let row = save(&tx, company, stored, resource).await?;
    tx.commit().await.map_err(ScimFailure::write)?;
    answer(&state, &headers, StatusCode::OK, &row, &projection(&query)).await
}

/// DELETE: the User and its memberships are gone (404 afterwards); the workers deactivate the
/// product's user (R9a).
pub async fn delete(
    State(state): State<SharedState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ScimFailure> {
    let company = tenant.company_id;
    let user_id = ScimFailure::known_id(USER, &id)?;
    let tx = state.db.begin().await.map_err(ScimFailure::database)?;
    users::lock_groups_of(&tx, company, user_id)
        .await
        .map_err(ScimFailure::write)?;
    let stored = locked(&tx, company, &id, &headers, Lock::Delete).await?;
    let at = users::delete(&tx, company, stored.id)
        .await
        .map_err(ScimFailure::write)?
        .ok_or_else(|| ScimFailure::not_found(USER, &id))?;
    let change = changes::member(company, stored.id, ChangeAction::Delete, at, None);
    outbox::enqueue(&tx, company, &[change])
        .await
        .map_err(ScimFailure::database)?;
    tx.commit().await.map_err(ScimFailure::write)?;
    tracing::info!(user_id = %stored.id, "user deleted");
    Ok(render::no_content(None))
}
