//! The organisation: a tree with a span around 7, shaped by the seed, attributes as an IdP
//! sends them; and the delivery plan.

// Test support: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use super::{generated, truth_of, NAMES};
use crate::simulate::churn;
use crate::simulate::org::{Attrs, GroupKind, Org, Person};
use crate::simulate::plan::{plan, Order};

#[test]
fn the_hierarchy_is_a_tree_with_a_span_of_control_around_seven() {
    let org = generated(10_000, 7);
    let roots: Vec<usize> = (0..org.people.len())
        .filter(|i| org.people[*i].manager.is_none())
        .collect();
    assert_eq!(roots, vec![0], "one root");
    for (i, p) in org.people.iter().enumerate().skip(1) {
        let m = p.manager.unwrap();
        assert!(m < i, "managers come first, so there is no loop");
        assert_eq!(p.depth, org.people[m].depth + 1);
        assert!(org.people[m].reports.contains(&i));
    }
    let managers: Vec<&Person> = org
        .people
        .iter()
        .filter(|p| !p.reports.is_empty())
        .collect();
    let span = (org.people.len() - 1) as f64 / managers.len() as f64;
    assert!((6.5..=7.5).contains(&span), "mean span {span}");
    assert!(managers.iter().all(|p| p.reports.len() <= 10));
    let depth = org.people.iter().map(|p| p.depth).max().unwrap();
    assert!((4..=7).contains(&depth), "depth {depth} for 10,000 people");
}

#[test]
fn the_organisation_depends_on_the_seed_alone() {
    let a = Org::generate(500, 3, "one", &NAMES);
    let b = Org::generate(500, 3, "two", &NAMES);
    let c = Org::generate(500, 4, "one", &NAMES);
    let shape = |o: &Org| -> Vec<(Option<usize>, Attrs, bool, BTreeSet<usize>)> {
        o.people
            .iter()
            .map(|p| (p.manager, p.attrs.clone(), p.guest, p.groups.clone()))
            .collect()
    };
    assert_eq!(shape(&a), shape(&b));
    assert_ne!(shape(&a), shape(&c));
    assert_ne!(a.member_id(1), b.member_id(1), "ids carry the run's tag");
    assert_ne!(
        a.email(1, &a.people[1].attrs, 0),
        b.email(1, &b.people[1].attrs, 0)
    );
}

#[test]
fn people_look_like_an_identity_provider_sends_them() {
    let org = generated(2_000, 11);
    for p in &org.people {
        let a = &p.attrs;
        for field in [
            &a.given,
            &a.family,
            &a.title,
            &a.department,
            &a.division,
            &a.country,
        ]
        .into_iter()
        .chain([&a.city, &a.street, &a.work_phone, &a.employee_number])
        {
            assert!(!field.is_empty());
        }
        if p.guest {
            assert!(p.reports.is_empty(), "guests manage nobody");
        }
        if let Some(m) = p.manager.filter(|m| *m != 0) {
            assert_eq!(
                a.department, org.people[m].attrs.department,
                "teams stay in a department"
            );
        }
    }
    let guests = org.people.iter().filter(|p| p.guest).count();
    assert!((20..=100).contains(&guests), "{guests} guests");
    let in_group = |kind: GroupKind| {
        org.people
            .iter()
            .filter(|p| p.groups.iter().any(|g| org.groups[*g].kind == kind))
            .count()
    };
    assert!(in_group(GroupKind::Admin) >= 1);
    assert!(in_group(GroupKind::FullAccess) >= 20);
    let without = org.people.iter().filter(|p| p.groups.is_empty()).count();
    assert!(
        without >= 100,
        "some people have no group at all: {without}"
    );
    let emails: BTreeSet<String> = (0..org.people.len())
        .map(|i| org.email(i, &org.people[i].attrs, 0))
        .collect();
    assert_eq!(emails.len(), org.people.len(), "emails are unique");
}

#[test]
fn the_plan_orders_the_first_sync_and_mixes_in_duplicates() {
    let mut truth = truth_of(generated(200, 2));
    churn::churn(&mut truth, 50, 2);
    let member_of = |body: &[u8]| -> String {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        v["id"].as_str().unwrap().to_owned()
    };
    let groups = truth.org.groups.len();
    let worst = plan(&truth, Order::ReportsFirst, 0.0, 1);
    assert_eq!(
        member_of(&worst.initial[groups].body),
        truth.members[199].member_id
    );
    assert_eq!(
        member_of(worst.initial.last().unwrap().body.as_ref()),
        truth.members[0].member_id
    );
    let best = plan(&truth, Order::ManagersFirst, 0.0, 1);
    assert_eq!(
        member_of(&best.initial[groups].body),
        truth.members[0].member_id
    );
    let dup = plan(&truth, Order::Random, 0.1, 1);
    let events = best.initial.len() + best.churn.len();
    assert_eq!(dup.duplicates, (events as f64 * 0.1).round() as usize);
    assert_eq!(dup.initial.len() + dup.churn.len(), events + dup.duplicates);
    assert_eq!(dup.last.len(), 1, "the cycle attempt goes last, alone");
    let svix: BTreeSet<&str> = dup
        .initial
        .iter()
        .chain(&dup.churn)
        .map(|d| d.svix_id.as_str())
        .collect();
    assert!(
        svix.len() < events + dup.duplicates,
        "some duplicates reuse their svix-id"
    );
    assert!(svix.len() > events, "others come under a new svix-id");
}
