//! The truth model: expected state after scripted changes, computed by hand (R8-R14).

// Test support: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeSet, HashMap};

use super::{by_member, generated, truth_of};
use crate::simulate::churn;
use crate::simulate::org::{Attrs, GroupDef, GroupKind, Org, Person};
use crate::simulate::truth::{digest, Expected, Phase, Truth};

/// A hand-made organisation: 0 manages 1 and 2; 1 manages 3; 4 is a guest under 2.
/// Groups: 0 admin, 1 full access, 2 and 3 custom.
fn small() -> Truth {
    let attrs = |i: usize| Attrs {
        given: format!("G{i}"),
        family: format!("F{i}"),
        title: "Engineer".into(),
        department: "Engineering".into(),
        division: "Technology".into(),
        country: "US".into(),
        city: "New York".into(),
        region: "NY".into(),
        postal_code: "10001".into(),
        street: "1 Main St".into(),
        work_phone: "+1 212 555 0000".into(),
        mobile_phone: "+1 212 555 0001".into(),
        fax: None,
        employee_number: format!("E{i}"),
    };
    let shape: [(Option<usize>, &[usize], bool); 6] = [
        (None, &[0], false),
        (Some(0), &[2], false),
        (Some(0), &[2, 3], false),
        (Some(1), &[3], false),
        (Some(2), &[], true),
        (Some(2), &[], false),
    ];
    let mut people: Vec<Person> = shape
        .iter()
        .enumerate()
        .map(|(i, (manager, groups, guest))| Person {
            attrs: attrs(i),
            manager: *manager,
            depth: 0,
            reports: Vec::new(),
            guest: *guest,
            groups: groups.iter().copied().collect(),
        })
        .collect();
    for i in 1..people.len() {
        let m = people[i].manager.unwrap();
        people[m].reports.push(i);
    }
    let group = |id: &str, name: &str, kind| GroupDef {
        id: id.into(),
        name: name.into(),
        kind,
        project: name.starts_with("Project "),
    };
    let org = Org {
        tag: "s".into(),
        people,
        groups: vec![
            group("g-admin", "SkillsdbGlobalAdmins", GroupKind::Admin),
            group("g-full", "SkillsdbFullAccess", GroupKind::FullAccess),
            group("g-eng", "Engineering Team", GroupKind::Custom),
            group("g-proj", "Project Atlas", GroupKind::Custom),
        ],
    };
    truth_of(org)
}

fn expect(truth: &Truth) -> HashMap<String, Expected> {
    by_member(&truth.expected())
}

#[test]
fn levels_follow_groups_then_active_reports() {
    let truth = small();
    let e = expect(&truth);
    let level = |i: usize| e[&truth.members[i].member_id].level;
    assert_eq!(level(0), "admin");
    assert_eq!(
        level(1),
        "manager",
        "custom group alone gives basic; 3 reports to 1"
    );
    assert_eq!(level(2), "manager");
    assert_eq!(level(3), "basic");
    assert_eq!(
        level(4),
        "basic",
        "a guest in no group stays active as basic"
    );
    assert!(e.values().all(|x| x.active));
    assert_eq!(
        e[&truth.members[3].member_id].manager,
        Some(truth.members[1].member_id.clone())
    );
}

#[test]
fn scripted_churn_gives_the_hand_computed_state() {
    let mut truth = small();
    // 3 leaves its last group (R9 c): inactive; so 1 has no active report left.
    truth.members[3].groups.clear();
    truth.emit_group(
        3,
        "MEMBER_DELETE",
        Some(3),
        Phase::Churn,
        "group_member_remove",
    );
    // The project group is deleted: 2 keeps the engineering group.
    truth.deleted_groups.insert(3);
    truth.emit_group(3, "DELETE", None, Phase::Churn, "group_delete");
    // 1 joins full access.
    truth.members[1].groups.insert(1);
    truth.emit_member(1, "UPDATE", Phase::Churn, "group_list_add", None);
    // 5 (never in a group) is disabled, then re-enabled.
    truth.members[5].scim_active = false;
    truth.emit_member(5, "UPDATE", Phase::Churn, "disable", None);
    let before_stale = truth.expected();
    truth.emit_stale(5, truth.members[5].bodies[0], Phase::Churn);
    assert_eq!(
        truth.expected(),
        before_stale,
        "a stale re-send changes nothing"
    );
    let e = expect(&truth);
    let m = |i: usize| &e[&truth.members[i].member_id];
    assert!(!m(3).active);
    assert_eq!(m(1).level, "full_access");
    assert_eq!(m(2).groups, vec!["g-eng".to_owned()]);
    assert!(m(2).active);
    assert!(!m(5).active);
    assert_eq!(
        m(2).level,
        "manager",
        "the guest 4 is still an active report"
    );
}

