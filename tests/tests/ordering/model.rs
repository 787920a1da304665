//! What the product must show after a history, computed from the history alone by the SPEC's
//! rules, in plain Rust: the events folded in timestamp order (R17), each empty or absent field
//! leaving the value as it was (R5).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use scimsync_tests::events::t;

use crate::history::{Change, Event, Level};

/// One member's final state, as the admin API should show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub email: String,
    pub title: Option<String>,
    pub active: bool,
    pub level: &'static str,
    /// The manager's member id.
    pub manager: Option<String>,
    pub date_added: DateTime<Utc>,
}

/// A member's own events, folded.
#[derive(Default)]
struct Folded {
    email: String,
    title: Option<String>,
    /// Active by its own events: the last of them was a create or update saying active
    /// (R9 a/b, R10).
    own_active: bool,
    /// Some list it was ever sent named a group.
    had_group: bool,
    /// Its newest list: memberships are full state (`None`: never sent).
    groups: Option<Vec<crate::history::Group>>,
    manager_value: Option<String>,
    created_at: Option<i64>,
}

impl Folded {
    /// R9: inactive when its own events say so, or when it lost every group it had (c). A
    /// member that never had a group stays active.
    fn active(&self) -> bool {
        let lost_every_group = self.had_group && self.groups.as_ref().is_some_and(Vec::is_empty);
        self.own_active && !lost_every_group
    }

    /// R12: the highest level its groups grant.
    fn group_level(&self) -> Level {
        self.groups
            .iter()
            .flatten()
            .map(|g| g.level)
            .max()
            .unwrap_or(Level::Basic)
    }
}

pub fn expected(history: &[Event]) -> BTreeMap<String, Member> {
    let mut in_order: Vec<&Event> = history.iter().collect();
    in_order.sort_by_key(|e| e.at);
    let mut folded: BTreeMap<String, Folded> = BTreeMap::new();
    for event in in_order {
        let member = folded.entry(event.member.clone()).or_default();
        match &event.change {
            Change::Delete => member.own_active = false,
            Change::State(state) => {
                if state.create && member.created_at.is_none() {
                    member.created_at = Some(event.at);
                }
                if !state.email.is_empty() {
                    member.email = state.email.clone();
                }
                if state.title.is_some() {
                    member.title = state.title.clone();
                }
                member.own_active = state.active;
                if let Some(groups) = &state.groups {
                    member.had_group |= !groups.is_empty();
                    member.groups = Some(groups.clone());
                }
                if state.manager.is_some() {
                    member.manager_value = state.manager.clone();
                }
            }
        }
    }
    // R13: the manager value is a member id here; it links once that member has a record.
    let manager_of = |f: &Folded| {
        f.manager_value
            .clone()
            .filter(|value| folded.contains_key(value))
    };
    folded
        .iter()
        .map(|(id, f)| {
            // R12: Manager with at least one active direct report.
            let has_active_report = folded
                .values()
                .any(|r| r.active() && manager_of(r).as_deref() == Some(id.as_str()));
            let reports_level = if has_active_report {
                Level::Manager
            } else {
                Level::Basic
            };
            let member = Member {
                email: f.email.clone(),
                title: f.title.clone(),
                active: f.active(),
                level: f.group_level().max(reports_level).as_str(),
                manager: manager_of(f),
                date_added: t(f
                    .created_at
                    .expect("every member's first event is its create")),
            };
            (id.clone(), member)
        })
        .collect()
}
