//! `/Groups/{id}` and `POST /Groups`: a Group created, read, replaced, patched or deleted, in
//! the token's company only. Members are Users of the same company (anything else is 400
//! `invalidValue`); Entra creates groups empty and PATCHes members in, Okta pushes them by
//! PATCH too. PATCH and DELETE answer 204 (SPEC §6), with the version left as `ETag`; a PATCH that
//! asks for `attributes` is answered 200 with them (RFC 7644 §3.5.2).
//!
//! A write that changes the group commits it with a new version and, for the workers, the
//! group's upsert (created or renamed) or delete and one change per member added or removed.

use std::collections::BTreeSet;

use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use scimsync_scim_proto::filter::FilterLimits;
use scimsync_scim_proto::patch::PatchRequest;
use scimsync_scim_proto::schema::GROUP_RESOURCE;
use scimsync_scim_proto::ScimError;
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::Tenant;
use crate::body::ScimBody;
use crate::changes::{self, GroupWrite};
use crate::conditional::{check_if_match, not_modified};
use crate::discovery::base_url;
use crate::error::ScimFailure;
use crate::params::{projection, Pairs};
use crate::render::{self, Projection};
use crate::store::{groups, text, users, Lock, Row};
use crate::{input, outbox, SharedState};

const GROUP: &str = "Group";

/// The answer for one Group: its members read only if they are shown.
async fn answer(
    state: &SharedState,
    headers: &HeaderMap,
    status: StatusCode,
    row: &Row,
    shown: &Projection,
) -> Result<Response, ScimFailure> {
    let rt = &GROUP_RESOURCE;
    let members = if shown.shows(rt, "members") {
        groups::members_of(&state.db, &[row.id])
            .await
            .map_err(ScimFailure::database)?
            .remove(&row.id)
    } else {
        None
    };
    let base = base_url(state, headers);
    let body = shown.apply(rt, &render::group(&base, rt, row, members.as_deref()));
    Ok(match status {
        StatusCode::CREATED => render::created(
            &body,
            row.version,
            &render::location(&base, rt, &row.id.to_string()),
        ),
        _ => render::single(status, &body, row.version),
    })
}

fn not_a_member(id: &str) -> ScimFailure {
    ScimError::invalid_value(format!("member {id:?} is not a User of this company")).into()
}

/// Member ids as user ids, without duplicates, in order.
fn user_ids(ids: &[String]) -> Result<Vec<Uuid>, ScimFailure> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let user: Uuid = id.parse().map_err(|_| not_a_member(id))?;
        if seen.insert(user) {
            out.push(user);
        }
    }
    Ok(out)
}

/// Checks that members about to be added are Users of the company (and keeps them so until
/// the transaction ends).
async fn check_members(
    conn: &impl ConnectionTrait,
    company: Uuid,
    added: &[Uuid],
) -> Result<(), ScimFailure> {
    let found: BTreeSet<Uuid> = users::existing(conn, company, added)
        .await
        .map_err(ScimFailure::database)?
        .into_iter()
        .collect();
    match added.iter().find(|id| !found.contains(id)) {
        Some(missing) => Err(not_a_member(&missing.to_string())),
        None => Ok(()),
    }
}

fn display_name(resource: &Value) -> String {
    text(resource, "displayName").unwrap_or_default()
}

/// Writes a group's change and what it tells the workers.
async fn write(
    conn: &impl ConnectionTrait,
    company: Uuid,
    group_id: Uuid,
    resource: &Value,
    change: &GroupWrite,
) -> Result<Row, ScimFailure> {
    check_members(conn, company, &change.added).await?;
    let row = if change.upsert == Some(true) {
        groups::insert(conn, company, group_id, resource).await
    } else {
        groups::update(conn, company, group_id, resource).await
    }
    .map_err(ScimFailure::write)?;
    groups::add_members(conn, company, group_id, &change.added)
        .await
        .map_err(ScimFailure::write)?;
    groups::remove_members(conn, group_id, &change.removed)
        .await
        .map_err(ScimFailure::write)?;
    let messages = changes::group(
        company,
        group_id,
        &display_name(&row.resource),
        row.last_modified,
        change,
    );
    outbox::enqueue(conn, company, &messages)
        .await
        .map_err(ScimFailure::database)?;
    tracing::info!(
        group_id = %group_id,
        version = row.version,
        added = change.added.len(),
        removed = change.removed.len(),
        "group written"
    );
    Ok(row)
}

