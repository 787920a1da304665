//! Links applied in batches: runs of distinct members share one transaction, the company's
//! hierarchy lock is held only for the hierarchy writes, and links left pending look again once
//! committed. A database error falls back to one event at a time.

use scimsync_db::access;
use scimsync_db::entity::manager_link;
use scimsync_schema::message::UserProvisioned;
use sea_orm::{DatabaseTransaction, DbErr, TransactionTrait};
use uuid::Uuid;

use super::{connect, find_manager, pending_link, report, Attempt, Linker, Lookup, Observed};

impl Linker<'_> {
    /// A link left pending may have missed its wake-up: the announcement of the user it waits
    /// for can be handled after this transaction looked for that user and before its link
    /// became visible. Looking again once the link is committed closes the window: a user
    /// announced before the link was visible is visible now. Only links whose both ends are
    /// found now are settled again (in one transaction); the others wait for their wake-up.
    pub(super) async fn recheck(
        &self,
        seen: &[Observed<'_>],
        attempts: &mut [Attempt],
    ) -> Result<(), DbErr> {
        let mut candidates = Vec::new();
        for (index, (one, attempt)) in seen.iter().zip(attempts.iter()).enumerate() {
            let Attempt::Pending { reason, .. } = attempt else {
                continue;
            };
            let report_found = *reason != "report_not_provisioned"
                || report(self.db, one.company_id, one.member_id)
                    .await?
                    .is_some();
            if report_found
                && find_manager(self.db, one.company_id, one.value)
                    .await?
                    .is_some()
            {
                candidates.push(index);
            }
        }
        if candidates.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin().await?;
        let members: Vec<String> = candidates
            .iter()
            .map(|i| seen[*i].member_id.to_owned())
            .collect();
        access::lock_members(&txn, &members).await?;
        let mut links = Vec::new();
        let mut settled_for = Vec::new();
        for index in candidates {
            if let Some(link) =
                pending_link(&txn, seen[index].company_id, seen[index].member_id).await?
            {
                links.push((link, None));
                settled_for.push(index);
            }
        }
        let settled = self.settle_all(&txn, links).await?;
        txn.commit().await?;
        for (index, attempt) in settled_for.into_iter().zip(settled) {
            attempts[index] = attempt;
        }
        Ok(())
    }

    /// [`Linker::observe`] for a batch: runs of distinct members share one transaction (one
    /// statement locking them all, the company's hierarchy lock taken once). A database error
    /// falls back to one transaction per event.
    pub async fn observe_all(&self, seen: &[Observed<'_>]) -> Vec<Result<Attempt, DbErr>> {
        let mut results = Vec::with_capacity(seen.len());
        let mut start = 0;
        while start < seen.len() {
            let mut members = std::collections::HashSet::new();
            let end = seen[start..]
                .iter()
                .position(|s| !members.insert(s.member_id))
                .map_or(seen.len(), |n| start + n);
            let run = &seen[start..end];
            match self.observe_together(run).await {
                Ok(mut attempts) if run.len() > 1 => {
                    if let Err(error) = self.recheck(run, &mut attempts).await {
                        // They stay pending: retried on the delay tiers as before.
                        tracing::warn!(error = ?error, "could not look at pending links again");
                    }
                    results.extend(attempts.into_iter().map(Ok));
                }
                _ => {
                    for one in run {
                        results.push(self.observe(one).await);
                    }
                }
            }
            start = end;
        }
        results
    }

    async fn observe_together(&self, run: &[Observed<'_>]) -> Result<Vec<Attempt>, DbErr> {
        if run.len() < 2 {
            return Ok(Vec::new());
        }
        let txn = self.db.begin().await?;
        let members: Vec<String> = run.iter().map(|s| s.member_id.to_owned()).collect();
        match self.observe_within(&txn, run, &members).await {
            Ok(attempts) => {
                txn.commit().await?;
                Ok(attempts)
            }
            Err(error) => {
                tracing::warn!(error = ?error, events = run.len(), "batch failed; applying its events one by one");
                let _ = txn.rollback().await;
                Err(error)
            }
        }
    }

    async fn observe_within(
        &self,
        txn: &DatabaseTransaction,
        run: &[Observed<'_>],
        members: &[String],
    ) -> Result<Vec<Attempt>, DbErr> {
        access::lock_members(txn, members).await?;
        let mut stored = Vec::with_capacity(run.len());
        for seen in run {
            stored.push(self.store_value(txn, seen).await?);
        }
        let links: Vec<(manager_link::Model, Option<&str>)> = stored
            .iter()
            .filter_map(|s| s.as_ref().ok().map(|link| (link.clone(), None)))
            .collect();
        let mut settled = self.settle_all(txn, links).await?.into_iter();
        Ok(stored
            .into_iter()
            .map(|s| match s {
                Ok(_) => settled.next().unwrap_or(Attempt::Stale),
                Err(attempt) => attempt,
            })
            .collect())
    }

    /// [`Linker::wake`] for a batch of announcements: every link they wake is settled in one
    /// transaction. A database error falls back to one announcement at a time.
    pub async fn wake_all(&self, announcements: &[&UserProvisioned]) -> Vec<Result<usize, DbErr>> {
        if announcements.len() < 2 {
            let mut results = Vec::new();
            for provisioned in announcements {
                results.push(self.wake(provisioned).await);
            }
            return results;
        }
        match self.wake_together(announcements).await {
            Ok(resolved) => resolved.into_iter().map(Ok).collect(),
            Err(error) => {
                tracing::warn!(error = ?error, events = announcements.len(), "batch failed; applying its events one by one");
                let mut results = Vec::new();
                for provisioned in announcements {
                    results.push(self.wake(provisioned).await);
                }
                results
            }
        }
    }

    async fn wake_together(&self, announcements: &[&UserProvisioned]) -> Result<Vec<usize>, DbErr> {
        // Which announcement wakes which link; a link woken by two is settled once.
        let mut links: std::collections::BTreeMap<(Uuid, String), usize> = Default::default();
        for (index, provisioned) in announcements.iter().enumerate() {
            for link in self.awaiting(provisioned).await? {
                links.entry(link).or_insert(index);
            }
        }
        let mut resolved = vec![0; announcements.len()];
        if links.is_empty() {
            return Ok(resolved);
        }
        let txn = self.db.begin().await?;
        match self.wake_within(&txn, &links, announcements).await {
            Ok(woke) => {
                txn.commit().await?;
                for index in woke {
                    resolved[index] += 1;
                }
                Ok(resolved)
            }
            Err(error) => {
                let _ = txn.rollback().await;
                Err(error)
            }
        }
    }

    /// Settles the woken links; returns, per resolved link, the announcement that woke it.
    async fn wake_within(
        &self,
        txn: &DatabaseTransaction,
        links: &std::collections::BTreeMap<(Uuid, String), usize>,
        announcements: &[&UserProvisioned],
    ) -> Result<Vec<usize>, DbErr> {
        let members: Vec<String> = links.keys().map(|(_, m)| m.clone()).collect();
        access::lock_members(txn, &members).await?;
        let mut pending = Vec::new();
        for ((company_id, member_id), index) in links {
            if let Some(link) = pending_link(txn, *company_id, member_id).await? {
                pending.push((link, *index));
            }
        }
        let woken: Vec<(manager_link::Model, Option<&str>)> = pending
            .iter()
            .map(|(link, index)| (link.clone(), Some(announcements[*index].event_id.as_str())))
            .collect();
        let attempts = self.settle_all(txn, woken).await?;
        Ok(pending
            .iter()
            .zip(attempts)
            .filter(|(_, attempt)| !matches!(attempt, Attempt::Pending { .. }))
            .map(|((_, index), _)| *index)
            .collect())
    }

    /// Settles several links in one transaction holding their members' locks: every lookup
    /// first, then the hierarchy changes (the company's hierarchy lock is held from the first
    /// one to the commit, so the part under it is kept short), one activity and level refresh,
    /// then statuses and log entries. `woken_by` per link as in [`Linker::settle`].
    async fn settle_all(
        &self,
        txn: &DatabaseTransaction,
        links: Vec<(manager_link::Model, Option<&str>)>,
    ) -> Result<Vec<Attempt>, DbErr> {
        let mut lookups = Vec::with_capacity(links.len());
        for (link, woken_by) in &links {
            lookups.push(self.lookup(txn, link, woken_by.is_none()).await?);
        }
        let mut affected = Vec::new();
        let mut attempts = Vec::with_capacity(links.len());
        // Hierarchy locks per company, taken once each (a batch is almost always one company).
        let mut held: std::collections::HashMap<Uuid, bool> = Default::default();
        for ((link, _), lookup) in links.iter().zip(lookups) {
            attempts.push(match lookup {
                Lookup::Settled(attempt) => attempt,
                Lookup::Candidate { user, manager } => {
                    let held = held.entry(link.company_id).or_default();
                    connect(txn, link.company_id, user, manager, held, &mut affected).await?
                }
            });
        }
        affected.sort();
        affected.dedup();
        access::refresh(txn, &affected).await?;
        for ((link, woken_by), attempt) in links.iter().zip(&attempts) {
            self.record(txn, link, attempt, *woken_by).await?;
        }
        Ok(attempts)
    }
}
