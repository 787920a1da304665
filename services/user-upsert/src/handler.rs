//! Turns a queue message into an [`Outcome`]: decode, apply, classify failures.

use lapin::types::FieldTable;
use scimsync_platform::amqp::headers::set_str;
use scimsync_platform::amqp::{Handler, Incoming, Outcome, Outgoing, Publisher};
use scimsync_platform::metrics::metrics;
use scimsync_schema::headers as h;
use scimsync_schema::message::{UserProvisioned, USER_PROVISIONED_ROUTING_KEY};
use scimsync_schema::topology::EVENTS_EXCHANGE;
use scimsync_schema::topology::USER_UPSERT;
use scimsync_schema::QueueMessage;

use crate::store::{self, ProcessError};

pub struct UserUpsert {
    pub store: store::Store,
    /// For the follow-up that wakes manager links waiting for a new user.
    pub publisher: Publisher,
}

impl UserUpsert {
    async fn announce(
        &self,
        provisioned: UserProvisioned,
    ) -> Result<(), scimsync_platform::amqp::PublishError> {
        let event_id = provisioned.event_id.clone();
        let body = QueueMessage::UserProvisionedV1(provisioned).to_bytes();
        let mut headers = FieldTable::default();
        set_str(&mut headers, h::EVENT_ID, event_id.clone());
        self.publisher
            .publish(Outgoing {
                exchange: EVENTS_EXCHANGE,
                routing_key: USER_PROVISIONED_ROUTING_KEY,
                body: &body,
                message_id: Some(&event_id),
                headers,
            })
            .await
    }
}

impl Handler for UserUpsert {
    async fn handle(&self, message: &Incoming) -> Outcome {
        let decoded = match QueueMessage::from_bytes(&message.body) {
            Ok(decoded) => decoded,
            Err(error) => {
                return Outcome::DeadLetter {
                    reason: "undecodable".into(),
                    detail: format!("not a scimsync queue message: {error}"),
                }
            }
        };
        let webhook = match decoded {
            QueueMessage::StytchWebhookV1(webhook) => webhook,
            other => {
                return Outcome::DeadLetter {
                    reason: "unexpected_message".into(),
                    detail: format!("user-upsert does not handle {}", other.event_id()),
                }
            }
        };
        let envelope = match webhook.envelope() {
            Ok(envelope) => envelope,
            Err(error) => {
                return Outcome::DeadLetter {
                    reason: "schema_violation".into(),
                    detail: error.to_string(),
                }
            }
        };
        if !envelope.is_member() {
            // Bound to member events only; anything else is a routing mistake, not our data.
            return Outcome::DeadLetter {
                reason: "unexpected_event_type".into(),
                detail: format!("user-upsert does not handle {}", webhook.event_type),
            };
        }
        let result = if envelope.is_scim() {
            self.store.apply(&webhook, &envelope).await
        } else {
            let member = envelope.member().ok().flatten();
            self.store
                .log_ignored(&webhook, &envelope, member.as_ref())
                .await
        };
        match result {
            Ok(applied) => {
                // Effects are committed; the follow-up must be confirmed before the ack (A3).
                if let Some(provisioned) = applied.provisioned.clone() {
                    if let Err(error) = self.announce(provisioned).await {
                        return Outcome::Retry {
                            reason: format!("follow-up not confirmed: {error}"),
                        };
                    }
                }
                metrics().event_result(USER_UPSERT.name, &webhook.event_type, applied.outcome);
                tracing::info!(
                    event_id = %webhook.event_id,
                    event_type = %webhook.event_type,
                    outcome = applied.outcome,
                    user_id = ?applied.user_id,
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
                tracing::warn!(error = ?error, event_id = %webhook.event_id, "database error; will retry");
                Outcome::Retry {
                    reason: format!("database: {error}"),
                }
            }
        }
    }
}
