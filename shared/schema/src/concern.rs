//! The system's workers, each a concern: the one list that everything naming the workers is
//! derived from or checked against.
//!
//! A concern's name is the worker's name everywhere: its binary and crate
//! (`services/<name>`), its queue (`scimsync.<name>`, see [`Concern::queue`]), its event-log
//! rows and advisory locks, its folder under `k8s/base/workers/`, its word in
//! `deploy/local/services.sh`. The broker topology and the test system derive from
//! [`Concern::ALL`]; the deployment files are checked against it (`tests/tests/manifests.rs`).
//! `docs/adding-a-worker.md` says how to add one.

use crate::names::names;
use crate::topology::{WorkQueue, GROUP_RESOLVER, MANAGER_LINKER, USER_UPSERT};

names! {
    /// A worker of the system, by the name it goes by.
    pub enum Concern {
        /// Member events to user records (R1-R11).
        UserUpsert = "user-upsert",
        /// SCIM groups, memberships, permission levels (R9 c/d, R12).
        GroupResolver = "group-resolver",
        /// Manager links (R13-R15).
        ManagerLinker = "manager-linker",
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

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

    /// These strings are in every event-log row and advisory lock key written so far.
    #[test]
    fn concern_names_are_the_ones_stored() {
        let names: Vec<&str> = Concern::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names, ["user-upsert", "group-resolver", "manager-linker"]);
    }
}
