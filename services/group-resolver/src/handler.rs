//! Routes each event to what it changes, writes the event log, classifies failures.

use std::time::Duration;

use scimsync_db::access;
use scimsync_db::companies::Cache;
use scimsync_db::event_log;
use scimsync_platform::amqp::{Handler, Incoming, Outcome};
use scimsync_schema::change::{Change, ChangeAction, ChangeMeta, MemberChange, Tenant};
use scimsync_schema::QueueMessage;
use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use serde_json::json;
use tracing::Instrument;
use uuid::Uuid;

use crate::change::{
    recheck, refresh_present, user_ids, verdict, List, Listed, MembershipChange, Note, Unseen,
};
use crate::groups;
use crate::kind::DefaultGroups;
use crate::memberships;

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

fn decode(message: &Incoming) -> Result<Change, Outcome> {
    let decoded = QueueMessage::from_bytes(&message.body).map_err(|error| Outcome::DeadLetter {
        reason: "undecodable".into(),
        detail: format!("not a scimsync queue message: {error}"),
    })?;
    // Either door's change (a webhook validated again: the queue is a trust boundary too).
    match decoded.change() {
        Some(Ok(change)) => Ok(change),
        Some(Err(error)) => Err(Outcome::DeadLetter {
            reason: "schema_violation".into(),
            detail: error.to_string(),
        }),
        None => Err(Outcome::DeadLetter {
            reason: "unexpected_message".into(),
            detail: format!("group-resolver does not handle {}", decoded.event_id()),
        }),
    }
}

fn conclude(meta: &ChangeMeta, result: Result<&'static str, Failure>) -> Outcome {
    match result {
        Ok(outcome) => {
            tracing::info!(event_id = %meta.event_id, event_type = %meta.event_type, door = meta.door.as_str(), outcome, "group event processed");
            Outcome::Ack
        }
        Err(error @ Failure::UnknownTenant(_)) => Outcome::DeadLetter {
            reason: "unknown_organization".into(),
            detail: error.to_string(),
        },
        Err(Failure::Database(error)) => scimsync_db::errors::outcome(&error, &meta.event_id),
    }
}

impl Handler for GroupResolver {
    async fn handle(&self, message: &Incoming) -> Outcome {
        let change = match decode(message) {
            Ok(change) => change,
            Err(outcome) => return outcome,
        };
        match &change {
            Change::Member(member) => conclude(&member.meta, self.member_list(member).await),
            Change::Group(group) => conclude(&group.meta, self.group_event(group).await),
            Change::UnparseableGroup {
                meta,
                organization_id,
                reason,
                raw,
            } => conclude(
                meta,
                self.unparseable(meta, organization_id.as_deref(), reason, raw)
                    .await,
            ),
            Change::Other(meta) => Outcome::DeadLetter {
                reason: "unexpected_event_type".into(),
                detail: format!("group-resolver does not handle {}", meta.event_type),
            },
        }
    }

    /// Member group lists are applied together; everything else on its own.
    async fn handle_batch(&self, messages: &[Incoming]) -> Vec<Outcome> {
        let decoded: Vec<_> = messages.iter().map(decode).collect();
        let mut lists = Vec::new();
        let mut outcomes: Vec<Option<Outcome>> = (0..messages.len()).map(|_| None).collect();
        for (index, decoded) in decoded.iter().enumerate() {
            let Ok(Change::Member(change)) = decoded else {
                continue;
            };
            match self.list_of(change).await {
                Ok(Listed::List(list)) => lists.push((index, list)),
                Ok(Listed::Skip(outcome)) => {
                    outcomes[index] = Some(conclude(&change.meta, Ok(outcome)))
                }
                Err(failure) => outcomes[index] = Some(conclude(&change.meta, Err(failure))),
            }
        }
        let (indexes, lists): (Vec<usize>, Vec<List<'_>>) = lists.into_iter().unzip();
        let results = self.apply_lists(&lists).await;
        for ((index, list), result) in indexes.into_iter().zip(&lists).zip(results) {
            let _entered = messages[index].span.enter();
            outcomes[index] = Some(conclude(list.meta, result));
        }
        let mut all = Vec::with_capacity(messages.len());
        for ((message, decoded), outcome) in messages.iter().zip(decoded).zip(outcomes) {
            let outcome = match (outcome, decoded) {
                (Some(outcome), _) => outcome,
                (None, Err(outcome)) => outcome,
                (None, Ok(_)) => self.handle(message).instrument(message.span.clone()).await,
            };
            all.push(outcome);
        }
        all
    }
}

impl GroupResolver {
    pub(crate) async fn company(&self, tenant: &Tenant) -> Result<Uuid, Failure> {
        self.companies
            .find_tenant(&self.db, tenant)
            .await?
            .map(|c| c.id)
            .ok_or_else(|| Failure::UnknownTenant(tenant.clone()))
    }

