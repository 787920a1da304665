//! user-upsert as a [`Worker`]: a member change from either door, applied by the store in
//! batches; the users a batch created or adopted are announced (`internal.user.provisioned`, to
//! wake manager links waiting for them) and confirmed before any of its messages is
//! acknowledged (A3).

use lapin::types::FieldTable;
use scimsync_platform::amqp::headers::set_str;
use scimsync_platform::amqp::{Batch, Incoming, Outcome, Outgoing, Publisher, Worker};
use scimsync_platform::metrics::metrics;
use scimsync_schema::change::{Change, MemberChange, Tenant};
use scimsync_schema::headers as h;
use scimsync_schema::message::{UserProvisioned, UsersProvisioned, USER_PROVISIONED_ROUTING_KEY};
use scimsync_schema::topology::{WorkQueue, EVENTS_EXCHANGE};
use scimsync_schema::{Concern, DeadLetterReason, QueueMessage};

use crate::store::{self, ProcessError};

pub struct UserUpsert {
    pub store: store::Store,
    /// For the follow-up that wakes manager links waiting for a new user.
    pub publisher: Publisher,
}

impl UserUpsert {
    /// A batch's announcements, one message per company, all confirmed before any of the
    /// batch's events is acknowledged (A3). Each message names its company as the events that
    /// caused it did (`x-organization-id` for Stytch's, `x-company-id` for the SCIM door's), so
    /// `scimctl dlq --company` finds its dead letter too. Nothing to announce: nothing
    /// published.
    async fn announce(&self, users: Vec<Announced>) -> Result<(), String> {
        let mut by_tenant: Vec<(Tenant, Vec<UserProvisioned>)> = Vec::new();
        for (tenant, user) in users {
            match by_tenant.iter_mut().find(|(t, _)| *t == tenant) {
                Some((_, same)) => same.push(user),
                None => by_tenant.push((tenant, vec![user])),
            }
        }
        let published = futures_util::future::join_all(
            by_tenant
                .into_iter()
                .filter_map(|(tenant, users)| Some((tenant, UsersProvisioned::of(users)?)))
                .map(|(tenant, batch)| self.publish(tenant, batch)),
        )
        .await;
        published.into_iter().collect()
    }

    async fn publish(&self, tenant: Tenant, batch: UsersProvisioned) -> Result<(), String> {
        let event_id = batch.event_id.clone();
        let company = batch.users.first().map(|u| u.company_id.clone());
        let body = QueueMessage::UsersProvisionedV1(batch).to_bytes();
        let mut headers = FieldTable::default();
        set_str(&mut headers, h::EVENT_ID, event_id.clone());
        if let Tenant::Organization(organization) = tenant {
            set_str(&mut headers, h::ORGANIZATION_ID, organization);
        }
        if let Some(company) = company {
            set_str(&mut headers, h::COMPANY_ID, company);
        }
        self.publisher
            .publish(Outgoing {
                exchange: EVENTS_EXCHANGE,
                routing_key: USER_PROVISIONED_ROUTING_KEY,
                body: &body,
                message_id: Some(&event_id),
                headers,
            })
            .await
            .map_err(|error| error.to_string())
    }
}

/// A user to announce, with the tenant of the event that provisioned it.
type Announced = (Tenant, UserProvisioned);

impl Worker for UserUpsert {
    const NAME: &'static str = Concern::UserUpsert.as_str();
    const QUEUE: WorkQueue = Concern::UserUpsert.queue();
    type Item = Box<MemberChange>;

    async fn decode(&self, message: &Incoming) -> Result<Box<MemberChange>, Outcome> {
        let decoded = QueueMessage::from_bytes(&message.body).map_err(|error| {
            Outcome::dead_letter(
                DeadLetterReason::Undecodable,
                format!("not a scimsync queue message: {error}"),
            )
        })?;
        // Either door's member change; the queue is a trust boundary, so a webhook is validated
        // again on the way.
        match decoded.change() {
            Some(Ok(Change::Member(change))) => Ok(change),
            // Bound to member events only; anything else is a routing mistake, not our data.
            Some(Ok(other)) => Err(Outcome::dead_letter(
                DeadLetterReason::UnexpectedEventType,
                format!("user-upsert does not handle {}", other.meta().event_type),
            )),
            Some(Err(error)) => Err(Outcome::dead_letter(
                DeadLetterReason::SchemaViolation,
                error.to_string(),
            )),
            None => Err(Outcome::dead_letter(
                DeadLetterReason::UnexpectedMessage,
                format!("user-upsert does not handle {}", decoded.event_id()),
            )),
        }
    }

    /// The store applies the batch; the users it created or adopted are announced before any
    /// of its messages is acknowledged.
    async fn apply(&self, batch: Batch<Box<MemberChange>>) -> Vec<Outcome> {
        let changes: Vec<&MemberChange> = batch.items().iter().map(|c| &**c).collect();
        let results = self.store.apply(&changes).await;
        let announced = self
            .announce(announcements(changes.iter().copied().zip(&results)))
            .await;
        batch.conclude(results, |change, result| {
            conclude(change, result, &announced)
        })
    }
}

/// Turns what the store did into an outcome. An event that announced a user is acknowledged
/// only once the announcement is confirmed (`announced`, A3); otherwise it is retried, and its
/// redelivery, a duplicate, announces again.
fn conclude(
    change: &MemberChange,
    result: Result<store::Applied, ProcessError>,
    announced: &Result<(), String>,
) -> Outcome {
    match result {
        Ok(applied) => {
            if let (Some(_), Err(error)) = (&applied.provisioned, announced) {
                return Outcome::Retry {
                    reason: format!("follow-up not confirmed: {error}"),
                };
            }
            let outcome = applied.outcome;
            metrics().event_result(
                UserUpsert::QUEUE.name,
                &change.meta.event_type,
                outcome.as_str(),
            );
            tracing::info!(
                event_id = %change.meta.event_id,
                event_type = %change.meta.event_type,
                door = change.meta.door.as_str(),
                %outcome,
                user_id = applied.user_id.map(tracing::field::display),
                "member event processed"
            );
            Outcome::Ack
        }
        Err(error @ ProcessError::UnknownTenant(_)) => {
            Outcome::dead_letter(DeadLetterReason::UnknownOrganization, error.to_string())
        }
        Err(ProcessError::Invalid(detail)) => {
            Outcome::dead_letter(DeadLetterReason::InvalidEvent, detail)
        }
        Err(ProcessError::Database(error)) => {
            scimsync_db::errors::outcome(&error, &change.meta.event_id)
        }
        Err(ProcessError::Waiting(reason)) => {
            tracing::info!(event_id = %change.meta.event_id, %reason, "member event waits");
            Outcome::Retry { reason }
        }
    }
}

/// The users these results announce, in order, each with its event's tenant.
fn announcements<'a>(
    results: impl IntoIterator<Item = (&'a MemberChange, &'a Result<store::Applied, ProcessError>)>,
) -> Vec<Announced> {
    results
        .into_iter()
        .filter_map(|(change, result)| {
            let user = result.as_ref().ok()?.provisioned.clone()?;
            Some((change.tenant.clone(), user))
        })
        .collect()
}
