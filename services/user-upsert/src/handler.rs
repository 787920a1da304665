//! Turns a queue message into an [`Outcome`]: decode, apply, classify failures.

use lapin::types::FieldTable;
use scimsync_platform::amqp::headers::set_str;
use scimsync_platform::amqp::{Handler, Incoming, Outcome, Outgoing, Publisher};
use scimsync_platform::metrics::metrics;
use scimsync_schema::change::{Change, MemberChange, Tenant};
use scimsync_schema::headers as h;
use scimsync_schema::message::{UserProvisioned, UsersProvisioned, USER_PROVISIONED_ROUTING_KEY};
use scimsync_schema::topology::EVENTS_EXCHANGE;
use scimsync_schema::topology::USER_UPSERT;
use scimsync_schema::QueueMessage;
use tracing::Instrument;

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

/// A message the store can apply, or the outcome it already has.
enum Decoded {
    Ready(Box<MemberChange>),
    Done(Outcome),
}

fn decode(message: &Incoming) -> Decoded {
    let decoded = match QueueMessage::from_bytes(&message.body) {
        Ok(decoded) => decoded,
        Err(error) => {
            return Decoded::Done(Outcome::DeadLetter {
                reason: "undecodable".into(),
                detail: format!("not a scimsync queue message: {error}"),
            })
        }
    };
    // Either door's member change; the queue is a trust boundary, so a webhook is validated
    // again on the way.
    match decoded.change() {
        Some(Ok(Change::Member(change))) => Decoded::Ready(change),
        Some(Ok(other)) => {
            // Bound to member events only; anything else is a routing mistake, not our data.
            let meta = match &other {
                Change::Group(g) => &g.meta,
                Change::UnparseableGroup { meta, .. } | Change::Other(meta) => meta,
                Change::Member(m) => &m.meta,
            };
            Decoded::Done(Outcome::DeadLetter {
                reason: "unexpected_event_type".into(),
                detail: format!("user-upsert does not handle {}", meta.event_type),
            })
        }
        Some(Err(error)) => Decoded::Done(Outcome::DeadLetter {
            reason: "schema_violation".into(),
            detail: error.to_string(),
        }),
        None => Decoded::Done(Outcome::DeadLetter {
            reason: "unexpected_message".into(),
            detail: format!("user-upsert does not handle {}", decoded.event_id()),
        }),
    }
}

impl UserUpsert {
    async fn apply_one(&self, change: &MemberChange) -> Outcome {
        let result = if change.provisioning {
            self.store.apply(change).await
        } else {
            self.store.log_ignored(change).await
        };
        let announced = self.announce(announcements([(change, &result)])).await;
        Self::conclude(change, result, &announced)
    }

    /// Turns what the store did into an outcome. An event that announced a user is acknowledged
    /// only once the announcement is confirmed (`announced`, A3); otherwise it is retried, and
    /// its redelivery, a duplicate, announces again.
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
                metrics().event_result(USER_UPSERT.name, &change.meta.event_type, applied.outcome);
                tracing::info!(
                    event_id = %change.meta.event_id,
                    event_type = %change.meta.event_type,
                    door = change.meta.door.as_str(),
                    outcome = applied.outcome,
                    user_id = applied.user_id.map(tracing::field::display),
                    "member event processed"
                );
                Outcome::Ack
            }
            Err(error @ ProcessError::UnknownTenant(_)) => Outcome::DeadLetter {
                reason: "unknown_organization".into(),
                detail: error.to_string(),
            },
            Err(ProcessError::Invalid(detail)) => Outcome::DeadLetter {
                reason: "invalid_event".into(),
                detail,
            },
            Err(ProcessError::Database(error)) => {
                scimsync_db::errors::outcome(&error, &change.meta.event_id)
            }
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

impl Handler for UserUpsert {
    async fn handle(&self, message: &Incoming) -> Outcome {
        match decode(message) {
            Decoded::Ready(change) => self.apply_one(&change).await,
            Decoded::Done(outcome) => outcome,
        }
    }

    /// Provisioning member changes go to the store together; anything else is handled on its
    /// own.
    async fn handle_batch(&self, messages: &[Incoming]) -> Vec<Outcome> {
        let decoded: Vec<Decoded> = messages.iter().map(decode).collect();
        let scim: Vec<(usize, store::Item<'_>)> = decoded
            .iter()
            .enumerate()
            .filter_map(|(index, d)| match d {
                Decoded::Ready(change) if change.provisioning => {
                    Some((index, store::Item { change }))
                }
                _ => None,
            })
            .collect();
        let items: Vec<store::Item<'_>> = scim.iter().map(|(_, item)| *item).collect();
        let results = self.store.apply_batch(&items).await;
        let announced = self
            .announce(announcements(
                items.iter().map(|item| item.change).zip(&results),
            ))
            .await;
        let mut concluded: Vec<Option<Outcome>> = (0..messages.len()).map(|_| None).collect();
        for ((index, item), result) in scim.iter().zip(results) {
            concluded[*index] = Some(
                messages[*index]
                    .span
                    .in_scope(|| Self::conclude(item.change, result, &announced)),
            );
        }
        let mut outcomes = Vec::with_capacity(messages.len());
        for ((message, decoded), done) in messages.iter().zip(&decoded).zip(concluded) {
            let outcome = match (done, decoded) {
                (Some(outcome), _) => outcome,
                (None, Decoded::Done(outcome)) => outcome.clone(),
                (None, Decoded::Ready(change)) => {
                    self.apply_one(change)
                        .instrument(message.span.clone())
                        .await
                }
            };
            outcomes.push(outcome);
        }
        outcomes
    }
}
