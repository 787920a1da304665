//! What an identity provider sends after its first cycle: attribute updates, internal email
//! changes, guest re-invitations, disables and re-enables, group membership changes (through
//! `idp_group` events and through full-state group lists), group deletions, manager
//! reassignments and stale re-sends; plus one attempt to delete a default group (ignored) and
//! one deliberate manager cycle (skipped), each applied to the truth as the rules say.
//!
//! Manager reassignments only move people who never manage anyone, and only under people who
//! managed someone from the start: whatever order the events arrive in, no intermediate
//! hierarchy can contain a loop, so the final tree does not depend on delivery order.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

mod groups;

use super::org;
use super::truth::{Phase, Truth};

/// Operations by weight (they add up to 100).
const OPS: &[(&str, u32)] = &[
    ("attribute_update", 22),
    ("email_change", 7),
    ("guest_readd", 5),
    ("disable", 10),
    ("reenable", 6),
    ("group_member_add", 8),
    ("group_list_add", 5),
    ("group_member_remove", 8),
    ("group_list_remove", 4),
    ("group_delete", 2),
    ("manager_reassign", 13),
    ("stale_resend", 10),
];

/// What the churn did, by operation.
#[derive(Debug, Default, Clone)]
pub struct ChurnSummary {
    pub operations: BTreeMap<&'static str, usize>,
    /// The deliberate cycle attempt: (member whose manager would become its own report, report).
    pub cycle: Option<(usize, usize)>,
}

struct Churn<'a> {
    truth: &'a mut Truth,
    rng: StdRng,
    /// People no operation touches: the two ends of the deliberate cycle.
    excluded: Vec<usize>,
    /// People who managed someone from the start: the only targets of reassignments.
    managers: Vec<usize>,
    /// People who never manage anyone: the only people reassigned.
    leaves: Vec<usize>,
}

/// Applies `ops` churn operations to the truth (deterministic from `seed`), then, if any, the
/// default group delete attempt and the deliberate cycle (played last, in [`Phase::Final`]).
pub fn churn(truth: &mut Truth, ops: usize, seed: u64) -> ChurnSummary {
    let mut summary = ChurnSummary::default();
    if ops == 0 {
        return summary;
    }
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_c4a2);
    let people = &truth.org.people;
    let pairs: Vec<(usize, usize)> = (0..people.len())
        .filter(|x| people[*x].manager.is_some())
        .flat_map(|x| people[x].reports.iter().map(move |y| (x, *y)))
        .filter(|(_, y)| people[*y].reports.is_empty() && !people[*y].guest)
        .collect();
    let cycle = pairs.choose(&mut rng).copied();
    let excluded: Vec<usize> = cycle.map(|(x, y)| vec![x, y]).unwrap_or_default();
    let managers = (0..people.len())
        .filter(|p| !people[*p].reports.is_empty())
        .collect();
    let leaves = (0..people.len())
        .filter(|p| people[*p].reports.is_empty() && !people[*p].guest)
        .filter(|p| !excluded.contains(p))
        .collect();
    let mut churn = Churn {
        truth,
        rng,
        excluded,
        managers,
        leaves,
    };
    let default_delete_at = churn.rng.random_range(0..ops);
    for i in 0..ops {
        if i == default_delete_at {
            // R12: delete events for the default groups are ignored.
            churn.default_group_delete();
        }
        let op = churn.pick_op();
        let done = churn.apply(op) || churn.apply("attribute_update");
        if done {
            *summary.operations.entry(op).or_default() += 1;
        }
    }
    if let Some((x, y)) = cycle {
        let report = churn.truth.members[y].member_id.clone();
        // X's manager would become Y, who reports to X: skipped, X keeps its manager (R14).
        churn
            .truth
            .emit_member(x, "UPDATE", Phase::Final, "cycle_attempt", Some(&report));
        churn.truth.expected_cycle_skips = 1;
        summary.cycle = Some((x, y));
    }
    summary
}