pub async fn create(
    State(state): State<SharedState>,
    Extension(tenant): Extension<Tenant>,
    headers: HeaderMap,
    Pairs(query): Pairs,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimFailure> {
    let company = tenant.company_id;
    let (resource, members) = input::group(&body)?;
    let change = GroupWrite {
        upsert: Some(true),
        added: user_ids(&members)?,
        ..GroupWrite::default()
    };
    let tx = state.db.begin().await.map_err(ScimFailure::database)?;
    let row = write(&tx, company, Uuid::now_v7(), &resource, &change).await?;
    tx.commit().await.map_err(ScimFailure::write)?;
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
    let group_id = ScimFailure::known_id(GROUP, &id)?;
    let row = groups::get(&state.db, tenant.company_id, group_id, Lock::None)
        .await
        .map_err(ScimFailure::database)?
        .ok_or_else(|| ScimFailure::not_found(GROUP, &id))?;
    if let Some(response) = not_modified(&headers, row.version) {
        return Ok(response);
    }
    answer(&state, &headers, StatusCode::OK, &row, &projection(&query)).await
}

/// The stored Group a write starts from, locked, after its `If-Match`.
async fn locked(
    conn: &impl ConnectionTrait,
    company: Uuid,
    id: &str,
    headers: &HeaderMap,
    lock: Lock,
) -> Result<Row, ScimFailure> {
    let group_id = ScimFailure::known_id(GROUP, id)?;
    let row = groups::get(conn, company, group_id, lock)
        .await
        .map_err(ScimFailure::database)?
        .ok_or_else(|| ScimFailure::not_found(GROUP, id))?;
    check_if_match(headers, row.version)?;
    Ok(row)
}

/// What a write changes from `stored` (with `current` members) to `resource` with `members`;
/// `None` when nothing.
fn difference(
    stored: &Row,
    current: &[Uuid],
    resource: &Value,
    members: &[Uuid],
) -> Option<GroupWrite> {
    let before: BTreeSet<&Uuid> = current.iter().collect();
    let after: BTreeSet<&Uuid> = members.iter().collect();
    let change = GroupWrite {
        upsert: (display_name(resource) != display_name(&stored.resource)).then_some(false),
        deleted: false,
        added: members
            .iter()
            .filter(|m| !before.contains(m))
            .copied()
            .collect(),
        removed: current
            .iter()
            .filter(|m| !after.contains(m))
            .copied()
            .collect(),
    };
    let changed =
        *resource != stored.resource || !change.added.is_empty() || !change.removed.is_empty();
    changed.then_some(change)
}

/// PUT: the whole Group, members included, replaced by the body.
pub async fn replace(
    State(state): State<SharedState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Pairs(query): Pairs,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimFailure> {
    let company = tenant.company_id;
    let (resource, members) = input::group(&body)?;
    let members = user_ids(&members)?;
    let tx = state.db.begin().await.map_err(ScimFailure::database)?;
    let stored = locked(&tx, company, &id, &headers, Lock::Update).await?;
    input::check_immutable(&GROUP_RESOURCE, &stored.resource, &resource)?;
    let current = groups::member_ids(&tx, stored.id)
        .await
        .map_err(ScimFailure::database)?;
    let row = match difference(&stored, &current, &resource, &members) {
        Some(change) => write(&tx, company, stored.id, &resource, &change).await?,
        None => stored,
    };
    tx.commit().await.map_err(ScimFailure::write)?;
    answer(&state, &headers, StatusCode::OK, &row, &projection(&query)).await
}

/// PATCH: members added and removed (Entra's `value` lists and `members[value eq "..."]`
/// paths, Okta's pushes), a rename; answered 204, or 200 with the Group when `attributes` or
/// `excludedAttributes` asks for it.
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
    let current = groups::member_ids(&tx, stored.id)
        .await
        .map_err(ScimFailure::database)?;
    // The whole Group as the client sees it: with its id (Okta renames with the id in the
    // value) and its members.
    let mut doc = stored.resource.clone();
    if let Value::Object(map) = &mut doc {
        map.insert("id".into(), stored.id.to_string().into());
        if !current.is_empty() {
            let members: Vec<Value> = current
                .iter()
                .map(|m| json!({"value": m.to_string()}))
                .collect();
            map.insert("members".into(), members.into());
        }
    }
    let patched = request.apply(&GROUP_RESOURCE, &doc)?;
    let mut resource = patched.resource;
    let members = match resource.as_object_mut() {
        Some(map) => {
            map.remove("id");
            match map.remove("members") {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            }
        }
        None => Vec::new(),
    };
    let members = members
        .iter()
        .map(input::member_id)
        .collect::<Result<Vec<_>, _>>()?;
    let members = user_ids(&members)?;
    let row = match difference(&stored, &current, &resource, &members) {
        Some(change) => write(&tx, company, stored.id, &resource, &change).await?,
        None => stored,
    };
    tx.commit().await.map_err(ScimFailure::write)?;
    // RFC 7644 §3.5.2: 204 may answer a PATCH, but "the server MUST return a 200 OK if the
    // "attributes" parameter is specified"; `excludedAttributes` asks for a body just as well.
    let shown = projection(&query);
    if shown.attributes.is_some() || shown.excluded.is_some() {
        return answer(&state, &headers, StatusCode::OK, &row, &shown).await;
    }
    Ok(render::no_content(Some(row.version)))
}

/// DELETE: the Group and its memberships are gone; the workers apply R12's ghost-group rules.
pub async fn delete(
    State(state): State<SharedState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ScimFailure> {
    let company = tenant.company_id;
    let tx = state.db.begin().await.map_err(ScimFailure::database)?;
    let stored = locked(&tx, company, &id, &headers, Lock::Delete).await?;
    let at = groups::delete(&tx, company, stored.id)
        .await
        .map_err(ScimFailure::write)?
        .ok_or_else(|| ScimFailure::not_found(GROUP, &id))?;
    let change = GroupWrite {
        deleted: true,
        ..GroupWrite::default()
    };
    let messages = changes::group(
        company,
        stored.id,
        &display_name(&stored.resource),
        at,
        &change,
    );
    outbox::enqueue(&tx, company, &messages)
        .await
        .map_err(ScimFailure::database)?;
    tx.commit().await.map_err(ScimFailure::write)?;
    tracing::info!(group_id = %stored.id, "group deleted");
    Ok(render::no_content(None))
}
