//! Manager links: the value last seen from SCIM per member, resolved to a user when possible.
//!
//! R15 falls out of keeping that value: an event applies only if its value differs from the
//! last one seen, or the link is still unresolved. A stale value re-sent after an admin cleared
//! the manager locally changes nothing; a different value is a reassignment and applies.

use std::time::Duration;

use chrono::{DateTime, Utc};
use scimsync_db::entity::manager_link;
use scimsync_db::event_log::Entry;
use scimsync_db::hierarchy::Connected;
use scimsync_platform::amqp::Kept;
use scimsync_schema::change::{ChangeMeta, Door};
use scimsync_schema::EventOutcome;
use sea_orm::DatabaseConnection;
use serde_json::json;
use uuid::Uuid;

use crate::CONCERN;
use waiting::KeptMessage;

pub mod people;
mod settle;
pub mod stored;
mod sweep;
pub mod waiting;

pub use sweep::Swept;

/// A (company, Stytch member id) or (company, manager value) pair.
pub type Key = (Uuid, String);

/// The companies and the members (or values) of these keys, as two statement parameters.
fn split(keys: &[Key]) -> (Vec<Uuid>, Vec<String>) {
    keys.iter().map(|(c, k)| (*c, k.clone())).unzip()
}

/// The most links one transaction settles when a wake-up or the sweep finds many.
pub const LINKS_PER_TRANSACTION: usize = 500;

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
    pub fn outcome(&self) -> EventOutcome {
        match self {
            Self::Linked { changed: true, .. } => EventOutcome::ManagerLinked,
            Self::Linked { changed: false, .. } | Self::Unchanged { .. } => {
                EventOutcome::ManagerUnchanged
            }
            Self::Pending { .. } => EventOutcome::ManagerPending,
            Self::SkippedCircular { .. } => EventOutcome::SkippedCircularManager,
            Self::GaveUp { .. } => EventOutcome::ManagerNotFound,
            Self::Stale => EventOutcome::StaleIgnored,
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
pub struct Observed {
    pub meta: ChangeMeta,
    pub company_id: Uuid,
    pub member_id: String,
    pub value: String,
    /// The event's message, which the link keeps while it is pending.
    pub message: KeptMessage,
}

/// What a link is settled for.
#[derive(Debug, Clone, Copy)]
enum By<'a> {
    /// The message of the event that set its value (kept on the link while it is pending).
    Event(Kept<'a>),
    /// The announcement (its event id) of a user it was waiting for.
    Wake(&'a str),
    /// The sweep's look at links left pending.
    Sweep,
}

impl By<'_> {
    /// Whether an expired link may be given up. A wake-up may not: it has no message to
    /// dead-letter. The event's message and the sweep (which reads the kept one) have.
    fn may_give_up(self) -> bool {
        !matches!(self, Self::Wake(_))
    }
}

impl Linker<'_> {
    /// The event's value applied to the member's link as it stands (`current`, locked): the
    /// link to settle, or the attempt's end if the event changes nothing (with its log entry,
    /// if any).
    fn store_value<'a>(
        &self,
        current: Option<&manager_link::Model>,
        seen: &'a Observed,
    ) -> Stored<'a> {
        let webhook = &seen.meta;
        let at = webhook.timestamp;
        match current {
            Some(link) if at < link.event_timestamp => {
                let entry = Entry {
                    company_id: Some(seen.company_id),
                    door: webhook.door,
                    received_at: webhook.received_at,
                    event_id: &webhook.event_id,
                    event_type: &webhook.event_type,
                    concern: CONCERN,
                    user_id: None,
                    user_ids: Vec::new(),
                    stytch_member_id: None,
                    outcome: EventOutcome::StaleIgnored,
                    detail: json!({ "manager_value": seen.value }),
                };
                Stored::Done(Attempt::Stale, Some(entry))
            }
            // This very event again (a redelivery, or its message back from a delay tier after
            // a wake-up linked it): the log already says what it did; rewriting it would turn
            // `manager_linked` into `manager_unchanged`.
            Some(link) if link.event_id == webhook.event_id && link.status == "linked" => {
                Stored::Done(Attempt::Unchanged { user: None }, None)
            }
            Some(link) => {
                let restart = link.manager_value != seen.value || link.status == "not_found";
                let mut link = link.clone();
                link.event_timestamp = at;
                link.event_id = webhook.event_id.clone();
                link.event_type = webhook.event_type.clone();
                link.received_at = webhook.received_at;
                if restart {
                    link.manager_value = seen.value.clone();
                    link.status = "pending".into();
                    link.first_seen_at = self.now;
                }
                link.updated_at = Utc::now();
                Stored::Link(link)
            }
            None => Stored::Link(manager_link::Model {
                company_id: seen.company_id,
                stytch_member_id: seen.member_id.clone(),
                manager_value: seen.value.clone(),
                event_timestamp: at,
                event_id: webhook.event_id.clone(),
                event_type: webhook.event_type.clone(),
                received_at: webhook.received_at,
                status: "pending".into(),
                first_seen_at: self.now,
                updated_at: Utc::now(),
            }),
        }
    }

    /// The reads of an attempt, which need no hierarchy lock: who the report and the manager
    /// are (`found`), or why the link cannot be made (yet). An expired link is given up only
    /// where its message can be dead-lettered (`may_give_up`, see [`By`]).
    fn lookup(&self, link: &manager_link::Model, found: &Found, may_give_up: bool) -> Lookup {
        let user = found
            .reports
            .get(&(link.company_id, link.stytch_member_id.clone()))
            .copied();
        if !is_open(link) {
            return Lookup::Settled(Attempt::Unchanged { user });
        }
        let pending = |reason, user| {
            if may_give_up && self.expired(link) {
                Attempt::GaveUp { user }
            } else {
                Attempt::Pending { reason, user }
            }
        };
        let Some(user) = user else {
            return Lookup::Settled(pending("report_not_provisioned", None));
        };
        let Some(manager) = found
            .managers
            .get(&(link.company_id, link.manager_value.clone()))
            .copied()
        else {
            return Lookup::Settled(pending("manager_not_provisioned", Some(user)));
        };
        Lookup::Candidate { user, manager }
    }

    /// The attempt's log entry, against the event that brought the link's value (it replaces
    /// that event's earlier outcome).
    fn entry<'a>(&self, link: &'a manager_link::Model, attempt: &Attempt, by: By<'_>) -> Entry<'a> {
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
        match by {
            By::Wake(cause) => detail["woken_by"] = json!(cause),
            By::Sweep => detail["settled_by"] = json!("sweep"),
            By::Event(_) => {}
        }
        Entry {
            company_id: Some(link.company_id),
            door: Door::of_member(&link.stytch_member_id),
            received_at: link.received_at,
            event_id: &link.event_id,
            event_type: &link.event_type,
            concern: CONCERN,
            user_id: attempt.user(),
            // The manager gains a report (and may become a Manager, R12): the row is in their
            // history too.
            user_ids: match attempt {
                Attempt::Linked {
                    manager,
                    changed: true,
                    ..
                } => vec![*manager],
                _ => Vec::new(),
            },
            stytch_member_id: Some(&link.stytch_member_id),
            outcome: attempt.outcome(),
            detail,
        }
    }

    fn expired(&self, link: &manager_link::Model) -> bool {
        (self.now - link.first_seen_at)
            .to_std()
            .is_ok_and(|age| age > self.max_pending_age)
    }
}

