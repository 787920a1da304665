//! Manager links: the value last seen from SCIM per member, resolved to a user when possible.
//!
//! R15 falls out of keeping that value: an event applies only if its value differs from the
//! last one seen, or the link is still unresolved. A stale value re-sent after an admin cleared
//! the manager locally changes nothing; a different value is a reassignment and applies.

use std::time::Duration;

use chrono::{DateTime, Utc};
use scimsync_db::access;
use scimsync_db::entity::manager_link;
use scimsync_db::event_log::{self, Entry};
use scimsync_schema::message::UserProvisioned;
use scimsync_schema::StytchWebhook;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, QuerySelect, Set, Statement, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use scimsync_db::hierarchy;

use crate::CONCERN;

mod batch;

/// The pending links a new user completes, as the report (`$2`) or as the awaited manager
/// (`$3`, its ids). Two index lookups: the link by its primary key, and the pending links by
/// value with the company checked afterwards (migration 000003). Filtering every pending link
/// of the company made a first sync quadratic.
pub const AWAITING: &str = "
WITH awaiting AS MATERIALIZED (
    SELECT company_id, stytch_member_id FROM manager_links
    WHERE manager_value = ANY($3) AND status = 'pending'
)
SELECT stytch_member_id FROM awaiting WHERE company_id = $1
UNION
SELECT stytch_member_id FROM manager_links
WHERE company_id = $1 AND stytch_member_id = $2 AND status = 'pending'
ORDER BY stytch_member_id";

/// R13's lookup of a manager value (`$2`) in a company (`$1`): each key by its own index, the
/// company checked afterwards (migration 000003).
pub const FIND_MANAGER: &str = "
WITH found AS MATERIALIZED (
    SELECT id, company_id, 0 AS rank FROM users WHERE stytch_member_id = $2
    UNION ALL
    SELECT id, company_id, 1 FROM users WHERE scim_id = $2
    UNION ALL
    SELECT id, company_id, 2 FROM users WHERE external_id = $2
)
SELECT id FROM found WHERE company_id = $1 ORDER BY rank, id LIMIT 1";

/// Where a link stands after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Linked {
        user: Uuid,
        manager: Uuid,
        changed: bool,
    },
    Pending {
        reason: &'static str,
        user: Option<Uuid>,
    },
    SkippedCircular {
        user: Uuid,
        manager: Uuid,
    },
    GaveUp {
        user: Option<Uuid>,
    },
    Unchanged {
        user: Option<Uuid>,
    },
    Stale,
}

impl Attempt {
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Linked { changed: true, .. } => "manager_linked",
            Self::Linked { changed: false, .. } | Self::Unchanged { .. } => "manager_unchanged",
            Self::Pending { .. } => "manager_pending",
            Self::SkippedCircular { .. } => "skipped_circular_manager",
            Self::GaveUp { .. } => "manager_not_found",
            Self::Stale => "stale_ignored",
        }
    }

    fn status(&self) -> Option<&'static str> {
        match self {
            Self::Linked { .. } => Some("linked"),
            Self::Pending { .. } => Some("pending"),
            Self::SkippedCircular { .. } => Some("skipped_circular"),
            Self::GaveUp { .. } => Some("not_found"),
            Self::Unchanged { .. } | Self::Stale => None,
        }
    }

    fn user(&self) -> Option<Uuid> {
        match self {
            Self::Linked { user, .. } | Self::SkippedCircular { user, .. } => Some(*user),
            Self::Pending { user, .. } | Self::GaveUp { user } | Self::Unchanged { user } => *user,
            Self::Stale => None,
        }
    }
}

/// Context shared by every attempt.
pub struct Linker<'a> {
    pub db: &'a DatabaseConnection,
    pub now: DateTime<Utc>,
    pub max_pending_age: Duration,
}

/// One member event's manager value.
#[derive(Clone)]
pub struct Observed<'a> {
    pub webhook: &'a StytchWebhook,
    pub company_id: Uuid,
    pub member_id: &'a str,
    pub value: &'a str,
}

