//! The system's workers, each a concern: the one list that everything naming the workers is
//! derived from or checked against.
//!
//! A concern's name is the worker's name everywhere: its binary and crate
//! (`services/<name>`), its queue (`scimsync.<name>`, see `Concern::queue` in [`crate::topology`]), its event-log
//! rows and advisory locks, its folder under `k8s/base/workers/`, its word in
//! `deploy/local/services.sh`. The broker topology and the test system derive from
//! [`Concern::ALL`]; the deployment files are checked against it (`tests/tests/manifests.rs`).
//! `docs/adding-a-worker.md` says how to add one.

use crate::names::names;

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

#[cfg(test)]
mod tests {
    use super::*;

    /// These strings are in every event-log row and advisory lock key written so far.
    #[test]
    fn concern_names_are_the_ones_stored() {
        let names: Vec<&str> = Concern::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names, ["user-upsert", "group-resolver", "manager-linker"]);
    }
}
