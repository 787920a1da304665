//! Names of the broker topology (SPEC A2). Declaration lives in `scimsync-platform`; the names
//! live here so tools (scimctl, tests) agree with the services without linking lapin.

use std::time::Duration;

use crate::concern::Concern;

/// Topic exchange every event is published to; the routing key is the event type.
pub const EVENTS_EXCHANGE: &str = "scimsync.events";
/// Direct exchange dead letters go to; the routing key is the work queue's name.
pub const DEAD_LETTER_EXCHANGE: &str = "scimsync.dlx";

/// The first segment of every routing key a webhook can produce: its `source`, lower-cased
/// (SPEC §5). Object type and action, the other two, are confined to `[a-z0-9_]`, so a webhook's
/// key has exactly three segments and starts with one of these.
pub const WEBHOOK_SOURCES: &[&str] = &["scim", "direct", "dashboard"];

/// The first segment of the keys the services publish on themselves: no webhook may name it,
/// so no sender reaches a queue bound to one of them.
pub const INTERNAL_SOURCE: &str = "internal";

/// A worker's queue and the routing keys it cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkQueue {
    pub name: &'static str,
    pub bindings: &'static [&'static str],
}

impl WorkQueue {
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dlq", self.name)
    }

    /// The TTL queue for a delay tier; it dead-letters back into this work queue only, so a
    /// retry never reaches the other workers bound to the same routing key.
    pub fn delay_queue(&self, tier: Duration) -> String {
        format!("{}.delay.{}", self.name, tier_label(tier))
    }
}

/// Every member event drives user records; non-SCIM sources are logged, not applied.
pub const USER_UPSERT: WorkQueue = WorkQueue {
    name: "scimsync.user-upsert",
    bindings: &["*.member.*"],
};

/// Group events, plus member events for their full-state group lists (deletes carry no list).
pub const GROUP_RESOLVER: WorkQueue = WorkQueue {
    name: "scimsync.group-resolver",
    bindings: &[
        "scim.idp_group.*",
        "scim.member.create",
        "scim.member.update",
    ],
};

/// Member events for their manager values, and user creations that may complete a link.
pub const MANAGER_LINKER: WorkQueue = WorkQueue {
    name: "scimsync.manager-linker",
    bindings: &[
        "scim.member.create",
        "scim.member.update",
        "internal.user.provisioned",
    ],
};

/// Every work queue, one per worker of [`Concern::ALL`], in its order: for the topology and
/// for tools that operate on all of them.
pub const WORK_QUEUES: &[WorkQueue] = &work_queues();

impl Concern {
    /// Its work queue and the routing keys bound to it.
    pub const fn queue(self) -> WorkQueue {
        match self {
            Self::UserUpsert => USER_UPSERT,
            Self::GroupResolver => GROUP_RESOLVER,
            Self::ManagerLinker => MANAGER_LINKER,
        }
    }

    /// The concern whose queue this is, if it is a work queue of the system.
    pub fn of_queue(queue: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.queue().name == queue)
    }
}

const fn work_queues() -> [WorkQueue; Concern::ALL.len()] {
    let mut queues = [USER_UPSERT; Concern::ALL.len()];
    let mut i = 0;
    while i < queues.len() {
        queues[i] = Concern::ALL[i].queue();
        i += 1;
    }
    queues
}

/// Delay tiers for transient retries: quick at first, then patient.
pub const DELAY_TIERS: &[Duration] = &[
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
    Duration::from_secs(3600),
];

/// The tier to use for the n-th retry (1-based); the last tier repeats.
pub fn delay_for_attempt(attempt: u32) -> Duration {
    let index = (attempt.max(1) as usize - 1).min(DELAY_TIERS.len() - 1);
    DELAY_TIERS[index]
}

/// `1s`, `5s`, `2m`, `1h`: short labels for queue names.
pub fn tier_label(tier: Duration) -> String {
    let secs = tier.as_secs();
    if secs >= 3600 && secs % 3600 == 0 {
        format!("{}h", secs / 3600)
    } else if secs >= 60 && secs % 60 == 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_tiers_grow_then_repeat() {
        assert_eq!(delay_for_attempt(0), Duration::from_secs(1));
        assert_eq!(delay_for_attempt(1), Duration::from_secs(1));
        assert_eq!(delay_for_attempt(3), Duration::from_secs(30));
        assert_eq!(delay_for_attempt(60), Duration::from_secs(3600));
    }

    /// Bindings are either for webhooks (a source of theirs, or any) or internal; the internal
    /// namespace is not a source a webhook can name (ingest refuses any other).
    #[test]
    fn every_binding_is_in_the_webhook_or_the_internal_namespace() {
        assert!(!WEBHOOK_SOURCES.contains(&INTERNAL_SOURCE));
        assert!(crate::message::USER_PROVISIONED_ROUTING_KEY
            .starts_with(&format!("{INTERNAL_SOURCE}.")));
        for binding in WORK_QUEUES.iter().flat_map(|q| q.bindings) {
            let first = binding.split('.').next().unwrap_or_default();
            assert!(
                first == "*" || first == INTERNAL_SOURCE || WEBHOOK_SOURCES.contains(&first),
                "{binding}"
            );
        }
    }

    /// The queue, the binary and the event log all say the concern's name.
    #[test]
    fn each_concern_works_its_own_queue_named_after_it() {
        for concern in Concern::ALL {
            let queue = concern.queue();
            assert_eq!(queue.name, format!("scimsync.{concern}"));
            assert_eq!(Concern::of_queue(queue.name), Some(*concern));
            assert!(!queue.bindings.is_empty(), "{concern} hears nothing");
        }
        assert_eq!(Concern::of_queue("scimsync.unrouted"), None);
    }

    #[test]
    fn queue_names_are_readable() {
        assert_eq!(USER_UPSERT.dead_letter_queue(), "scimsync.user-upsert.dlq");
        assert_eq!(
            USER_UPSERT.delay_queue(Duration::from_secs(120)),
            "scimsync.user-upsert.delay.2m"
        );
        assert_eq!(tier_label(Duration::from_secs(3600)), "1h");
    }
}