impl Linker<'_> {
    /// Records the value and tries to resolve it.
    pub async fn observe(&self, seen: &Observed<'_>) -> Result<Attempt, DbErr> {
        let txn = self.db.begin().await?;
        access::lock_members(&txn, &[seen.member_id.to_owned()]).await?;
        let attempt = self.observe_in(&txn, seen).await?;
        txn.commit().await?;
        let mut attempts = vec![attempt];
        if let Err(error) = self
            .recheck(std::slice::from_ref(seen), &mut attempts)
            .await
        {
            // It stays pending: retried on the delay tiers as before.
            tracing::warn!(error = ?error, "could not look at the pending link again");
        }
        Ok(attempts.swap_remove(0))
    }

    /// One event's value, inside a transaction holding the member's lock.
    async fn observe_in(
        &self,
        txn: &DatabaseTransaction,
        seen: &Observed<'_>,
    ) -> Result<Attempt, DbErr> {
        match self.store_value(txn, seen).await? {
            Ok(link) => self.settle(txn, link, None).await,
            Err(stale) => Ok(stale),
        }
    }

    /// Stores the event's value on the member's link (created if new) and returns the link, or
    /// the attempt's end if the event is older than the value already stored.
    async fn store_value(
        &self,
        txn: &DatabaseTransaction,
        seen: &Observed<'_>,
    ) -> Result<Result<manager_link::Model, Attempt>, DbErr> {
        let current =
            manager_link::Entity::find_by_id((seen.company_id, seen.member_id.to_owned()))
                .lock_exclusive()
                .one(txn)
                .await?;
        let at = seen.webhook.timestamp;
        let link = match current {
            Some(link) if at < link.event_timestamp => {
                let entry = self.entry(
                    seen.webhook,
                    seen.company_id,
                    None,
                    "stale_ignored",
                    json!({ "manager_value": seen.value }),
                );
                event_log::record(txn, entry).await?;
                return Ok(Err(Attempt::Stale));
            }
            Some(link) => {
                let same = link.manager_value == seen.value;
                let restart = !same || link.status == "not_found";
                let mut row: manager_link::ActiveModel = link.clone().into();
                row.event_timestamp = Set(at);
                row.event_id = Set(seen.webhook.event_id.clone());
                row.event_type = Set(seen.webhook.event_type.clone());
                row.received_at = Set(seen.webhook.received_at);
                if restart {
                    row.manager_value = Set(seen.value.to_owned());
                    row.status = Set("pending".into());
                    row.first_seen_at = Set(self.now);
                }
                row.updated_at = Set(Utc::now());
                row.update(txn).await?
            }
            None => {
                manager_link::ActiveModel {
                    company_id: Set(seen.company_id),
                    stytch_member_id: Set(seen.member_id.to_owned()),
                    manager_value: Set(seen.value.to_owned()),
                    event_timestamp: Set(at),
                    event_id: Set(seen.webhook.event_id.clone()),
                    event_type: Set(seen.webhook.event_type.clone()),
                    received_at: Set(seen.webhook.received_at),
                    status: Set("pending".into()),
                    first_seen_at: Set(self.now),
                    updated_at: Set(Utc::now()),
                }
                .insert(txn)
                .await?
            }
        };
        Ok(Ok(link))
    }

    /// The pending links a new user may complete: (company, member) pairs, sorted.
    async fn awaiting(&self, provisioned: &UserProvisioned) -> Result<Vec<(Uuid, String)>, DbErr> {
        let Ok(company_id) = provisioned.company_id.parse::<Uuid>() else {
            return Ok(Vec::new());
        };
        let mut values = vec![provisioned.stytch_member_id.clone()];
        values.extend(provisioned.scim_id.clone());
        values.extend(provisioned.external_id.clone());
        let waiting = self
            .db
            .query_all(Statement::from_sql_and_values(
                DbBackend::Postgres,
                AWAITING,
                [
                    company_id.into(),
                    provisioned.stytch_member_id.clone().into(),
                    values.into(),
                ],
            ))
            .await?;
        waiting
            .into_iter()
            .map(|row| Ok((company_id, row.try_get("", "stytch_member_id")?)))
            .collect()
    }

    /// Settles one pending link, inside a transaction holding its member's lock. Returns
    /// whether it resolved (it may still be pending, or no longer pending at all).
    async fn wake_in(
        &self,
        txn: &DatabaseTransaction,
        company_id: Uuid,
        member_id: &str,
        woken_by: &str,
    ) -> Result<bool, DbErr> {
        let Some(link) = pending_link(txn, company_id, member_id).await? else {
            return Ok(false);
        };
        let attempt = self.settle(txn, link, Some(woken_by)).await?;
        Ok(!matches!(attempt, Attempt::Pending { .. }))
    }

    /// A user record now exists: resolve every pending link it completes (as the report, or
    /// as the awaited manager).
    pub async fn wake(&self, provisioned: &UserProvisioned) -> Result<usize, DbErr> {
        let mut resolved = 0;
        for (company_id, member_id) in self.awaiting(provisioned).await? {
            let txn = self.db.begin().await?;
            access::lock_members(&txn, std::slice::from_ref(&member_id)).await?;
            if self
                .wake_in(&txn, company_id, &member_id, &provisioned.event_id)
                .await?
            {
                resolved += 1;
            }
            txn.commit().await?;
        }
        Ok(resolved)
    }

    /// Tries a link that needs it, stores where it stands and logs it against the event that
    /// brought its value (replacing that event's earlier outcome).
    async fn settle(
        &self,
        txn: &DatabaseTransaction,
        link: manager_link::Model,
        woken_by: Option<&str>,
    ) -> Result<Attempt, DbErr> {
        let mut affected = Vec::new();
        let attempt = match self.lookup(txn, &link, woken_by.is_none()).await? {
            Lookup::Settled(attempt) => attempt,
            Lookup::Candidate { user, manager } => {
                let mut held = false;
                connect(
                    txn,
                    link.company_id,
                    user,
                    manager,
                    &mut held,
                    &mut affected,
                )
                .await?
            }
        };
        access::refresh(txn, &affected).await?;
        self.record(txn, &link, &attempt, woken_by).await?;
        Ok(attempt)
    }

    /// The reads of an attempt, which need no hierarchy lock: who the report and the manager
    /// are, or why the link cannot be made (yet). Only the event's own message may give up on
    /// an expired link (`may_give_up`): it is what goes to the dead-letter queue. A wake-up
    /// that gave up would leave the link `not_found` with nothing dead-lettered, and the
    /// message's next retry would start the link's age over.
    async fn lookup(
        &self,
        txn: &DatabaseTransaction,
        link: &manager_link::Model,
        may_give_up: bool,
    ) -> Result<Lookup, DbErr> {
        if !matches!(link.status.as_str(), "pending" | "skipped_circular") {
            let user = report(txn, link.company_id, &link.stytch_member_id).await?;
            return Ok(Lookup::Settled(Attempt::Unchanged { user }));
        }
        let pending = |reason, user| {
            if may_give_up && self.expired(link) {
                Attempt::GaveUp { user }
            } else {
                Attempt::Pending { reason, user }
            }
        };
        let Some(user) = report(txn, link.company_id, &link.stytch_member_id).await? else {
            return Ok(Lookup::Settled(pending("report_not_provisioned", None)));
        };
        let Some(manager) = find_manager(txn, link.company_id, &link.manager_value).await? else {
            return Ok(Lookup::Settled(pending(
                "manager_not_provisioned",
                Some(user),
            )));
        };
        Ok(Lookup::Candidate { user, manager })
    }

    /// Stores the link's new status and logs the attempt.
    async fn record(
        &self,
        txn: &DatabaseTransaction,
        link: &manager_link::Model,
        attempt: &Attempt,
        woken_by: Option<&str>,
    ) -> Result<(), DbErr> {
        if let Some(status) = attempt.status().filter(|s| *s != link.status) {
            let mut row: manager_link::ActiveModel = link.clone().into();
            row.status = Set(status.into());
            row.updated_at = Set(Utc::now());
            row.update(txn).await?;
        }
        let mut detail = json!({ "manager_value": link.manager_value });
        match attempt {
            Attempt::Linked { manager, .. } => detail["manager_id"] = json!(manager),
            Attempt::SkippedCircular { manager, .. } => {
                detail["manager_id"] = json!(manager);
                detail["reason"] = json!("the assignment would make the user their own (indirect) manager; previous manager kept");
            }
            Attempt::Pending { reason, .. } => detail["waiting_for"] = json!(reason),
            Attempt::GaveUp { .. } => {
                detail["reason"] = json!(format!(
                    "no user matched the manager value within {:?}",
                    self.max_pending_age
                ));
            }
            _ => {}
        }
        if let Some(cause) = woken_by {
            detail["woken_by"] = json!(cause);
        }
        let entry = Entry {
            company_id: Some(link.company_id),
            received_at: link.received_at,
            event_id: &link.event_id,
            event_type: &link.event_type,
            concern: CONCERN,
            user_id: attempt.user(),
            stytch_member_id: Some(&link.stytch_member_id),
            outcome: attempt.outcome(),
            detail,
        };
        event_log::record_latest(txn, entry).await
    }

    fn expired(&self, link: &manager_link::Model) -> bool {
        (self.now - link.first_seen_at)
            .to_std()
            .is_ok_and(|age| age > self.max_pending_age)
    }

    fn entry<'a>(
        &self,
        webhook: &'a StytchWebhook,
        company_id: Uuid,
        user_id: Option<Uuid>,
        outcome: &'a str,
        detail: serde_json::Value,
    ) -> Entry<'a> {
        Entry {
            company_id: Some(company_id),
            received_at: webhook.received_at,
            event_id: &webhook.event_id,
            event_type: &webhook.event_type,
            concern: CONCERN,
            user_id,
            stytch_member_id: None,
            outcome,
            detail,
        }
    }
}

