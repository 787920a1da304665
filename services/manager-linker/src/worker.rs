//! manager-linker as a [`Worker`]: member events bring manager values to record and resolve;
//! user announcements wake the links waiting for those users. A link left pending keeps its
//! event's message and the message is acknowledged: the link waits in the database (see
//! `crate::sweep`).

use std::time::Duration;

use scimsync_db::companies::Cache;
use scimsync_db::errors;
use scimsync_platform::amqp::{Batch, Incoming, Kept, Outcome, Side, Worker};
use scimsync_schema::change::{Change, ChangeAction, MemberChange};
use scimsync_schema::message::UserProvisioned;
use scimsync_schema::topology::WorkQueue;
use scimsync_schema::{Concern, DeadLetterReason, QueueMessage};
use sea_orm::{DatabaseConnection, DbErr};

use crate::links::waiting::KeptMessage;
use crate::links::{Attempt, Linker, Observed};
use crate::Clock;

pub struct ManagerLinker {
    pub db: DatabaseConnection,
    pub clock: Clock,
    pub max_pending_age: Duration,
    pub companies: Cache,
}

/// What a message asks of the linker.
pub enum Work {
    /// A member event's manager value, to record and resolve.
    Observe(Box<Observed>),
    /// New user records (one, or a batch's): pending links they complete.
    Wake(Vec<UserProvisioned>),
}

impl Worker for ManagerLinker {
    const NAME: &'static str = Concern::ManagerLinker.as_str();
    const QUEUE: WorkQueue = Concern::ManagerLinker.queue();
    type Item = Work;

    async fn decode(&self, message: &Incoming) -> Result<Work, Outcome> {
        let decoded = match QueueMessage::from_bytes(&message.body) {
            Err(error) => {
                return Err(Outcome::dead_letter(
                    DeadLetterReason::Undecodable,
                    format!("not a scimsync queue message: {error}"),
                ))
            }
            Ok(QueueMessage::UserProvisionedV1(provisioned)) => {
                return Ok(Work::Wake(vec![provisioned]))
            }
            Ok(QueueMessage::UsersProvisionedV1(batch)) => return Ok(Work::Wake(batch.users)),
            Ok(decoded) => decoded,
        };
        // Either door's member change (a webhook validated again: the queue is a trust
        // boundary too).
        let change = match decoded.change() {
            Some(Ok(Change::Member(change))) => change,
            Some(Ok(_)) | None => return Err(Outcome::Ack),
            Some(Err(error)) => {
                let reason = DeadLetterReason::SchemaViolation;
                return Err(Outcome::dead_letter(reason, error.to_string()));
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
            return Err(Outcome::Ack);
        }
        // No manager sent: nothing to do (absent values never clear, R5/R15).
        let Some(value) = member
            .as_ref()
            .and_then(|m| m.scim())
            .and_then(|s| s.manager_value())
            .map(str::to_owned)
        else {
            return Err(Outcome::Ack);
        };
        let Some(member_id) = member_id else {
            return Err(Outcome::Ack);
        };
        match self.companies.find_tenant(&self.db, &tenant).await {
            Ok(Some(company)) => Ok(Work::Observe(Box::new(Observed {
                meta,
                company_id: company.id,
                member_id,
                value,
                message: KeptMessage::of(Kept {
                    body: &message.body,
                    exchange: &message.exchange,
                    routing_key: &message.routing_key,
                    message_id: message.message_id.as_deref(),
                }),
            }))),
            // A change that names no company carries no body, so no manager: not here.
            Ok(None) => Err(Outcome::dead_letter(
                DeadLetterReason::UnknownOrganization,
                format!("no company is registered for {tenant:?}"),
            )),
            Err(error) => Err(errors::outcome(&error, &meta.event_id)),
        }
    }

    /// The batch's member events are observed together, then all its announcements wake their
    /// links together.
    async fn apply(&self, batch: Batch<Work>) -> Vec<Outcome> {
        let (observed, woken, sides) = batch.split(|work| match work {
            Work::Observe(seen) => Side::Left(*seen),
            Work::Wake(users) => Side::Right(users),
        });
        let linker = self.linker();
        let results = linker.observe(observed.items()).await;
        let observed = observed.conclude(results, |seen, result| self.observed(seen, result));
        let announcements: Vec<&UserProvisioned> = woken.items().iter().flatten().collect();
        let mut results = linker.wake_all(&announcements).await.into_iter();
        // Each message's announcements, in a run.
        let per_message: Vec<Vec<Result<usize, DbErr>>> = woken
            .items()
            .iter()
            .map(|users| results.by_ref().take(users.len()).collect())
            .collect();
        let woken = woken.conclude(per_message, |_, results| Self::woken(results));
        sides.merge(observed, woken)
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

    fn observed(&self, seen: &Observed, result: Result<Attempt, DbErr>) -> Outcome {
        let event_id = &seen.meta.event_id;
        match result {
            Ok(attempt @ Attempt::Pending { .. }) => {
                // The link keeps the message (for its dead letter, should it come to that).
                tracing::info!(%event_id, ?attempt, "manager not there yet; the link waits");
                Outcome::Ack
            }
            Ok(Attempt::GaveUp { .. }) => Outcome::dead_letter(
                DeadLetterReason::ManagerNotFound,
                format!(
                    "no user of the company matched manager value {:?} within {:?}",
                    seen.value, self.max_pending_age
                ),
            ),
            Ok(attempt) => {
                tracing::info!(%event_id, outcome = %attempt.outcome(), "manager link processed");
                Outcome::Ack
            }
            Err(error) => errors::outcome(&error, event_id),
        }
    }

    /// One message's announcements: acknowledged once every one of them is settled.
    fn woken(results: Vec<Result<usize, DbErr>>) -> Outcome {
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