impl Churn<'_> {
    fn pick_op(&mut self) -> &'static str {
        let mut roll = self.rng.random_range(0..100u32);
        for (op, weight) in OPS {
            if roll < *weight {
                return op;
            }
            roll -= weight;
        }
        "attribute_update"
    }

    /// A person (not excluded) whose current member record satisfies `ok`.
    fn person(&mut self, ok: impl Fn(&Truth, usize) -> bool) -> Option<usize> {
        let n = self.truth.current.len();
        for _ in 0..64 {
            let p = self.rng.random_range(0..n);
            if !self.excluded.contains(&p) && ok(self.truth, p) {
                return Some(p);
            }
        }
        let candidates: Vec<usize> = (0..n)
            .filter(|p| !self.excluded.contains(p) && ok(self.truth, *p))
            .collect();
        candidates.choose(&mut self.rng).copied()
    }

    fn apply(&mut self, op: &'static str) -> bool {
        match op {
            "attribute_update" => self.attribute_update(),
            "email_change" => self.email_change(),
            "guest_readd" => self.guest_readd(),
            "disable" => self.disable(),
            "reenable" => self.reenable(),
            "group_member_add" => self.group_add(true),
            "group_list_add" => self.group_add(false),
            "group_member_remove" => self.group_remove(true),
            "group_list_remove" => self.group_remove(false),
            "group_delete" => self.group_delete(),
            "manager_reassign" => self.manager_reassign(),
            "stale_resend" => self.stale_resend(),
            _ => false,
        }
    }

    fn live(t: &Truth, p: usize) -> bool {
        !t.members[t.current[p]].deleted
    }

    fn update(&mut self, m: usize, label: &'static str) {
        self.truth
            .emit_member(m, "UPDATE", Phase::Churn, label, None);
    }

    fn attribute_update(&mut self) -> bool {
        let Some(p) = self.person(Self::live) else {
            return false;
        };
        let m = self.truth.current[p];
        let attrs = &mut self.truth.members[m].attrs;
        match self.rng.random_range(0..3) {
            0 => {
                attrs.title = match attrs.title.strip_prefix("Senior ") {
                    Some(rest) => format!("Principal {rest}"),
                    None => format!("Senior {}", attrs.title),
                }
            }
            1 => org::relocate(attrs, &mut self.rng),
            _ => attrs.mobile_phone = format!("+1 202 555 {:04}", self.rng.random_range(0..10_000)),
        }
        self.update(m, "attribute_update");
        true
    }

    /// An internal user's name and email change: an update of the same member (R8).
    fn email_change(&mut self) -> bool {
        let Some(p) = self.person(|t, p| Self::live(t, p) && !t.org.people[p].guest) else {
            return false;
        };
        let m = self.truth.current[p];
        let family = org::other_family(&self.truth.members[m].attrs.family, &mut self.rng);
        let member = &mut self.truth.members[m];
        member.attrs.family = family;
        member.email_version += 1;
        member.email = self.truth.org.email(p, &member.attrs, member.email_version);
        self.update(m, "email_change");
        true
    }

    /// A guest's email changes: the IdP removes and re-adds them, so the old member is deleted
    /// and a new member (new id, new email) is created; the two records stay apart (R8).
    fn guest_readd(&mut self) -> bool {
        let Some(p) = self.person(|t, p| Self::live(t, p) && t.org.people[p].guest) else {
            return false;
        };
        let old = self.truth.current[p];
        self.truth.emit_delete(old, Phase::Churn, "guest_readd");
        let mut member = self.truth.members[old].clone();
        let version = member.email_version + 1;
        member.member_id = format!("{}-r{version}", self.truth.org.member_id(p));
        member.external_id = format!("{}-r{version}", member.external_id);
        member.email_version = version;
        member.email = self.truth.org.email(p, &member.attrs, version);
        member.deleted = false;
        member.scim_active = true;
        member.ever_grouped = false;
        member.bodies = Vec::new();
        self.truth.members.push(member);
        let new = self.truth.members.len() - 1;
        self.truth.current[p] = new;
        self.truth
            .emit_member(new, "CREATE", Phase::Churn, "guest_readd", None);
        true
    }

    /// `active: false` (two times in three) or a deprovisioning delete (R9 a/b).
    fn disable(&mut self) -> bool {
        let Some(p) = self.person(|t, p| {
            let m = &t.members[t.current[p]];
            !m.deleted && m.scim_active
        }) else {
            return false;
        };
        let m = self.truth.current[p];
        if self.rng.random_bool(2.0 / 3.0) {
            self.truth.members[m].scim_active = false;
            self.update(m, "disable");
        } else {
            self.truth.emit_delete(m, Phase::Churn, "disable");
        }
        true
    }

    /// A later update with `active: true` reactivates the same record (R10).
    fn reenable(&mut self) -> bool {
        let Some(p) = self.person(|t, p| {
            let m = &t.members[t.current[p]];
            m.deleted || !m.scim_active
        }) else {
            return false;
        };
        let m = self.truth.current[p];
        self.truth.members[m].deleted = false;
        self.truth.members[m].scim_active = true;
        self.update(m, "reenable");
        true
    }

    /// Someone who manages nobody moves under another original manager.
    fn manager_reassign(&mut self) -> bool {
        let live: Vec<usize> = (self.leaves.iter().copied())
            .filter(|p| Self::live(self.truth, *p))
            .collect();
        let Some(p) = live.choose(&mut self.rng).copied() else {
            return false;
        };
        let m = self.truth.current[p];
        let current = self.truth.members[m].manager.clone();
        let targets: Vec<String> = self
            .managers
            .iter()
            .map(|q| self.truth.members[self.truth.current[*q]].member_id.clone())
            .filter(|id| Some(id) != current.as_ref())
            .collect();
        let Some(target) = targets.choose(&mut self.rng).cloned() else {
            return false;
        };
        self.truth.members[m].manager = Some(target);
        self.update(m, "manager_reassign");
        true
    }

    /// An older event of a member sent again, with its old timestamp: it changes nothing.
    fn stale_resend(&mut self) -> bool {
        let t = &self.truth;
        let excluded: Vec<usize> = self.excluded.clone();
        let candidates: Vec<usize> = (0..t.members.len())
            .filter(|m| !excluded.contains(&t.members[*m].person))
            .filter(|m| {
                let member = &t.members[*m];
                member.bodies.len() >= 2 || (member.deleted && !member.bodies.is_empty())
            })
            .collect();
        let Some(m) = candidates.choose(&mut self.rng).copied() else {
            return false;
        };
        let bodies = &self.truth.members[m].bodies;
        let older = if self.truth.members[m].deleted {
            bodies.len()
        } else {
            bodies.len() - 1
        };
        let body = bodies[self.rng.random_range(0..older)];
        self.truth.emit_stale(m, body, Phase::Churn);
        true
    }
}
