//! A generated history of one company's members, kept both as what it means (for the model)
//! and as the webhooks that carry it.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use scimsync_tests::events::{delete, member, set_scim, t};
use serde_json::{json, Value};

pub const ORG: &str = "org-o";
const MEMBERS: usize = 30;
const EVENTS: usize = 200;
/// A manager value that names nobody: the link stays pending for ever. Members that report to
/// it report to nobody else, so no history asks what a pending value does to the manager an
/// earlier value linked (see `fill`).
pub const NOBODY: &str = "m-nobody";

/// A SCIM group a member list can name: id, display name, and the level it grants (R12; the
/// custom groups have no level set by an admin, so they grant none beyond Basic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    pub id: &'static str,
    pub name: &'static str,
    pub level: Level,
}

/// Permission levels, lowest first, so the highest is the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Basic,
    Manager,
    FullAccess,
    Admin,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Manager => "manager",
            Self::FullAccess => "full_access",
            Self::Admin => "admin",
        }
    }
}

pub const GROUPS: [Group; 4] = [
    Group {
        id: "g-admins",
        name: "SkillsdbGlobalAdmins",
        level: Level::Admin,
    },
    Group {
        id: "g-full",
        name: "SkillsdbFullAccess",
        level: Level::FullAccess,
    },
    Group {
        id: "g-eng",
        name: "Engineering",
        level: Level::Basic,
    },
    Group {
        id: "g-ops",
        name: "Operations",
        level: Level::Basic,
    },
];

/// What one member event says.
#[derive(Debug, Clone)]
pub enum Change {
    /// A full-state create or update (every field the IdP has, empty ones left out).
    State(State),
    /// A deprovisioning: no body.
    Delete,
}

#[derive(Debug, Clone)]
pub struct State {
    pub create: bool,
    pub email: String,
    pub active: bool,
    pub title: Option<String>,
    /// `None`: no list sent (memberships unchanged); `Some(vec![])`: in no group.
    pub groups: Option<Vec<Group>>,
    /// The manager's member id.
    pub manager: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub member: String,
    /// Seconds after [`t`]'s origin: the event's timestamp.
    pub at: i64,
    pub change: Change,
    pub body: Value,
}

/// How a member's group lists go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lists {
    /// Never in a group: no list, or an empty one.
    Never,
    /// Always in at least one group when a list is sent.
    Always,
    /// Like `Always`, until the member's last event, which leaves every group (R9c).
    Leaves,
}

/// `EVENTS` events over `MEMBERS` members, one second apart: creates, updates of title,
/// manager and groups, internal email changes, deletes, deactivations and re-provisionings.
/// A member's first event is its create. Managers always have a lower number than their
/// reports, so no order of the events can form a cycle, and are members the history creates,
/// except for the few members whose manager value is always [`NOBODY`]. A member who leaves every group does
/// so in its last event, so no later event asks whether re-provisioning without a group
/// reactivates.
pub fn history(seed: u64) -> Vec<Event> {
    let mut rng = StdRng::seed_from_u64(seed);
    let picks: Vec<usize> = (0..EVENTS).map(|_| rng.random_range(0..MEMBERS)).collect();
    let last: HashMap<usize, usize> = picks.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let lists: Vec<Lists> = (0..MEMBERS)
        .map(|_| match rng.random_range(0..5) {
            0 | 1 => Lists::Never,
            2 | 3 => Lists::Always,
            _ => Lists::Leaves,
        })
        .collect();
    // Managers are picked among the members that have events, so every link but NOBODY's
    // resolves in the end.
    let present: Vec<bool> = (0..MEMBERS).map(|m| last.contains_key(&m)).collect();
    let orphans: Vec<bool> = (0..MEMBERS).map(|_| rng.random_bool(0.1)).collect();
    let managers = |m: usize| -> Vec<String> {
        if orphans[m] {
            return vec![NOBODY.to_owned()];
        }
        (0..m)
            .filter(|j| present[*j])
            .map(|j| format!("m-{j}"))
            .collect()
    };
    let mut created = [false; MEMBERS];
    let mut version = [0u32; MEMBERS];
    let mut events = Vec::new();
    for (i, &m) in picks.iter().enumerate() {
        let email = |v: u32| format!("user{m}.v{v}@example.com");
        let mut state = State {
            create: false,
            email: email(version[m]),
            active: true,
            title: None,
            groups: None,
            manager: None,
        };
        let change = if !created[m] {
            created[m] = true;
            state.create = true;
            fill(&mut rng, &mut state, &managers(m), lists[m]);
            Change::State(state)
        } else if lists[m] == Lists::Leaves && last[&m] == i {
            state.groups = Some(Vec::new());
            Change::State(state)
        } else {
            match rng.random_range(0..10) {
                0 => Change::Delete,
                1 => {
                    version[m] += 1;
                    state.email = email(version[m]);
                    fill(&mut rng, &mut state, &managers(m), lists[m]);
                    Change::State(state)
                }
                2 => {
                    state.active = false;
                    Change::State(state)
                }
                _ => {
                    fill(&mut rng, &mut state, &managers(m), lists[m]);
                    Change::State(state)
                }
            }
        };
        let member = format!("m-{m}");
        let body = body(&member, i as i64, &change);
        events.push(Event {
            member,
            at: i as i64,
            change,
            body,
        });
    }
    events
}

/// A random title, group list and manager (one of `managers`), each sometimes left out.
fn fill(rng: &mut StdRng, state: &mut State, managers: &[String], lists: Lists) {
    if rng.random_bool(0.5) {
        state.title = Some(format!("Title {}", rng.random_range(0..5)));
    }
    state.groups = match lists {
        Lists::Never => rng.random_bool(0.3).then(Vec::new),
        Lists::Always | Lists::Leaves => rng.random_bool(0.7).then(|| {
            let mut chosen: Vec<Group> = GROUPS
                .iter()
                .copied()
                .filter(|_| rng.random_bool(0.3))
                .collect();
            if chosen.is_empty() {
                chosen.push(GROUPS[rng.random_range(0..GROUPS.len())]);
            }
            chosen
        }),
    };
    if !managers.is_empty() && rng.random_bool(0.5) {
        state.manager = Some(managers[rng.random_range(0..managers.len())].clone());
    }
}

fn body(member_id: &str, at: i64, change: &Change) -> Value {
    let Change::State(state) = change else {
        return delete(member_id, t(at));
    };
    let action = if state.create { "CREATE" } else { "UPDATE" };
    let mut body = member(action, ORG, member_id, &state.email, t(at));
    set_scim(&mut body, "active", json!(state.active));
    if let Some(title) = &state.title {
        set_scim(&mut body, "title", json!(title));
    }
    if let Some(groups) = &state.groups {
        let list: Vec<Value> = groups
            .iter()
            .map(|g| json!({"value": g.id, "display": g.name}))
            .collect();
        set_scim(&mut body, "groups", json!(list));
    }
    if let Some(manager) = &state.manager {
        set_scim(
            &mut body,
            "enterprise_extension",
            json!({"manager": {"value": manager}}),
        );
    }
    body
}