#[test]
fn a_guest_re_added_is_a_new_record_and_the_old_one_is_deactivated() {
    let mut truth = small();
    truth.emit_delete(4, Phase::Churn, "guest_readd");
    let mut again = truth.members[4].clone();
    again.member_id = format!("{}-r1", again.member_id);
    again.email = "g4.f4.new@partner.example.net".into();
    again.deleted = false;
    again.bodies.clear();
    truth.members.push(again);
    truth.current[4] = 6;
    truth.emit_member(6, "CREATE", Phase::Churn, "guest_readd", None);
    let e = expect(&truth);
    let old = &e[&truth.members[4].member_id];
    let new = &e[&truth.members[6].member_id];
    assert!(!old.active && new.active);
    assert_eq!(new.manager, old.manager, "the new record keeps the manager");
    assert_eq!(e[&truth.members[2].member_id].level, "manager");
    // Both reports of 2 leave: 2 drops back to basic (R12).
    truth.members[6].scim_active = false;
    truth.emit_member(6, "UPDATE", Phase::Churn, "disable", None);
    truth.emit_delete(5, Phase::Churn, "disable");
    assert_eq!(expect(&truth)[&truth.members[2].member_id].level, "basic");
}

#[test]
fn a_member_whose_only_group_is_deleted_is_deactivated() {
    let mut truth = small();
    truth.deleted_groups.insert(2);
    for m in &mut truth.members {
        m.groups.remove(&2);
    }
    truth.emit_group(2, "DELETE", None, Phase::Churn, "group_delete");
    let e = expect(&truth);
    let m = |i: usize| &e[&truth.members[i].member_id];
    assert!(!m(1).active, "the engineering group was 1's only group");
    assert!(m(2).active, "2 keeps the project group");
    assert_eq!(m(2).groups, vec!["g-proj".to_owned()]);
    assert_eq!(m(0).level, "admin");
}

#[test]
fn churn_is_deterministic_and_keeps_the_hierarchy_a_tree() {
    let run = || {
        let mut truth = truth_of(generated(1_000, 5));
        let summary = churn::churn(&mut truth, 400, 5);
        (truth, summary)
    };
    let (a, summary) = run();
    let (b, _) = run();
    assert_eq!(digest(&a.expected()), digest(&b.expected()));
    assert_eq!(summary.operations.values().sum::<usize>(), 400);
    for op in [
        "attribute_update",
        "email_change",
        "disable",
        "manager_reassign",
        "stale_resend",
    ] {
        assert!(
            summary.operations.get(op).copied().unwrap_or(0) > 0,
            "{op} happened"
        );
    }
    assert_eq!(a.expected_cycle_skips, 1);
    let (x, y) = summary.cycle.unwrap();
    let expected = by_member(&a.expected());
    let x_id = &a.members[x].member_id;
    assert_eq!(
        expected[&a.members[y].member_id].manager.as_ref(),
        Some(x_id)
    );
    assert_eq!(
        expected[x_id].manager,
        a.org.people[x].manager.map(|p| a.org.member_id(p)),
        "the cycle attempt leaves X with its manager"
    );
    let last = a.events.last().unwrap();
    assert_eq!((last.phase, last.label), (Phase::Final, "cycle_attempt"));
    // Following managers from anyone ends at the root: no loop.
    for e in expected.values() {
        let mut seen = BTreeSet::new();
        let mut at = e.manager.clone();
        while let Some(m) = at {
            assert!(seen.insert(m.clone()), "loop through {m}");
            at = expected[&m].manager.clone();
        }
    }
    let ids: BTreeSet<&str> = a.events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids.len(), a.events.len(), "event ids are unique");
    assert!(
        expected.values().any(|e| !e.active),
        "churn deactivates someone"
    );
}
