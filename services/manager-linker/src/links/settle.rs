//! How links are settled: a member event's manager value observed and resolved, the links new
//! users complete woken, and a pending link looked at again once committed. Runs of distinct
//! members share one transaction, every read and write of the run is one statement for all its
//! links (`people`, `stored`, `waiting`), and the member locks every worker shares and the
//! company's hierarchy lock are held only for the hierarchy writes. A database error falls back to one event at a time. The
//! sweep (`super::sweep`) looks at links still pending later, from the database.

use std::collections::{BTreeMap, HashMap};

use scimsync_db::access;
use scimsync_db::entity::manager_link;
use scimsync_db::event_log::{self, Entry};
use scimsync_db::hierarchy;
use scimsync_schema::message::UserProvisioned;
use sea_orm::{DatabaseTransaction, DbErr, TransactionTrait};
use uuid::Uuid;

use super::{
    connected, is_open, Attempt, By, Found, Linker, Lookup, Observed, Stored, LINKS_PER_TRANSACTION,
};
use super::{people, stored, waiting, Key};

pub(super) fn key(company_id: Uuid, member_id: &str) -> Key {
    (company_id, member_id.to_owned())
}

impl Linker<'_> {
    /// The events' values, each recorded and resolved if possible: runs of distinct members
    /// share one transaction. A database error falls back to one transaction per event.
    pub async fn observe(&self, seen: &[Observed]) -> Vec<Result<Attempt, DbErr>> {
        let mut results = Vec::with_capacity(seen.len());
        let mut start = 0;
        while start < seen.len() {
            let mut members = std::collections::HashSet::new();
            let end = seen[start..]
                .iter()
                .position(|s| !members.insert(&s.member_id))
                .map_or(seen.len(), |n| start + n);
            let run = &seen[start..end];
            match self.observe_run(run).await {
                Ok(attempts) => results.extend(attempts.into_iter().map(Ok)),
                Err(error) if run.len() > 1 => {
                    tracing::warn!(error = ?error, events = run.len(), "batch failed; applying its events one by one");
                    for one in run {
                        let attempt = self.observe_run(std::slice::from_ref(one)).await;
                        results.push(attempt.map(|mut a| a.swap_remove(0)));
                    }
                }
                Err(error) => results.push(Err(error)),
            }
            start = end;
        }
        results
    }

    /// One run of distinct members in one transaction, then a second look at the links left
    /// pending.
    async fn observe_run(&self, run: &[Observed]) -> Result<Vec<Attempt>, DbErr> {
        let txn = self.db.begin().await?;
        let mut managers = Vec::new();
        let mut attempts = match self.observe_within(&txn, run, &mut managers).await {
            Ok(attempts) => {
                txn.commit().await?;
                self.refresh_managers(&managers).await;
                attempts
            }
            Err(error) => {
                let _ = txn.rollback().await;
                return Err(error);
            }
        };
        if let Err(error) = self.recheck(run, &mut attempts).await {
            // They stay pending: the sweep looks at them again.
            tracing::warn!(error = ?error, "could not look at pending links again");
        }
        Ok(attempts)
    }

    async fn observe_within(
        &self,
        txn: &DatabaseTransaction,
        run: &[Observed],
        managers: &mut Vec<Uuid>,
    ) -> Result<Vec<Attempt>, DbErr> {
        let keys: Vec<Key> = run
            .iter()
            .map(|s| key(s.company_id, &s.member_id))
            .collect();
        access::lock_concern_of(txn, crate::CONCERN, &keys).await?;
        let current = stored::links_for_update(txn, &keys).await?;
        let stored: Vec<Stored<'_>> = run
            .iter()
            .zip(&keys)
            .map(|(seen, key)| self.store_value(current.get(key), seen))
            .collect();
        let ended: Vec<Entry<'_>> = stored
            .iter()
            .filter_map(|s| match s {
                Stored::Done(_, entry) => entry.clone(),
                Stored::Link(_) => None,
            })
            .collect();
        event_log::record_all(txn, &ended).await?;
        let links: Vec<(manager_link::Model, By<'_>)> = stored
            .iter()
            .zip(run)
            .filter_map(|(s, seen)| match s {
                Stored::Link(link) => Some((link.clone(), By::Event(seen.message.as_kept()))),
                Stored::Done(..) => None,
            })
            .collect();
        let mut settled = self
            .settle_all(txn, links, true, managers)
            .await?
            .into_iter();
        Ok(stored
            .into_iter()
            .map(|s| match s {
                Stored::Link(_) => settled.next().unwrap_or(Attempt::Stale),
                Stored::Done(attempt, _) => attempt,
            })
            .collect())
    }

    /// A link left pending may have missed its wake-up: the announcement of the user it waits
    /// for can be handled after this transaction looked for that user and before its link
    /// became visible. Looking again once the link is committed closes the window: a user
    /// announced before the link was visible is visible now. Only links whose both ends are
    /// found now are settled again (in one transaction); the others wait for their wake-up.
    async fn recheck(&self, seen: &[Observed], attempts: &mut [Attempt]) -> Result<(), DbErr> {
        let pending: Vec<usize> = (0..seen.len())
            .filter(|i| matches!(attempts[*i], Attempt::Pending { .. }))
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        let reports: Vec<Key> = pending
            .iter()
            .map(|i| key(seen[*i].company_id, &seen[*i].member_id))
            .collect();
        let values: Vec<Key> = pending
            .iter()
            .map(|i| key(seen[*i].company_id, &seen[*i].value))
            .collect();
        let found = Found {
            reports: people::reports(self.db, &reports).await?,
            managers: people::managers(self.db, &values).await?,
        };
        let candidates: Vec<usize> = pending
            .into_iter()
            .zip(reports.iter().zip(&values))
            .filter(|(_, (report, value))| {
                found.reports.contains_key(report) && found.managers.contains_key(value)
            })
            .map(|(index, _)| index)
            .collect();
        if candidates.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin().await?;
        let keys: Vec<Key> = candidates
            .iter()
            .map(|i| key(seen[*i].company_id, &seen[*i].member_id))
            .collect();
        access::lock_concern_of(&txn, crate::CONCERN, &keys).await?;
        let mut locked = stored::links_for_update(&txn, &keys).await?;
        let mut links = Vec::new();
        let mut settled_for = Vec::new();
        for (index, key) in candidates.into_iter().zip(&keys) {
            if let Some(link) = locked.remove(key).filter(|l| l.status == "pending") {
                links.push((link, By::Event(seen[index].message.as_kept())));
                settled_for.push(index);
            }
        }
        let mut managers = Vec::new();
        let settled = self.settle_all(&txn, links, false, &mut managers).await?;
        txn.commit().await?;
        self.refresh_managers(&managers).await;
        for (index, attempt) in settled_for.into_iter().zip(settled) {
            attempts[index] = attempt;
        }
        Ok(())
    }

    /// Announcements wake their links: every link they wake is settled in one transaction. A
    /// database error falls back to one announcement at a time. Returns, per announcement, how
    /// many links it resolved.
    pub async fn wake_all(&self, announcements: &[&UserProvisioned]) -> Vec<Result<usize, DbErr>> {
        match self.wake_together(announcements).await {
            Ok(resolved) => resolved.into_iter().map(Ok).collect(),
            Err(error) if announcements.len() > 1 => {
                tracing::warn!(error = ?error, events = announcements.len(), "batch failed; applying its events one by one");
                let mut results = Vec::new();
                for provisioned in announcements {
                    let one = self.wake_together(&[*provisioned]).await;
                    results.push(one.map(|r| r.into_iter().sum()));
                }
                results
            }
            Err(error) => vec![Err(error)],
        }
    }

    async fn wake_together(&self, announcements: &[&UserProvisioned]) -> Result<Vec<usize>, DbErr> {
        let mut resolved = vec![0; announcements.len()];
        // Which announcement wakes which link; a link woken by two is settled once.
        let woken = waiting::awaiting(self.db, announcements).await?;
        if woken.is_empty() {
            return Ok(resolved);
        }
        // A manager arriving after thousands of reports wakes them all: a transaction settles
        // at most LINKS_PER_TRANSACTION of them, which bounds its memory and how long it holds
        // the company's hierarchy lock. Each link stands alone, so a chunk committed before a
        // failure stays made (the retry finds it no longer pending).
        for chunk in woken.chunks(LINKS_PER_TRANSACTION) {
            let txn = self.db.begin().await?;
            let mut managers = Vec::new();
            match self
                .wake_within(&txn, chunk, announcements, &mut managers)
                .await
            {
                Ok(woke) => {
                    txn.commit().await?;
                    self.refresh_managers(&managers).await;
                    for index in woke {
                        resolved[index] += 1;
                    }
                }
                Err(error) => {
                    let _ = txn.rollback().await;
                    return Err(error);
                }
            }
        }
        Ok(resolved)
    }

    /// Settles the woken links still pending; returns, per resolved link, the announcement
    /// that woke it.
    async fn wake_within(
        &self,
        txn: &DatabaseTransaction,
        woken: &[(Key, usize)],
        announcements: &[&UserProvisioned],
        managers: &mut Vec<Uuid>,
    ) -> Result<Vec<usize>, DbErr> {
        let keys: Vec<Key> = woken.iter().map(|(k, _)| k.clone()).collect();
        access::lock_concern_of(txn, crate::CONCERN, &keys).await?;
        let mut locked = stored::links_for_update(txn, &keys).await?;
        let mut pending = Vec::new();
        for (key, index) in woken {
            if let Some(link) = locked.remove(key).filter(|l| l.status == "pending") {
                pending.push((link, *index));
            }
        }
        let links: Vec<(manager_link::Model, By<'_>)> = pending
            .iter()
            .map(|(link, index)| {
                let by = By::Wake(announcements[*index].event_id.as_str());
                (link.clone(), by)
            })
            .collect();
        let attempts = self.settle_all(txn, links, false, managers).await?;
        Ok(pending
            .iter()
            .zip(attempts)
            .filter(|(_, attempt)| !matches!(attempt, Attempt::Pending { .. }))
            .map(|((_, index), _)| *index)
            .collect())
    }

    /// The second refresh of the managers whose reports a committed transaction changed, under
    /// their member locks (`access::refresh_under_locks`). The first one, in that transaction,
    /// already did the work unless another worker changed the same manager at the same moment;
    /// if this one fails, the warning says so and the level waits for the next change.
    pub(super) async fn refresh_managers(&self, managers: &[Uuid]) {
        if let Err(error) = access::refresh_under_locks(self.db, managers).await {
            tracing::warn!(%error, managers = managers.len(), "could not refresh the managers again");
        }
    }

    /// Settles links of distinct members in one transaction holding their locks: the lookups
    /// first (two statements), then the hierarchy changes (the company's hierarchy lock is held
    /// from the first one to the commit, so the part under it is kept short), one activity and
    /// level refresh, then the links' new state (every link if `write_all`, else those whose
    /// status moved, with the event's message on those left pending) and their log entries.
    pub(super) async fn settle_all(
        &self,
        txn: &DatabaseTransaction,
        links: Vec<(manager_link::Model, By<'_>)>,
        write_all: bool,
        managers: &mut Vec<Uuid>,
    ) -> Result<Vec<Attempt>, DbErr> {
        if links.is_empty() {
            return Ok(Vec::new());
        }
        let reports: Vec<Key> = links
            .iter()
            .map(|(l, _)| key(l.company_id, &l.stytch_member_id))
            .collect();
        let mut found = Found {
            reports: people::reports(txn, &reports).await?,
            managers: HashMap::new(),
        };
        let values: Vec<Key> = links
            .iter()
            .filter(|(l, _)| {
                is_open(l)
                    && found
                        .reports
                        .contains_key(&key(l.company_id, &l.stytch_member_id))
            })
            .map(|(l, _)| key(l.company_id, &l.manager_value))
            .collect();
        found.managers = people::managers(txn, &values).await?;

        // Only candidates write user records: from here on they take the member locks every
        // worker shares, then the company's hierarchy lock. A link that stays pending writes its
        // own row only, under this worker's own lock; the announcement of the user it waits for
        // wakes it, and that wake waits on the same own lock.
        let lookups: Vec<Lookup> = links
            .iter()
            .map(|(link, by)| self.lookup(link, &found, by.may_give_up()))
            .collect();
        let members: Vec<Key> = links
            .iter()
            .zip(&lookups)
            .filter(|(_, lookup)| matches!(lookup, Lookup::Candidate { .. }))
            .map(|((l, _), _)| key(l.company_id, &l.stytch_member_id))
            .collect();
        access::lock_members_of(txn, &members).await?;
        // The hierarchy changes of each company under its hierarchy lock, taken once (a batch
        // is almost always one company) and in company order.
        let mut attempts: Vec<Option<Attempt>> = Vec::with_capacity(links.len());
        let mut candidates: BTreeMap<Uuid, Vec<(usize, Uuid, Uuid)>> = BTreeMap::new();
        for (n, ((link, _), lookup)) in links.iter().zip(lookups).enumerate() {
            attempts.push(match lookup {
                Lookup::Settled(attempt) => Some(attempt),
                Lookup::Candidate { user, manager } => {
                    candidates
                        .entry(link.company_id)
                        .or_default()
                        .push((n, user, manager));
                    None
                }
            });
        }
        let mut affected = Vec::new();
        for (company_id, pairs) in candidates {
            hierarchy::lock(txn, company_id).await?;
            let asked: Vec<(Uuid, Uuid)> = pairs.iter().map(|(_, u, m)| (*u, *m)).collect();
            let done = hierarchy::connect_all(txn, &asked).await?;
            for ((n, user, manager), done) in pairs.into_iter().zip(done) {
                attempts[n] = Some(connected(user, manager, done, &mut affected));
            }
        }
        let attempts: Vec<Attempt> = attempts
            .into_iter()
            .map(|a| a.unwrap_or(Attempt::Stale))
            .collect();
        affected.sort();
        affected.dedup();
        access::refresh(txn, &affected).await?;
        // This transaction holds the reports' member locks, not the managers': a worker changing
        // a manager's groups meanwhile may have refreshed it without this link, or this refresh
        // may have missed that worker's change. The caller refreshes them again once committed.
        managers.extend(&affected);

        let mut written = Vec::new();
        for ((link, by), attempt) in links.iter().zip(&attempts) {
            let kept = match by {
                By::Event(message) => Some(*message),
                By::Wake(_) | By::Sweep => None,
            };
            match attempt.status().filter(|s| *s != link.status) {
                Some(status) => {
                    let mut moved = link.clone();
                    moved.status = status.into();
                    moved.updated_at = chrono::Utc::now();
                    written.push((moved, kept));
                }
                None if write_all => written.push((link.clone(), kept)),
                None => {}
            }
        }
        let rows: Vec<_> = written.iter().map(|(link, kept)| (link, *kept)).collect();
        stored::write_links(txn, &rows).await?;
        let entries: Vec<Entry<'_>> = links
            .iter()
            .zip(&attempts)
            .map(|((link, by), attempt)| self.entry(link, attempt, *by))
            .collect();
        event_log::record_latest_all(txn, &entries).await?;
        Ok(attempts)
    }
}
