//! The generated truth: what the identity provider holds over time, every event it sends (with
//! increasing timestamps, in the order things happened), and what the product must show once
//! all of them are processed, by the rules of SPEC R1-R17:
//!
//! - active = the member's own events say active (not deleted, `active` not false, R9 a/b,
//!   R10) and the member has not lost every group it had (R9 c/d; never had one: active);
//! - level = Admin (default admin group) > Full Access (default full-access group) > Manager
//!   (at least one active direct report) > Basic; custom groups carry no level unless an admin
//!   sets one, which the simulator never does, so they give Basic (R12);
//! - manager = the last manager value sent, except an assignment that would close a loop,
//!   which is skipped and keeps the previous manager (R13, R14).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

mod expected;

pub use expected::{digest, digest_line};

use super::events::{self, MemberView};
use super::org::{Attrs, Org};

/// When an event is played: the initial sync, the churn after it, and a final step sent only
/// once the rest has converged (the deliberate cycle attempt, whose verdict depends on the
/// hierarchy it meets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Initial,
    Churn,
    Final,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub event_id: String,
    pub at: DateTime<Utc>,
    pub phase: Phase,
    /// What the event plays, for reports (`create`, `attribute_update`, `group_delete`, ...).
    pub label: &'static str,
    pub body: Value,
    /// The member a member event is about (index into [`Truth::members`]).
    pub member: Option<usize>,
}

/// One Stytch member record. A guest re-invited under a new email is a second record (R8).
#[derive(Debug, Clone)]
pub struct Member {
    pub member_id: String,
    pub person: usize,
    pub external_id: String,
    pub email: String,
    pub email_version: u32,
    pub attrs: Attrs,
    /// The manager's member id: the link the product must show.
    pub manager: Option<String>,
    pub groups: BTreeSet<usize>,
    /// `active` as the member's own events say (`false` after a disable).
    pub scim_active: bool,
    /// Deprovisioned (`scim.member.delete`).
    pub deleted: bool,
    /// Had at least one group membership at some point (R9 c needs a transition).
    pub ever_grouped: bool,
    /// Events with a body, as indices into [`Truth::events`], for stale re-sends.
    pub bodies: Vec<usize>,
}

/// What an admin must see for one member once everything is processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub member_id: String,
    pub email: String,
    pub active: bool,
    pub level: &'static str,
    pub manager: Option<String>,
    pub groups: Vec<String>,
    pub attrs: Attrs,
}

pub struct Truth {
    pub org: Org,
    pub organization_id: String,
    pub members: Vec<Member>,
    /// The current member record of each person.
    pub current: Vec<usize>,
    pub deleted_groups: BTreeSet<usize>,
    pub events: Vec<Event>,
    /// `skipped_circular_manager` verdicts the churn asks for (R14).
    pub expected_cycle_skips: usize,
    base: DateTime<Utc>,
    ticks: i64,
}

impl Truth {
    pub fn new(org: Org, organization_id: &str, base: DateTime<Utc>) -> Self {
        let members = (0..org.people.len())
            .map(|i| {
                let person = &org.people[i];
                Member {
                    member_id: org.member_id(i),
                    person: i,
                    external_id: format!("ext-{}-{i:06}", org.tag),
                    email: org.email(i, &person.attrs, 0),
                    email_version: 0,
                    attrs: person.attrs.clone(),
                    manager: person.manager.map(|m| org.member_id(m)),
                    groups: person.groups.clone(),
                    scim_active: true,
                    deleted: false,
                    ever_grouped: false,
                    bodies: Vec::new(),
                }
            })
            .collect();
        let current = (0..org.people.len()).collect();
        Self {
            org,
            organization_id: organization_id.to_owned(),
            members,
            current,
            deleted_groups: BTreeSet::new(),
            events: Vec::new(),
            expected_cycle_skips: 0,
            base,
            ticks: 0,
        }
    }

    /// Every event a millisecond after the previous one, in the order things happen.
    fn tick(&mut self) -> (String, DateTime<Utc>) {
        self.ticks += 1;
        let id = format!("evt-{}-{:07}", self.org.tag, self.ticks);
        (id, self.base + Duration::milliseconds(self.ticks))
    }

    /// The identity provider's first cycle: its groups, then every member with full state.
    pub fn initial_sync(&mut self) {
        for g in 0..self.org.groups.len() {
            self.emit_group(g, "CREATE", None, Phase::Initial, "group_create");
        }
        for m in 0..self.members.len() {
            self.emit_member(m, "CREATE", Phase::Initial, "create", None);
        }
    }

    /// A create or update carrying the member's current state; `manager` overrides the value
    /// sent (the deliberate cycle attempt), without changing what the product must show.
    pub fn emit_member(
        &mut self,
        m: usize,
        action: &str,
        phase: Phase,
        label: &'static str,
        manager: Option<&str>,
    ) {
        let (event_id, at) = self.tick();
        let member = &self.members[m];
        let view = MemberView {
            organization_id: &self.organization_id,
            member_id: &member.member_id,
            external_id: &member.external_id,
            email: &member.email,
            attrs: &member.attrs,
            // A deprovisioned member is inactive in anything sent about it (R10 needs `true`).
            active: member.scim_active && !member.deleted,
            manager: manager.or(member.manager.as_deref()),
            groups: member
                .groups
                .iter()
                .filter(|g| !self.deleted_groups.contains(g))
                .filter_map(|g| self.org.groups.get(*g))
                .collect(),
        };
        let body = events::member(&event_id, action, at, &view);
        if !self.members[m].groups.is_empty() {
            self.members[m].ever_grouped = true;
        }
        self.members[m].bodies.push(self.events.len());
        self.push(event_id, at, phase, label, body, Some(m));
    }

    pub fn emit_delete(&mut self, m: usize, phase: Phase, label: &'static str) {
        let (event_id, at) = self.tick();
        let body = events::member_delete(&event_id, at, &self.members[m].member_id);
        self.members[m].deleted = true;
        self.push(event_id, at, phase, label, body, Some(m));
    }

    /// A group event; `member` for MEMBER_ADD / MEMBER_DELETE.
    pub fn emit_group(
        &mut self,
        g: usize,
        action: &str,
        member: Option<usize>,
        phase: Phase,
        label: &'static str,
    ) {
        let (event_id, at) = self.tick();
        let member_id = member.map(|m| self.members[m].member_id.as_str());
        let body = events::group(
            &event_id,
            action,
            at,
            &self.organization_id,
            &self.org.groups[g],
            member_id,
        );
        self.push(event_id, at, phase, label, body, None);
    }

    /// An older event of member `m` sent again as a new event: its old state, its old time
    /// (plus a microsecond). Processing it must change nothing (R17).
    pub fn emit_stale(&mut self, m: usize, body: usize, phase: Phase) {
        let (event_id, _) = self.tick();
        let old = &self.events[body];
        let at = old.at + Duration::microseconds(1);
        let mut copy = old.body.clone();
        copy["event_id"] = Value::String(event_id.clone());
        copy["timestamp"] = Value::String(events::stytch_time(at));
        self.push(event_id, at, phase, "stale_resend", copy, Some(m));
    }

    fn push(
        &mut self,
        event_id: String,
        at: DateTime<Utc>,
        phase: Phase,
        label: &'static str,
        body: Value,
        member: Option<usize>,
    ) {
        self.events.push(Event {
            event_id,
            at,
            phase,
            label,
            body,
            member,
        });
    }
}
