//! Routes member events and user announcements. A link left pending keeps its event's message
//! and the message is acknowledged: the link waits in the database (see `crate::sweep`).

use std::time::Duration;

use scimsync_db::companies::Cache;
use scimsync_db::errors;
use scimsync_platform::amqp::{Handler, Incoming, Kept, Outcome};
use scimsync_schema::change::{Change, ChangeAction, ChangeMeta, MemberChange};
use scimsync_schema::message::UserProvisioned;
use scimsync_schema::QueueMessage;
use sea_orm::{DatabaseConnection, DbErr};
use uuid::Uuid;

use crate::links::{Attempt, Linker, Observed};
use crate::Clock;

pub struct ManagerLinker {
    pub db: DatabaseConnection,
    pub clock: Clock,
    pub max_pending_age: Duration,
    pub companies: Cache,
}

/// What a message asks of the linker.
enum Work {
    /// A member event's manager value, to record and resolve.
    Observe {
        meta: ChangeMeta,
        company_id: Uuid,
        member_id: String,
        value: String,
    },
    /// New user records (one, or a batch's): pending links they complete.
    Wake(Vec<UserProvisioned>),
    /// Nothing to do, or a verdict already.
    Done(Outcome),
}

impl Work {
    /// The event to observe, if this is one; `message` is the one it came in.
    fn observed<'a>(&'a self, message: &'a Incoming) -> Option<Observed<'a>> {
        match self {
            Self::Observe {
                meta,
                company_id,
                member_id,
                value,
            } => Some(Observed {
                meta,
                company_id: *company_id,
                member_id,
                value,
                message: Kept {
                    body: &message.body,
                    exchange: &message.exchange,
                    routing_key: &message.routing_key,
                    message_id: message.message_id.as_deref(),
                },
            }),
            _ => None,
        }
    }
}

impl ManagerLinker {
    fn linker(&self) -> Linker<'_> {
        Linker {
            db: &self.db,
            now: (self.clock)(),
            max_pending_age: self.max_pending_age,
        }
    }

    async fn work(&self, message: &Incoming) -> Work {
        let decoded = match QueueMessage::from_bytes(&message.body) {
            Err(error) => {
                return Work::Done(Outcome::DeadLetter {
                    reason: "undecodable".into(),
                    detail: format!("not a scimsync queue message: {error}"),
                })
            }
            Ok(QueueMessage::UserProvisionedV1(provisioned)) => {
                return Work::Wake(vec![provisioned])
            }
            Ok(QueueMessage::UsersProvisionedV1(batch)) => return Work::Wake(batch.users),
            Ok(decoded) => decoded,
        };
        // Either door's member change (a webhook validated again: the queue is a trust
        // boundary too).
        let change = match decoded.change() {
            Some(Ok(Change::Member(change))) => change,
            Some(Ok(_)) | None => return Work::Done(Outcome::Ack),
            Some(Err(error)) => {
                return Work::Done(Outcome::DeadLetter {
                    reason: "schema_violation".into(),
                    detail: error.to_string(),
                })
            }
        };
        let MemberChange {
            meta,
            tenant,
            member_id,
            action,
            provisioning,
            member,
        } = *change;
        if !provisioning || action == ChangeAction::Delete {
            return Work::Done(Outcome::Ack);
        }
        // No manager sent: nothing to do (absent values never clear, R5/R15).
        let Some(value) = member
            .as_ref()
            .and_then(|m| m.scim())
            .and_then(|s| s.manager_value())
            .map(str::to_owned)
        else {
            return Work::Done(Outcome::Ack);
        };
        let Some(member_id) = member_id else {
            return Work::Done(Outcome::Ack);
        };
        match self.companies.find_tenant(&self.db, &tenant).await {
            Ok(Some(company)) => Work::Observe {
                meta,
                company_id: company.id,
                member_id,
                value,
            },
            // A change that names no company carries no body, so no manager: not here.
            Ok(None) => Work::Done(Outcome::DeadLetter {
                reason: "unknown_organization".into(),
                detail: format!("no company is registered for {tenant:?}"),
            }),
            Err(error) => Work::Done(errors::outcome(&error, &meta.event_id)),
        }
    }

    fn observed(&self, seen: &Observed<'_>, result: Result<Attempt, DbErr>) -> Outcome {
        let event_id = &seen.meta.event_id;
        match result {
            Ok(attempt @ Attempt::Pending { .. }) => {
                // The link keeps the message (for its dead letter, should it come to that).
                tracing::info!(%event_id, ?attempt, "manager not there yet; the link waits");
                Outcome::Ack
            }
            Ok(Attempt::GaveUp { .. }) => Outcome::DeadLetter {
                reason: "manager_not_found".into(),
                detail: format!(
                    "no user of the company matched manager value {:?} within {:?}",
                    seen.value, self.max_pending_age
                ),
            },
            Ok(attempt) => {
                tracing::info!(%event_id, outcome = attempt.outcome(), "manager link processed");
                Outcome::Ack
            }
            Err(error) => errors::outcome(&error, event_id),
        }
    }

    /// One message's announcements: acknowledged once every one of them is settled.
    fn woken(results: impl IntoIterator<Item = Result<usize, DbErr>>) -> Outcome {
        let mut resolved = 0;
        for result in results {
            match result {
                Ok(n) => resolved += n,
                Err(error) => {
                    return Outcome::Retry {
                        reason: format!("database: {error}"),
                    }
                }
            }
        }
        tracing::info!(resolved, "pending links woken");
        Outcome::Ack
    }
}

