//! R4 answered at once: a company that restricts its email domains refuses, with 400
//! `invalidValue` naming the domain and storing nothing, a User whose product email (see
//! [`crate::mapping::email`]) is outside them, so the identity provider's provisioning log says
//! why. R3 (an email another company holds) is not answered here: that answer would tell one
//! tenant what another holds; the workers record it in the event log.

use scimsync_schema::email::domain_allowed;
use scimsync_scim_proto::ScimError;
use sea_orm::ConnectionTrait;
use serde_json::Value;
use uuid::Uuid;

use crate::error::ScimFailure;
use crate::{mapping, store};

/// Refuses a user whose email the company's domains do not allow.
pub async fn check(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    resource: &Value,
) -> Result<(), ScimFailure> {
    // A user with no email at all is the workers' to judge, as from the Stytch door.
    let Some(email) = mapping::email(resource) else {
        return Ok(());
    };
    let allowed = store::allowed_domains(conn, company_id)
        .await
        .map_err(ScimFailure::database)?;
    if domain_allowed(&email, &allowed) {
        return Ok(());
    }
    let domain = email.rsplit_once('@').map_or("", |(_, d)| d);
    Err(ScimError::invalid_value(format!(
        "the email domain {domain:?} is not one this company allows ({})",
        allowed.join(", ")
    ))
    .into())
}
