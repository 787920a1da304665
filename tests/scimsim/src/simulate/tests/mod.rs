//! The generator and the truth model: the organisation's shape, and the expected state after
//! scripted changes, computed by hand from SPEC R8-R14.

// Test support: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod org;
mod truth;

use std::collections::HashMap;

use chrono::{TimeZone, Utc};

use super::org::{DefaultNames, Org};
use super::truth::{Expected, Truth};

pub const NAMES: DefaultNames<'static> = DefaultNames {
    admin: "SkillsdbGlobalAdmins",
    full_access: "SkillsdbFullAccess",
};

pub fn generated(n: usize, seed: u64) -> Org {
    Org::generate(n, seed, "t", &NAMES)
}

pub fn truth_of(org: Org) -> Truth {
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut truth = Truth::new(org, "org-t", base);
    truth.initial_sync();
    truth
}

pub fn by_member(expected: &[Expected]) -> HashMap<String, Expected> {
    expected
        .iter()
        .map(|e| (e.member_id.clone(), e.clone()))
        .collect()
}