async fn report(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    member_id: &str,
) -> Result<Option<Uuid>, DbErr> {
    Ok(
        access::users_of_members(conn, company_id, &[member_id.to_owned()])
            .await?
            .into_iter()
            .next(),
    )
}

/// R13: the manager is found within the company by Stytch member id, then SCIM id, then
/// external id.
async fn find_manager(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    value: &str,
) -> Result<Option<Uuid>, DbErr> {
    let row = conn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            FIND_MANAGER,
            [company_id.into(), value.into()],
        ))
        .await?;
    row.map(|r| r.try_get::<Uuid>("", "id")).transpose()
}

/// The member's link if it is still pending, locked for the transaction.
async fn pending_link(
    txn: &DatabaseTransaction,
    company_id: Uuid,
    member_id: &str,
) -> Result<Option<manager_link::Model>, DbErr> {
    Ok(
        manager_link::Entity::find_by_id((company_id, member_id.to_owned()))
            .lock_exclusive()
            .one(txn)
            .await?
            .filter(|l| l.status == "pending"),
    )
}

/// What the reads of an attempt found.
enum Lookup {
    /// No hierarchy change to try.
    Settled(Attempt),
    /// Both ends exist: try `user` reports to `manager`.
    Candidate { user: Uuid, manager: Uuid },
}

/// Makes `manager` the manager of `user` unless that closes a cycle, under the company's
/// hierarchy lock (taken unless `held` says this transaction has it). Whose level may change is
/// added to `affected` (refreshed by the caller).
async fn connect(
    txn: &DatabaseTransaction,
    company_id: Uuid,
    user: Uuid,
    manager: Uuid,
    held: &mut bool,
    affected: &mut Vec<Uuid>,
) -> Result<Attempt, DbErr> {
    if !*held {
        hierarchy::lock(txn, company_id).await?;
        *held = true;
    }
    if hierarchy::would_cycle(txn, user, manager).await? {
        return Ok(Attempt::SkippedCircular { user, manager });
    }
    let previous = hierarchy::set_manager(txn, user, Some(manager)).await?;
    if previous == Some(manager) {
        return Ok(Attempt::Linked {
            user,
            manager,
            changed: false,
        });
    }
    // The new manager may become a Manager; the previous one may stop being one.
    affected.extend(previous.into_iter().chain([manager]));
    Ok(Attempt::Linked {
        user,
        manager,
        changed: true,
    })
}