/// A link still to resolve: pending, or skipped as circular (a later hierarchy change may
/// allow it).
fn is_open(link: &manager_link::Model) -> bool {
    matches!(link.status.as_str(), "pending" | "skipped_circular")
}

/// An event's value applied to its link.
enum Stored<'a> {
    /// The link to settle (new, or with the event's value).
    Link(manager_link::Model),
    /// Nothing to settle: the attempt's end, and its log entry if it has one.
    Done(Attempt, Option<Entry<'a>>),
}

/// The users a batch's lookups found, by (company, member id) and (company, manager value).
#[derive(Default)]
struct Found {
    reports: std::collections::HashMap<Key, Uuid>,
    managers: std::collections::HashMap<Key, Uuid>,
}

/// What the reads of an attempt found.
enum Lookup {
    /// No hierarchy change to try.
    Settled(Attempt),
    /// Both ends exist: try `user` reports to `manager`.
    Candidate { user: Uuid, manager: Uuid },
}

/// What connecting `user` to `manager` came to. Whose level may change is added to
/// `affected` (refreshed by the caller).
fn connected(user: Uuid, manager: Uuid, connected: Connected, affected: &mut Vec<Uuid>) -> Attempt {
    let previous = match connected {
        Connected::Cycle => return Attempt::SkippedCircular { user, manager },
        Connected::Set { previous } => previous,
    };
    if previous == Some(manager) {
        return Attempt::Linked {
            user,
            manager,
            changed: false,
        };
    }
    // The new manager may become a Manager; the previous one may stop being one.
    affected.extend(previous.into_iter().chain([manager]));
    Attempt::Linked {
        user,
        manager,
        changed: true,
    }
}
