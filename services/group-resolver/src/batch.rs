//! Applying a batch of member group lists together: one transaction, one statement taking
//! group-resolver's lock on every member, one reading their current groups, one taking the
//! groups' shared locks, one making sure the groups exist, three writing every list and its
//! memberships, one finding the members' users, one taking the member locks every worker shares
//! for the members that have one, one refreshing their activity and level, one event log insert:
//! nothing per list. Members without a user record get one short second look after the commit
//! ([`change::recheck`]). A database error falls back to one transaction per list, so one bad
//! event never holds the others back.

use std::collections::HashSet;

use scimsync_db::access;
use scimsync_db::event_log::{self, Entry};
use sea_orm::{DbErr, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use crate::change::{self, verdict, List, MembershipChange, Unseen};
use crate::groups;
use crate::handler::{Failure, GroupResolver};
use crate::memberships;

impl GroupResolver {
    /// Applies the lists in order, one result each, as `apply_list` would have for each. Runs
    /// of lists of distinct members of one company share a transaction.
    pub(crate) async fn apply_lists(
        &self,
        lists: &[List<'_>],
    ) -> Vec<Result<&'static str, Failure>> {
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
            if let [list] = run {
                results.push(self.apply_list(list).await);
                start = end;
                continue;
            }
            match self.together(company_id, run).await {
                Ok(outcomes) => results.extend(outcomes.into_iter().map(Ok)),
                Err(error) => {
                    tracing::warn!(error = ?error, events = run.len(), "batch failed; applying its events one by one");
                    for list in run {
                        results.push(self.apply_list(list).await);
                    }
                }
            }
            start = end;
        }
        results
    }

    async fn together(
        &self,
        company_id: Uuid,
        run: &[List<'_>],
    ) -> Result<Vec<&'static str>, DbErr> {
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
        run: &'a [List<'a>],
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
                base: "memberships_synced",
                renamed: Vec::new(),
            };
            let note = ("groups", json!(ids));
            let (outcome, entry) = verdict(list.meta, &change, &own, own_changes, &note);
            done.outcomes.push(outcome);
            done.entries.push(entry);
            if own.is_empty() {
                let meta = list.meta;
                done.unseen.push((index, Unseen { meta, change, note }));
            }
        }
        Ok(done)
    }
}

/// What a batch's transaction did: an outcome and a log entry per list, the groups it renamed,
/// and the lists whose members had no user record (with their index in the batch).
struct Done<'a> {
    outcomes: Vec<&'static str>,
    entries: Vec<Entry<'a>>,
    renamed: Vec<String>,
    unseen: Vec<(usize, Unseen<'a>)>,
}
