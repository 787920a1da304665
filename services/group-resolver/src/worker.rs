//! group-resolver as a [`Worker`]: each change decoded to what it changes (a member's full-state
//! group list, a group event, an unreadable group event), a batch's lists applied together and
//! its group events one by one, failures classified.

use std::time::Duration;

use scimsync_db::access;
use scimsync_db::companies::Cache;
use scimsync_db::event_log;
use scimsync_platform::amqp::{Batch, Incoming, Outcome, Side, Worker};
use scimsync_schema::change::{Change, ChangeMeta, GroupChange, Tenant};
use scimsync_schema::topology::WorkQueue;
use scimsync_schema::{Concern, DeadLetterReason, EventOutcome, QueueMessage};
use sea_orm::{DatabaseConnection, DbErr};
use uuid::Uuid;

use crate::change::{recheck, refresh_present, user_ids, verdict, Listed, MembershipChange};
use crate::change::{Note, Unseen};
use crate::kind::DefaultGroups;
use crate::lists::List;

pub struct GroupResolver {
    pub db: DatabaseConnection,
    pub names: DefaultGroups,
    pub companies: Cache,
}

impl GroupResolver {
    pub fn new(db: DatabaseConnection, names: DefaultGroups) -> Self {
        Self {
            db,
            names,
            companies: Cache::new(Duration::from_secs(30)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    #[error("no company is registered for {0:?}")]
    UnknownTenant(Tenant),
    #[error("database error")]
    Database(#[from] DbErr),
}

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

    pub(crate) async fn company(&self, tenant: &Tenant) -> Result<Uuid, Failure> {
        self.companies
            .find_tenant(&self.db, tenant)
            .await?
            .map(|c| c.id)
            .ok_or_else(|| Failure::UnknownTenant(tenant.clone()))
    }

    /// The common end of a group event's membership change: recompute the member's activity
    /// and level, log, commit, take the second look if the member had no user record, then
    /// refresh the members of groups whose kind just changed.
    pub(crate) async fn finish(
        &self,
        txn: sea_orm::DatabaseTransaction,
        meta: &ChangeMeta,
        change: MembershipChange<'_>,
        note: Note,
    ) -> Result<EventOutcome, Failure> {
        let members = [change.member_id.to_owned()];
        let (users, changes) = refresh_present(&txn, change.company_id, &members).await?;
        let own = user_ids(&users);
        let (mut outcome, log) = verdict(meta, &change, &own, changes, &note);
        event_log::record(&txn, log).await?;
        txn.commit().await?;
        if own.is_empty() {
            let company_id = change.company_id;
            let unseen = [Unseen {
                meta,
                change: change.clone(),
                note,
            }];
            if let Some(new) = recheck(&self.db, company_id, &unseen).await?[0] {
                outcome = new;
            }
        }
        self.refresh_groups(change.company_id, &change.renamed)
            .await?;
        Ok(outcome)
    }

    /// Members of groups whose kind just changed get their levels recomputed.
    pub(crate) async fn refresh_groups(
        &self,
        company_id: Uuid,
        group_ids: &[String],
    ) -> Result<(), DbErr> {
        for group_id in group_ids {
            access::refresh_group_members(&self.db, company_id, group_id).await?;
        }
        Ok(())
    }
}
