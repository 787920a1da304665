//! Members' full-state group lists (a member event's `groups`): each list is the whole of its
//! member's memberships at the event's time. Lists of distinct members of one company are
//! applied together: one transaction, one statement taking group-resolver's lock on every
//! member, one reading their current groups, one taking the groups' shared locks, one making
//! sure the groups exist, three writing every list and its memberships, one finding the
//! members' users, one taking the member locks every worker shares for the members that have
//! one, one refreshing their activity and level, one event log insert: nothing per list. A
//! single list is a run of one. Members without a user record get one short second look after
//! the commit ([`change::recheck`]). A database error falls back to one transaction per list,
//! so one bad event never holds the others back.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use scimsync_db::access;
use scimsync_db::event_log::{self, Entry};
use scimsync_schema::change::{ChangeAction, ChangeMeta, MemberChange, Tenant};
use scimsync_schema::EventOutcome;
use sea_orm::{DbErr, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use crate::change::{self, verdict, MembershipChange, Unseen};
use crate::groups;
use crate::memberships;
use crate::resolver::{Failure, GroupResolver};

/// A member event's full-state group list.
pub struct List {
    pub meta: ChangeMeta,
    pub at: DateTime<Utc>,
    pub company_id: Uuid,
    pub member_id: String,
    /// The groups it names, with their display names where the event gives them.
    pub named: Vec<(String, Option<String>)>,
}

/// What a member event brings group-resolver: a list to apply, or nothing.
pub(crate) enum Listed {
    List(List),
    /// Nothing to apply; logged with this outcome.
    Skip(EventOutcome),
}

impl List {
    pub fn ids(&self) -> Vec<String> {
        self.named.iter().map(|(id, _)| id.clone()).collect()
    }
}

impl GroupResolver {
    /// The full-state group list a member event carries, if it carries one.
    pub(crate) async fn list_of(&self, change: &MemberChange) -> Result<Listed, Failure> {
        if !change.provisioning || change.action == ChangeAction::Delete {
            return Ok(Listed::Skip(EventOutcome::Ignored));
        }
        let Some(member) = &change.member else {
            return Ok(Listed::Skip(EventOutcome::Ignored));
        };
        let Some(groups) = member.scim().and_then(|s| s.groups.clone()) else {
            return Ok(Listed::Skip(EventOutcome::NoGroupList));
        };
        let Some(member_id) = change.member_id.clone() else {
            return Ok(Listed::Skip(EventOutcome::Ignored));
        };
        if change.tenant == Tenant::Unnamed {
            return Ok(Listed::Skip(EventOutcome::Ignored));
        }
        let company_id = self.company(&change.tenant).await?;
        let named: Vec<(String, Option<String>)> = groups
            .iter()
            .filter_map(|g| g.value.clone().map(|id| (id, g.display.clone())))
            .collect();
        Ok(Listed::List(List {
            meta: change.meta.clone(),
            at: change.meta.timestamp,
            company_id,
            member_id,
            named,
        }))
    }

    /// Applies the lists in order, one result each. Runs of lists of distinct members of one
    /// company share a transaction.
    pub(crate) async fn apply_lists(&self, lists: &[List]) -> Vec<Result<EventOutcome, Failure>> {
        let mut results = Vec::with_capacity(lists.len());
        let mut start = 0;
        while start < lists.len() {
            let company_id = lists[start].company_id;
            let mut members = HashSet::new();
            let end = lists[start..]
                .iter()
                .position(|l| l.company_id != company_id || !members.insert(&l.member_id))
                .map_or(lists.len(), |n| start + n);
            let run = &lists[start..end];
            match self.together(company_id, run).await {
                Ok(outcomes) => results.extend(outcomes.into_iter().map(Ok)),
                Err(error) if run.len() > 1 => {
                    tracing::warn!(error = ?error, events = run.len(), "batch failed; applying its events one by one");
                    for list in run {
                        match self.together(company_id, std::slice::from_ref(list)).await {
                            Ok(outcomes) => results.extend(outcomes.into_iter().map(Ok)),
                            Err(error) => results.push(Err(error.into())),
                        }
                    }
                }
                Err(error) => results.push(Err(error.into())),
            }
            start = end;
        }
        results
    }

    async fn together(&self, company_id: Uuid, run: &[List]) -> Result<Vec<EventOutcome>, DbErr> {
        let txn = self.db.begin().await?;
        let mut done = match self.within(&txn, company_id, run).await {
            Ok(done) => done,
            Err(error) => {
                let _ = txn.rollback().await;
                return Err(error);
            }
        };
        event_log::record_all(&txn, &done.entries).await?;
        txn.commit().await?;
        let (indices, unseen): (Vec<usize>, Vec<Unseen<'_>>) = done.unseen.drain(..).unzip();
        let rechecked = change::recheck(&self.db, company_id, &unseen).await?;
        for (index, outcome) in indices.into_iter().zip(rechecked) {
            if let Some(outcome) = outcome {
                done.outcomes[index] = outcome;
            }
        }
        self.refresh_groups(company_id, &done.renamed).await?;
        Ok(done.outcomes)
    }

    async fn within<'a>(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        company_id: Uuid,
        run: &'a [List],
    ) -> Result<Done<'a>, DbErr> {
        let members: Vec<String> = run.iter().map(|l| l.member_id.clone()).collect();
        access::lock_concern(txn, crate::CONCERN, company_id, &members).await?;
        // Groups the lists name, plus groups the members are leaving.
        let mut touched: Vec<String> = run.iter().flat_map(List::ids).collect();
        touched.extend(
            memberships::current_groups_of(txn, company_id, &members)
                .await?
                .into_iter()
                .map(|(_, group)| group),
        );
        access::lock_groups_shared(txn, company_id, &touched).await?;
        let named: Vec<(String, Option<String>)> =
            run.iter().flat_map(|l| l.named.iter().cloned()).collect();
        let renamed = groups::ensure(txn, company_id, &named, &self.names).await?;
        let ids: Vec<Vec<String>> = run.iter().map(List::ids).collect();
        let lists: Vec<(&str, &[String], _)> = run
            .iter()
            .zip(&ids)
            .map(|(l, ids)| (l.member_id.as_str(), ids.as_slice(), l.at))
            .collect();
        let applied = memberships::sync_lists(txn, company_id, &lists).await?;
        // Every member's activity and level in one refresh; members with no user record yet
        // get their second look after the commit.
        let (users, changes) = change::refresh_present(txn, company_id, &members).await?;
        let mut done = Done {
            outcomes: Vec::with_capacity(run.len()),
            entries: Vec::with_capacity(run.len()),
            renamed,
            unseen: Vec::new(),
        };
        for (index, (list, ids)) in run.iter().zip(ids).enumerate() {
            let (own, own_changes) = change::own(&users, &changes, &list.member_id);
            let change = MembershipChange {
                company_id,
                member_id: &list.member_id,
                applied: applied.contains(&list.member_id),
                base: EventOutcome::MembershipsSynced,
                renamed: Vec::new(),
            };
            let note = ("groups", json!(ids));
            let (outcome, entry) = verdict(&list.meta, &change, &own, own_changes, &note);
            done.outcomes.push(outcome);
            done.entries.push(entry);
            if own.is_empty() {
                let meta = &list.meta;
                done.unseen.push((index, Unseen { meta, change, note }));
            }
        }
        Ok(done)
    }
}

/// What a run's transaction did: an outcome and a log entry per list, the groups it renamed,
/// and the lists whose members had no user record (with their index in the run).
struct Done<'a> {
    outcomes: Vec<EventOutcome>,
    entries: Vec<Entry<'a>>,
    renamed: Vec<String>,
    unseen: Vec<(usize, Unseen<'a>)>,
}
