//! Turns a queue message into an [`Outcome`]: decode, apply, classify failures.

use scimsync_platform::amqp::{Handler, Incoming, Outcome};
use scimsync_schema::QueueMessage;
use sea_orm::DatabaseConnection;

use crate::store::{self, ProcessError};

pub struct UserUpsert {
    pub db: DatabaseConnection,
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
        let QueueMessage::StytchWebhookV1(webhook) = decoded;
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
            store::apply(&self.db, &webhook, &envelope).await
        } else {
            let member = envelope.member().ok().flatten();
            store::log_ignored(&self.db, &webhook, &envelope, member.as_ref()).await
        };
        match result {
            Ok(applied) => {
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
