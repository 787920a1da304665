//! Group operations of the churn: membership changes through `idp_group` events and through
//! full-state lists, custom group deletions, and the ignored delete of a default group.

use rand::seq::IndexedRandom;
use rand::Rng;

use super::Churn;
use crate::simulate::org::GroupKind;
use crate::simulate::truth::Phase;

impl Churn<'_> {
    /// Into a custom group (now and then the full-access group), by a `member_add` event or
    /// by the member's full-state list.
    pub(super) fn group_add(&mut self, by_event: bool) -> bool {
        let Some(p) = self.person(Self::live) else {
            return false;
        };
        let m = self.truth.current[p];
        let t = &self.truth;
        let candidates: Vec<usize> = (0..t.org.groups.len())
            .filter(|g| !t.deleted_groups.contains(g) && !t.members[m].groups.contains(g))
            .filter(|g| match t.org.groups[*g].kind {
                GroupKind::Custom => true,
                GroupKind::FullAccess => self.rng.random_bool(0.1),
                GroupKind::Admin => false,
            })
            .collect();
        let Some(g) = candidates.choose(&mut self.rng).copied() else {
            return false;
        };
        self.truth.members[m].groups.insert(g);
        if by_event {
            self.truth.members[m].ever_grouped = true;
            self.truth
                .emit_group(g, "MEMBER_ADD", Some(m), Phase::Churn, "group_member_add");
        } else {
            self.update(m, "group_list_add");
        }
        true
    }

    /// Out of one group; out of the last one deactivates (R9 c).
    pub(super) fn group_remove(&mut self, by_event: bool) -> bool {
        let Some(p) =
            self.person(|t, p| Self::live(t, p) && !t.members[t.current[p]].groups.is_empty())
        else {
            return false;
        };
        let m = self.truth.current[p];
        let groups: Vec<usize> = self.truth.members[m].groups.iter().copied().collect();
        let Some(g) = groups.choose(&mut self.rng).copied() else {
            return false;
        };
        self.truth.members[m].groups.remove(&g);
        if by_event {
            self.truth.emit_group(
                g,
                "MEMBER_DELETE",
                Some(m),
                Phase::Churn,
                "group_member_remove",
            );
        } else {
            self.update(m, "group_list_remove");
        }
        true
    }

    /// A project group deleted in the IdP: members for whom it was the only group are
    /// deactivated, the others only lose it (R12, R9 d). At most half of them go.
    pub(super) fn group_delete(&mut self) -> bool {
        let t = &self.truth;
        let projects: Vec<usize> = (0..t.org.groups.len())
            .filter(|g| t.org.groups[*g].kind == GroupKind::Custom && t.org.groups[*g].project)
            .collect();
        if t.deleted_groups.len() >= projects.len() / 2 {
            return false;
        }
        let live: Vec<usize> = projects
            .into_iter()
            .filter(|g| !t.deleted_groups.contains(g))
            .collect();
        let Some(g) = live.choose(&mut self.rng).copied() else {
            return false;
        };
        self.truth.deleted_groups.insert(g);
        for member in &mut self.truth.members {
            member.groups.remove(&g);
        }
        self.truth
            .emit_group(g, "DELETE", None, Phase::Churn, "group_delete");
        true
    }

    pub(super) fn default_group_delete(&mut self) {
        if let Some(g) = (0..self.truth.org.groups.len())
            .find(|g| self.truth.org.groups[*g].kind == GroupKind::FullAccess)
        {
            self.truth
                .emit_group(g, "DELETE", None, Phase::Churn, "default_group_delete");
        }
    }
}
