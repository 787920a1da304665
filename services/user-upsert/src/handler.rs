//! Turns a queue message into an [`Outcome`]: decode, apply, classify failures.

use lapin::types::FieldTable;
use scimsync_platform::amqp::headers::set_str;
use scimsync_platform::amqp::{Handler, Incoming, Outcome, Outgoing, Publisher};
use scimsync_platform::metrics::metrics;
use scimsync_schema::headers as h;
use scimsync_schema::message::{UserProvisioned, UsersProvisioned, USER_PROVISIONED_ROUTING_KEY};
use scimsync_schema::topology::EVENTS_EXCHANGE;
use scimsync_schema::topology::USER_UPSERT;
use scimsync_schema::{Envelope, QueueMessage, StytchWebhook};
use tracing::Instrument;

use crate::store::{self, ProcessError};

pub struct UserUpsert {
    pub store: store::Store,
    /// For the follow-up that wakes manager links waiting for a new user.
    pub publisher: Publisher,
}

impl UserUpsert {
    /// A batch's announcements, one message per organization, all confirmed before any of the
    /// batch's events is acknowledged (A3). Each message names its company in
    /// `x-organization-id`, like the events that caused it, so `scimctl dlq --company` finds
    /// its dead letter too. Nothing to announce: nothing published.
    async fn announce(&self, users: Vec<Announced>) -> Result<(), String> {
        let mut by_organization: Vec<(Option<String>, Vec<UserProvisioned>)> = Vec::new();
        for (organization, user) in users {
            match by_organization.iter_mut().find(|(o, _)| *o == organization) {
                Some((_, same)) => same.push(user),
                None => by_organization.push((organization, vec![user])),
            }
        }
        let published = futures_util::future::join_all(
            by_organization
                .into_iter()
                .filter_map(|(organization, users)| {
                    Some((organization, UsersProvisioned::of(users)?))
                })
                .map(|(organization, batch)| self.publish(organization, batch)),
        )
        .await;
        published.into_iter().collect()
    }

    async fn publish(
        &self,
        organization: Option<String>,
        batch: UsersProvisioned,
    ) -> Result<(), String> {
        let event_id = batch.event_id.clone();
        let body = QueueMessage::UsersProvisionedV1(batch).to_bytes();
        let mut headers = FieldTable::default();
        set_str(&mut headers, h::EVENT_ID, event_id.clone());
        if let Some(organization) = organization {
            set_str(&mut headers, h::ORGANIZATION_ID, organization);
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

/// A user to announce, with the organization of the event that provisioned it.
type Announced = (Option<String>, UserProvisioned);

/// A message the store can apply, or the outcome it already has.
enum Decoded {
    Ready(Box<(StytchWebhook, Envelope)>),
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
    let webhook = match decoded {
        QueueMessage::StytchWebhookV1(webhook) => webhook,
        other => {
            return Decoded::Done(Outcome::DeadLetter {
                reason: "unexpected_message".into(),
                detail: format!("user-upsert does not handle {}", other.event_id()),
            })
        }
    };
    let envelope = match webhook.envelope() {
        Ok(envelope) => envelope,
        Err(error) => {
            return Decoded::Done(Outcome::DeadLetter {
                reason: "schema_violation".into(),
                detail: error.to_string(),
            })
        }
    };
    if !envelope.is_member() {
        // Bound to member events only; anything else is a routing mistake, not our data.
        return Decoded::Done(Outcome::DeadLetter {
            reason: "unexpected_event_type".into(),
            detail: format!("user-upsert does not handle {}", webhook.event_type),
        });
    }
    Decoded::Ready(Box::new((webhook, envelope)))
}

impl UserUpsert {
    async fn apply_one(&self, webhook: &StytchWebhook, envelope: &Envelope) -> Outcome {
        let result = if envelope.is_scim() {
            self.store.apply(webhook, envelope).await
        } else {
            let member = envelope.member().ok().flatten();
            self.store
                .log_ignored(webhook, envelope, member.as_ref())
                .await
        };
        let announced = self.announce(announcements([(envelope, &result)])).await;
        Self::conclude(webhook, result, &announced)
    }

    /// Turns what the store did into an outcome. An event that announced a user is acknowledged
    /// only once the announcement is confirmed (`announced`, A3); otherwise it is retried, and
    /// its redelivery, a duplicate, announces again.
    fn conclude(
        webhook: &StytchWebhook,
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
                metrics().event_result(USER_UPSERT.name, &webhook.event_type, applied.outcome);
                tracing::info!(
                    event_id = %webhook.event_id,
                    event_type = %webhook.event_type,
                    outcome = applied.outcome,
                    user_id = applied.user_id.map(tracing::field::display),
                    "member event processed"
                );
                Outcome::Ack
            }
            Err(error @ ProcessError::UnknownOrganization(_)) => Outcome::DeadLetter {
                reason: "unknown_organization".into(),
                detail: error.to_string(),
            },
            Err(ProcessError::Invalid(detail)) => Outcome::DeadLetter {
                reason: "invalid_event".into(),
                detail,
            },
            Err(ProcessError::Database(error)) => {
                scimsync_db::errors::outcome(&error, &webhook.event_id)
            }
        }
    }
}

/// The users these results announce, in order, each with its event's organization.
fn announcements<'a>(
    results: impl IntoIterator<Item = (&'a Envelope, &'a Result<store::Applied, ProcessError>)>,
) -> Vec<Announced> {
    results
        .into_iter()
        .filter_map(|(envelope, result)| {
            let user = result.as_ref().ok()?.provisioned.clone()?;
            Some((envelope.organization_id().map(str::to_owned), user))
        })
        .collect()
}

impl Handler for UserUpsert {
    async fn handle(&self, message: &Incoming) -> Outcome {
        match decode(message) {
            Decoded::Ready(ready) => self.apply_one(&ready.0, &ready.1).await,
            Decoded::Done(outcome) => outcome,
        }
    }

    /// SCIM member events go to the store together; anything else is handled on its own.
    async fn handle_batch(&self, messages: &[Incoming]) -> Vec<Outcome> {
        let decoded: Vec<Decoded> = messages.iter().map(decode).collect();
        let scim: Vec<(usize, store::Item<'_>)> = decoded
            .iter()
            .enumerate()
            .filter_map(|(index, d)| match d {
                Decoded::Ready(ready) if ready.1.is_scim() => Some((
                    index,
                    store::Item {
                        webhook: &ready.0,
                        envelope: &ready.1,
                    },
                )),
                _ => None,
            })
            .collect();
        let items: Vec<store::Item<'_>> = scim.iter().map(|(_, item)| *item).collect();
        let results = self.store.apply_batch(&items).await;
        let announced = self
            .announce(announcements(
                items.iter().map(|item| item.envelope).zip(&results),
            ))
            .await;
        let mut concluded: Vec<Option<Outcome>> = (0..messages.len()).map(|_| None).collect();
        for ((index, item), result) in scim.iter().zip(results) {
            concluded[*index] = Some(
                messages[*index]
                    .span
                    .in_scope(|| Self::conclude(item.webhook, result, &announced)),
            );
        }
        let mut outcomes = Vec::with_capacity(messages.len());
        for ((message, decoded), done) in messages.iter().zip(&decoded).zip(concluded) {
            let outcome = match (done, decoded) {
                (Some(outcome), _) => outcome,
                (None, Decoded::Done(outcome)) => outcome.clone(),
                (None, Decoded::Ready(ready)) => {
                    self.apply_one(&ready.0, &ready.1)
                        .instrument(message.span.clone())
                        .await
                }
            };
            outcomes.push(outcome);
        }
        outcomes
    }
}
