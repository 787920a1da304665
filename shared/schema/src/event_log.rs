//! What the workers say they did with an event (R16): the `outcome` column of the SCIM event
//! log, which admins filter by, and the `result` label of the workers' metrics. The strings are
//! the ones stored since the first release; a new outcome is a new variant.

use crate::names::names;

names! {
    /// An event's outcome for one concern.
    pub enum EventOutcome {
        // user-upsert (R1-R11).
        /// A new user record (R1: no match).
        Created = "created",
        /// An existing non-SCIM user matched by email and taken over by SCIM (R1).
        Adopted = "adopted",
        /// Values of the record changed.
        Updated = "updated",
        /// The record already said all this.
        Unchanged = "unchanged",
        /// The user became inactive (R9).
        Deactivated = "deactivated",
        /// The user became active again (R10).
        Reactivated = "reactivated",
        /// Older than what was applied already, and changed nothing (R17).
        StaleIgnored = "stale_ignored",
        /// A delete for a member with no record yet: kept, applied if a create follows (R17).
        MemberNotFound = "member_not_found",
        /// No event of the member carried an email address yet.
        MissingEmail = "missing_email",
        /// R4: the email's domain is not one the company allows.
        RejectedEmailDomain = "rejected_email_domain",
        /// R3: another user holds the email.
        RejectedDuplicateEmail = "rejected_duplicate_email",
        /// A member event from a source other than SCIM (SPEC §5).
        IgnoredNonScimSource = "ignored_non_scim_source",
        /// A redelivery of an event already applied; not written to the log again.
        Duplicate = "duplicate",

        // group-resolver (R9 c/d, R12).
        /// A member's full-state group list applied.
        MembershipsSynced = "memberships_synced",
        /// One membership added by a group event.
        MembershipAdded = "membership_added",
        /// One membership removed by a group event.
        MembershipRemoved = "membership_removed",
        /// Someone's permission level changed.
        LevelChanged = "level_changed",
        GroupCreated = "group_created",
        GroupUpdated = "group_updated",
        /// A group deleted in the IdP (ghost group, R12).
        GroupDeleted = "group_deleted",
        /// R12: deleting a default group is ignored.
        IgnoredDefaultGroupDelete = "ignored_default_group_delete",
        /// A group event whose body could not be read; kept whole for investigation.
        UnparseableGroupEvent = "unparseable_group_event",
        /// Nothing for this concern in the event; not written to the log.
        Ignored = "ignored",
        /// A member event without a group list; not written to the log.
        NoGroupList = "no_group_list",

        // manager-linker (R13-R15).
        /// The user now reports to the manager the event names.
        ManagerLinked = "manager_linked",
        /// The link already said this.
        ManagerUnchanged = "manager_unchanged",
        /// The manager (or the report) has no user record yet: the link waits (R13).
        ManagerPending = "manager_pending",
        /// R14: the link would close a cycle; the previous manager stays.
        SkippedCircularManager = "skipped_circular_manager",
        /// R13: nobody matched the manager value within the age limit.
        ManagerNotFound = "manager_not_found",
    }
}

impl EventOutcome {
    /// Outcomes that write no event-log row: the event changed nothing this concern records.
    pub fn is_logged(self) -> bool {
        !matches!(self, Self::Duplicate | Self::Ignored | Self::NoGroupList)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows written before these were types hold these strings; they must read back.
    #[test]
    fn outcomes_keep_the_strings_already_stored() {
        for (outcome, stored) in [
            (EventOutcome::Created, "created"),
            (
                EventOutcome::RejectedDuplicateEmail,
                "rejected_duplicate_email",
            ),
            (
                EventOutcome::IgnoredDefaultGroupDelete,
                "ignored_default_group_delete",
            ),
            (
                EventOutcome::SkippedCircularManager,
                "skipped_circular_manager",
            ),
            (EventOutcome::StaleIgnored, "stale_ignored"),
        ] {
            assert_eq!(outcome.as_str(), stored);
            assert_eq!(EventOutcome::parse(stored), Some(outcome));
        }
        let distinct: std::collections::BTreeSet<&str> =
            EventOutcome::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(distinct.len(), EventOutcome::ALL.len());
    }
}
