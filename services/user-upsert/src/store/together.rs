//! Applying a batch of member events of distinct members together, in one transaction (see
//! the `store` module docs): what they share, and where the batch stops and goes on.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use scimsync_db::access;
use scimsync_db::entity::company;
use scimsync_db::event_log;
use scimsync_schema::change::{MemberChange, Tenant};
use scimsync_schema::stytch::Member;
use sea_orm::{DbErr, TransactionTrait};
use uuid::Uuid;

use super::matching;
use super::outcome::{Ahead, Context, Later, Step};
use super::{Applied, ProcessError, Store};
use crate::history::fold::{fold, MemberEvent, MemberState};
use crate::history::stored;
use crate::org;

/// An event whose member and company are known, ready for the batch's steps.
struct Prepared<'a> {
    change: &'a MemberChange,
    company: company::Model,
    member_id: String,
    member: Option<Member>,
    /// The state this event alone gives: the values the fold may take from it (its org
    /// entries, created ahead, and its keys, looked up once for the batch).
    own: MemberState,
}

/// How far a batch transaction went.
enum Together {
    /// Every event applied and committed.
    All(Vec<Applied>),
    /// The event at this position cannot be carried by the batch; nothing was committed.
    StopAt(usize),
}

impl Store {
    /// Applies the events in order and returns one result per event, as [`Store::apply_alone`] would
    /// have for each. Runs of events of distinct members share one transaction each; an event
    /// of a member already in the run starts the next run, so a member's events still apply
    /// one after the other.
    pub async fn apply(&self, changes: &[&MemberChange]) -> Vec<Result<Applied, ProcessError>> {
        let mut results: Vec<(usize, Result<Applied, ProcessError>)> =
            Vec::with_capacity(changes.len());
        let mut run: Vec<(usize, Prepared<'_>)> = Vec::new();
        let mut members = HashSet::new();
        for (index, change) in changes.iter().copied().enumerate() {
            if !change.provisioning {
                results.push((index, self.log_ignored(change).await));
                continue;
            }
            // An event that names no member or no company, or a company not registered, goes
            // the single path, which finds its companies or reports it.
            let named = match (&change.member_id, &change.tenant) {
                (Some(_), Tenant::Organization(_) | Tenant::Company(_)) => self
                    .companies
                    .find_tenant(&self.db, &change.tenant)
                    .await
                    .ok()
                    .flatten(),
                _ => None,
            };
            let (Some(company), Some(member_id)) = (named, change.member_id.clone()) else {
                results.push((index, self.apply_alone(change).await));
                continue;
            };
            let member = change.member.clone();
            if !members.insert(member_id.clone()) {
                self.apply_run(std::mem::take(&mut run), &mut results).await;
                members = HashSet::from([member_id.clone()]);
            }
            let own = fold(vec![MemberEvent {
                event_id: change.meta.event_id.clone(),
                timestamp: change.meta.timestamp,
                action: change.action.as_action(),
                member: member.clone(),
            }]);
            let prepared = Prepared {
                change,
                company,
                member_id,
                member,
                own,
            };
            run.push((index, prepared));
        }
        self.apply_run(run, &mut results).await;
        results.sort_by_key(|(index, _)| *index);
        results.into_iter().map(|(_, result)| result).collect()
    }

    async fn apply_run(
        &self,
        run: Vec<(usize, Prepared<'_>)>,
        results: &mut Vec<(usize, Result<Applied, ProcessError>)>,
    ) {
        if run.is_empty() {
            return;
        }
        let (indexes, items): (Vec<usize>, Vec<Prepared<'_>>) = run.into_iter().unzip();
        let created = self.create_entries_ahead(&items).await;
        let mut applied = Vec::with_capacity(items.len());
        let mut start = 0;
        while start < items.len() {
            let mut end = items.len();
            loop {
                match self.together(&items[start..end], &created).await {
                    Ok(Together::All(done)) => {
                        applied.extend(done.into_iter().map(Ok));
                        start = end;
                        break;
                    }
                    Ok(Together::StopAt(0)) => {
                        applied.push(self.apply_alone(items[start].change).await);
                        start += 1;
                        break;
                    }
                    // The events before the one that stopped it go together again.
                    Ok(Together::StopAt(k)) => end = start + k,
                    Err(error) => {
                        tracing::warn!(error = ?error, events = end - start, "batch failed; applying its events one by one");
                        for prepared in &items[start..end] {
                            applied.push(self.apply_alone(prepared.change).await);
                        }
                        start = end;
                        break;
                    }
                }
            }
        }
        results.extend(indexes.into_iter().zip(applied));
    }

    /// The org entries the events bring, created per company before the batch transaction. A
    /// failure here only means the transaction creates them itself.
    async fn create_entries_ahead(&self, items: &[Prepared<'_>]) -> org::Created {
        let mut by_company: BTreeMap<Uuid, BTreeSet<org::Value>> = BTreeMap::new();
        for prepared in items {
            by_company
                .entry(prepared.company.id)
                .or_default()
                .extend(org::values(&prepared.own));
        }
        let mut created = org::Created::new();
        for (company_id, values) in by_company {
            match org::create_entries(&self.db, company_id, &values).await {
                Ok(()) => {
                    created.insert(company_id, values);
                }
                Err(error) => tracing::warn!(error = ?error, "could not create org entries ahead"),
            }
        }
        created
    }

    async fn together(
        &self,
        items: &[Prepared<'_>],
        created: &org::Created,
    ) -> Result<Together, DbErr> {
        let txn = self.db.begin().await?;
        let members: Vec<String> = items.iter().map(|p| p.member_id.clone()).collect();
        access::lock_stytch_members(&txn, super::CONCERN, &members).await?;
        let new: Vec<stored::NewEvent<'_>> = items
            .iter()
            .map(|p| stored::NewEvent {
                company_id: p.company.id,
                change: p.change,
                member_id: &p.member_id,
                member: p.member.as_ref(),
            })
            .collect();
        let mut loaded = match stored::record_and_load_all(&txn, &new).await {
            Ok(stored) => stored,
            Err(error) => {
                let _ = txn.rollback().await;
                return Err(error);
            }
        };
        let mut unheld = match matching::Unheld::find(&txn, &keys(items)).await {
            Ok(unheld) => unheld,
            Err(error) => {
                let _ = txn.rollback().await;
                return Err(error);
            }
        };
        // The user records are written from here on.
        let keys: Vec<(Uuid, String)> = items
            .iter()
            .map(|p| (p.company.id, p.member_id.clone()))
            .collect();
        if let Err(error) = access::lock_members_of(&txn, &keys).await {
            let _ = txn.rollback().await;
            return Err(error);
        }
        let mut later = Later::default();
        let mut entries = Vec::with_capacity(items.len());
        let mut applied = Vec::with_capacity(items.len());
        let mut companies = BTreeSet::new();
        for (k, prepared) in items.iter().enumerate() {
            let ctx = Context {
                change: prepared.change,
                member_id: &prepared.member_id,
            };
            let step = self
                .apply_in(
                    &txn,
                    &ctx,
                    &prepared.company,
                    Ahead {
                        created,
                        stored: loaded.remove(&prepared.member_id).unwrap_or_default(),
                        unheld: &mut unheld,
                        later: Some(&mut later),
                    },
                )
                .await;
            match step {
                Ok(Step::Commit {
                    applied: done,
                    entry,
                }) => {
                    applied.push(done);
                    companies.insert(prepared.company.id);
                    entries.push(entry);
                }
                Ok(_) => {
                    txn.rollback().await?;
                    return Ok(Together::StopAt(k));
                }
                Err(error) => {
                    let _ = txn.rollback().await;
                    return Err(error);
                }
            }
        }
        // A new record whose email another writer took since the batch looked stops the batch
        // there: that event goes alone and is rejected as the single path rejects it (R3).
        let lost = match later.insert.flush(&txn).await {
            Ok(lost) => lost,
            Err(error) => {
                let _ = txn.rollback().await;
                return Err(error);
            }
        };
        if let Some(k) = applied
            .iter()
            .position(|a| a.user_id.is_some_and(|u| lost.contains(&u)))
        {
            txn.rollback().await?;
            return Ok(Together::StopAt(k));
        }
        if let Err(error) = later.attach.flush(&txn, created).await {
            let _ = txn.rollback().await;
            return Err(error);
        }
        let changes = match access::refresh(&txn, &later.refresh).await {
            Ok(changes) => changes,
            Err(error) => {
                let _ = txn.rollback().await;
                return Err(error);
            }
        };
        for entry in &mut entries {
            let Some(user_id) = entry.user_id.filter(|u| later.refresh.contains(u)) else {
                continue;
            };
            let own: Vec<&access::Change> =
                changes.iter().filter(|c| c.user_id == user_id).collect();
            entry.detail["access_changes"] = serde_json::json!(own);
        }
        event_log::record_all(&txn, &entries).await?;
        txn.commit().await?;
        for company_id in companies {
            if let Err(error) = self.touch_last_sync(company_id).await {
                tracing::warn!(error = ?error, %company_id, "could not record the company's last sync time");
            }
        }
        Ok(Together::All(applied))
    }
}

/// Each event's member id, external id and email, as the event itself gives them.
fn keys(items: &[Prepared<'_>]) -> Vec<(String, Option<String>, Option<String>)> {
    items
        .iter()
        .map(|p| {
            (
                p.member_id.clone(),
                p.own.external_id.clone(),
                p.own.email.clone(),
            )
        })
        .collect()
}
