//! group-resolver as a [`Worker`]: each change decoded to what it changes (a member's full-state
//! group list, a group event, an unreadable group event), a batch's lists applied together and
//! its group events one by one, failures classified.

use scimsync_platform::amqp::{Batch, Incoming, Outcome, Side, Worker};
use scimsync_schema::change::{Change, ChangeMeta, GroupChange};
use scimsync_schema::topology::WorkQueue;
use scimsync_schema::{Concern, DeadLetterReason, EventOutcome, QueueMessage};

use crate::lists::{List, Listed};
use crate::resolver::{Failure, GroupResolver};

/// A change as group-resolver applies it.
pub enum Item {
    /// A member event's full-state group list.
    List(List),
    /// A group event.
    Event(GroupEvent),
}

/// A `scim.idp_group.*` event, or the SCIM door's group change.
pub enum GroupEvent {
    /// A group created, renamed or deleted, or one membership added or removed.
    Change(Box<GroupChange>),
    /// A group event whose body cannot be read.
    Unparseable {
        meta: ChangeMeta,
        organization_id: Option<String>,
        reason: String,
        raw: String,
    },
}

impl GroupEvent {
    fn meta(&self) -> &ChangeMeta {
        match self {
            Self::Change(group) => &group.meta,
            Self::Unparseable { meta, .. } => meta,
        }
    }
}

fn conclude(meta: &ChangeMeta, result: Result<EventOutcome, Failure>) -> Outcome {
    match result {
        Ok(outcome) => {
            tracing::info!(event_id = %meta.event_id, event_type = %meta.event_type, door = meta.door.as_str(), %outcome, "group event processed");
            Outcome::Ack
        }
        Err(error @ Failure::UnknownTenant(_)) => {
            Outcome::dead_letter(DeadLetterReason::UnknownOrganization, error.to_string())
        }
        Err(Failure::Database(error)) => scimsync_db::errors::outcome(&error, &meta.event_id),
    }
}

impl Worker for GroupResolver {
    const NAME: &'static str = Concern::GroupResolver.as_str();
    const QUEUE: WorkQueue = Concern::GroupResolver.queue();
    type Item = Item;

    async fn decode(&self, message: &Incoming) -> Result<Item, Outcome> {
        let decoded = QueueMessage::from_bytes(&message.body).map_err(|error| {
            Outcome::dead_letter(
                DeadLetterReason::Undecodable,
                format!("not a scimsync queue message: {error}"),
            )
        })?;
        // Either door's change (a webhook validated again: the queue is a trust boundary too).
        let change = match decoded.change() {
            Some(Ok(change)) => change,
            Some(Err(error)) => {
                let reason = DeadLetterReason::SchemaViolation;
                return Err(Outcome::dead_letter(reason, error.to_string()));
            }
            None => {
                return Err(Outcome::dead_letter(
                    DeadLetterReason::UnexpectedMessage,
                    format!("group-resolver does not handle {}", decoded.event_id()),
                ))
            }
        };
        match change {
            Change::Member(member) => match self.list_of(&member).await {
                Ok(Listed::List(list)) => Ok(Item::List(list)),
                Ok(Listed::Skip(outcome)) => Err(conclude(&member.meta, Ok(outcome))),
                Err(failure) => Err(conclude(&member.meta, Err(failure))),
            },
            Change::Group(group) => Ok(Item::Event(GroupEvent::Change(group))),
            Change::UnparseableGroup {
                meta,
                organization_id,
                reason,
                raw,
            } => Ok(Item::Event(GroupEvent::Unparseable {
                meta,
                organization_id,
                reason,
                raw,
            })),
            Change::Other(meta) => Err(Outcome::dead_letter(
                DeadLetterReason::UnexpectedEventType,
                format!("group-resolver does not handle {}", meta.event_type),
            )),
        }
    }

    /// Member group lists are applied together; group events one by one, in order.
    async fn apply(&self, batch: Batch<Item>) -> Vec<Outcome> {
        let (lists, events, sides) = batch.split(|item| match item {
            Item::List(list) => Side::Left(list),
            Item::Event(event) => Side::Right(event),
        });
        let results = self.apply_lists(lists.items()).await;
        let lists = lists.conclude(results, |list, result| conclude(&list.meta, result));
        let mut results = Vec::with_capacity(events.len());
        for event in events.items() {
            results.push(self.apply_event(event).await);
        }
        let events = events.conclude(results, |event, result| conclude(event.meta(), result));
        sides.merge(lists, events)
    }
}

impl GroupResolver {
    async fn apply_event(&self, event: &GroupEvent) -> Result<EventOutcome, Failure> {
        match event {
            GroupEvent::Change(group) => self.group_event(group).await,
            GroupEvent::Unparseable {
                meta,
                organization_id,
                reason,
                raw,
            } => {
                self.unparseable(meta, organization_id.as_deref(), reason, raw)
                    .await
            }
        }
    }
}