    /// Member create/update: its `groups` list is the full state of its memberships.
    async fn member_list(&self, change: &MemberChange) -> Result<&'static str, Failure> {
        match self.list_of(change).await? {
            Listed::Skip(outcome) => Ok(outcome),
            Listed::List(list) => self.apply_list(&list).await,
        }
    }

    /// The full-state group list a member event carries, if it carries one.
    pub(crate) async fn list_of<'a>(
        &self,
        change: &'a MemberChange,
    ) -> Result<Listed<'a>, Failure> {
        if !change.provisioning || change.action == ChangeAction::Delete {
            return Ok(Listed::Skip("ignored"));
        }
        let Some(member) = &change.member else {
            return Ok(Listed::Skip("ignored"));
        };
        let Some(groups) = member.scim().and_then(|s| s.groups.clone()) else {
            return Ok(Listed::Skip("no_group_list"));
        };
        let Some(member_id) = change.member_id.clone() else {
            return Ok(Listed::Skip("ignored"));
        };
        if change.tenant == Tenant::Unnamed {
            return Ok(Listed::Skip("ignored"));
        }
        let company_id = self.company(&change.tenant).await?;
        let named: Vec<(String, Option<String>)> = groups
            .iter()
            .filter_map(|g| g.value.clone().map(|id| (id, g.display.clone())))
            .collect();
        Ok(Listed::List(List {
            meta: &change.meta,
            at: change.meta.timestamp,
            company_id,
            member_id,
            named,
        }))
    }

    pub(crate) async fn apply_list(&self, list: &List<'_>) -> Result<&'static str, Failure> {
        let ids = list.ids();
        let txn = self.db.begin().await?;
        access::lock_concern(
            &txn,
            crate::CONCERN,
            list.company_id,
            std::slice::from_ref(&list.member_id),
        )
        .await?;
        // Groups the list names, plus groups the member is leaving.
        let mut touched = ids.clone();
        touched.extend(memberships::current_groups(&txn, list.company_id, &list.member_id).await?);
        access::lock_groups_shared(&txn, list.company_id, &touched).await?;
        let renamed = groups::ensure(&txn, list.company_id, &list.named, &self.names).await?;
        let applied =
            memberships::sync_list(&txn, list.company_id, &list.member_id, &ids, list.at).await?;
        let change = MembershipChange {
            company_id: list.company_id,
            member_id: &list.member_id,
            applied,
            base: "memberships_synced",
            renamed,
        };
        self.finish(txn, list.meta, change, ("groups", json!(ids)))
            .await
    }

    /// The common end of a membership change: recompute the member's activity and level, log,
    /// commit, take the second look if the member had no user record, then refresh the members
    /// of groups whose kind just changed.
    pub(crate) async fn finish(
        &self,
        txn: sea_orm::DatabaseTransaction,
        meta: &ChangeMeta,
        change: MembershipChange<'_>,
        note: Note,
    ) -> Result<&'static str, Failure> {
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
