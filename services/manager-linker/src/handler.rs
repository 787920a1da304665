//! Routes member events and user announcements; pending links go back on the delay tiers.

use std::time::Duration;

use scimsync_platform::amqp::{Handler, Incoming, Outcome};
use scimsync_schema::stytch::Action;
use scimsync_schema::QueueMessage;
use sea_orm::DatabaseConnection;

use crate::links::{Attempt, Linker, Observed};
use crate::Clock;

pub struct ManagerLinker {
    pub db: DatabaseConnection,
    pub clock: Clock,
    pub max_pending_age: Duration,
}

impl Handler for ManagerLinker {
    async fn handle(&self, message: &Incoming) -> Outcome {
        let linker = Linker {
            db: &self.db,
            now: (self.clock)(),
            max_pending_age: self.max_pending_age,
        };
        match QueueMessage::from_bytes(&message.body) {
            Err(error) => Outcome::DeadLetter {
                reason: "undecodable".into(),
                detail: format!("not a scimsync queue message: {error}"),
            },
            Ok(QueueMessage::UserProvisionedV1(provisioned)) => {
                match linker.wake(&provisioned).await {
                    Ok(resolved) => {
                        tracing::info!(event_id = %provisioned.event_id, resolved, "pending links woken");
                        Outcome::Ack
                    }
                    Err(error) => Outcome::Retry {
                        reason: format!("database: {error}"),
                    },
                }
            }
            Ok(QueueMessage::StytchWebhookV1(webhook)) => {
                let envelope = match webhook.envelope() {
                    Ok(envelope) => envelope,
                    Err(error) => {
                        return Outcome::DeadLetter {
                            reason: "schema_violation".into(),
                            detail: error.to_string(),
                        }
                    }
                };
                if !envelope.is_scim()
                    || !envelope.is_member()
                    || !matches!(envelope.action(), Action::Create | Action::Update)
                {
                    return Outcome::Ack;
                }
                let Some(member) = envelope.member().ok().flatten() else {
                    return Outcome::Ack;
                };
                // No manager sent: nothing to do (absent values never clear, R5/R15).
                let Some(value) = member
                    .scim()
                    .and_then(|s| s.manager_value())
                    .map(str::to_owned)
                else {
                    return Outcome::Ack;
                };
                let (Some(org), Some(member_id)) =
                    (member.organization_id.clone(), envelope.member_id())
                else {
                    return Outcome::Ack;
                };
                let company =
                    match scimsync_db::companies::find_by_organization(&self.db, &org).await {
                        Ok(Some(company)) => company,
                        Ok(None) => {
                            return Outcome::DeadLetter {
                                reason: "unknown_organization".into(),
                                detail: format!("no company has Stytch organization id {org:?}"),
                            }
                        }
                        Err(error) => {
                            return Outcome::Retry {
                                reason: format!("database: {error}"),
                            }
                        }
                    };
                let seen = Observed {
                    webhook: &webhook,
                    company_id: company.id,
                    member_id: &member_id,
                    value: &value,
                };
                match linker.observe(&seen).await {
                    Ok(attempt @ Attempt::Pending { .. }) => {
                        tracing::info!(event_id = %webhook.event_id, ?attempt, "manager not there yet; retrying later");
                        Outcome::Retry {
                            reason: "manager_pending".into(),
                        }
                    }
                    Ok(Attempt::GaveUp { .. }) => Outcome::DeadLetter {
                        reason: "manager_not_found".into(),
                        detail: format!(
                            "no user of the company matched manager value {value:?} within {:?}",
                            self.max_pending_age
                        ),
                    },
                    Ok(attempt) => {
                        tracing::info!(event_id = %webhook.event_id, outcome = attempt.outcome(), "manager link processed");
                        Outcome::Ack
                    }
                    Err(error) => {
                        tracing::warn!(error = ?error, event_id = %webhook.event_id, "database error; will retry");
                        Outcome::Retry {
                            reason: format!("database: {error}"),
                        }
                    }
                }
            }
        }
    }
}