impl Handler for ManagerLinker {
    async fn handle(&self, message: &Incoming) -> Outcome {
        let work = self.work(message).await;
        let linker = self.linker();
        if let Some(seen) = work.observed(message) {
            let result = linker.observe(&seen).await;
            return self.observed(&seen, result);
        }
        match work {
            Work::Wake(users) => {
                let announcements: Vec<&UserProvisioned> = users.iter().collect();
                Self::woken(linker.wake_all(&announcements).await)
            }
            Work::Done(outcome) => outcome,
            // Taken by `observed()` above.
            Work::Observe { .. } => Outcome::Retry {
                reason: "not handled".into(),
            },
        }
    }

    /// Member events are observed together, then announcements wake their links together.
    async fn handle_batch(&self, messages: &[Incoming]) -> Vec<Outcome> {
        let mut works = Vec::with_capacity(messages.len());
        for message in messages {
            works.push(self.work(message).await);
        }
        let linker = self.linker();
        let mut outcomes: Vec<Option<Outcome>> = works
            .iter()
            .map(|w| match w {
                Work::Done(outcome) => Some(outcome.clone()),
                _ => None,
            })
            .collect();
        let observed: Vec<(usize, Observed<'_>)> = works
            .iter()
            .enumerate()
            .filter_map(|(index, w)| w.observed(&messages[index]).map(|seen| (index, seen)))
            .collect();
        let seen: Vec<Observed<'_>> = observed.iter().map(|(_, s)| s.clone()).collect();
        let results = linker.observe_all(&seen).await;
        for ((index, seen), result) in observed.iter().zip(results) {
            let _entered = messages[*index].span.enter();
            outcomes[*index] = Some(self.observed(seen, result));
        }
        // Every announcement of the batch's messages together, each message's in a run.
        let wakes: Vec<(usize, &[UserProvisioned])> = works
            .iter()
            .enumerate()
            .filter_map(|(index, w)| match w {
                Work::Wake(users) => Some((index, users.as_slice())),
                _ => None,
            })
            .collect();
        let announcements: Vec<&UserProvisioned> =
            wakes.iter().flat_map(|(_, users)| users.iter()).collect();
        let mut results = linker.wake_all(&announcements).await.into_iter();
        for (index, users) in wakes {
            let _entered = messages[index].span.enter();
            outcomes[index] = Some(Self::woken(results.by_ref().take(users.len())));
        }
        outcomes
            .into_iter()
            // Every message got its outcome above; were one missed, it is tried again.
            .map(|o| {
                o.unwrap_or_else(|| Outcome::Retry {
                    reason: "not handled in its batch".into(),
                })
            })
            .collect()
    }
}
