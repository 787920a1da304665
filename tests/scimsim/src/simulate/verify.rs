//! Compares what the admin API shows with the truth, field by field, for every member record;
//! spot-checks the reports endpoint for the biggest teams.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use uuid::Uuid;

use super::admin::{Admin, UserRow};
use super::probe::Keys;
use super::truth::Expected;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Mismatch {
    /// The member id, or `company` for company-wide checks.
    pub subject: String,
    pub field: String,
    pub expected: String,
    pub actual: String,
}

impl Mismatch {
    pub fn new(subject: &str, field: &str, expected: impl ToString, actual: impl ToString) -> Self {
        Self {
            subject: subject.to_owned(),
            field: field.to_owned(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        }
    }
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

/// The simulated member id a user carries: its Stytch member id, or (the SCIM door) the
/// `externalId` the simulator sent.
pub fn member_key(user: &UserRow, keys: Keys) -> Option<&str> {
    match keys {
        Keys::Stytch => user.stytch_member_id.as_deref(),
        Keys::Scim => user.external_id.as_deref(),
    }
}

/// Every difference between the expected members and the users the admin API lists; `groups`
/// turns the product's group ids into the simulated ones (the SCIM door's are its own).
pub fn compare(
    expected: &[Expected],
    users: &[UserRow],
    keys: Keys,
    groups: &HashMap<String, String>,
) -> Vec<Mismatch> {
    let by_member: HashMap<&str, &UserRow> = users
        .iter()
        .filter_map(|u| member_key(u, keys).map(|m| (m, u)))
        .collect();
    let member_of: HashMap<Uuid, &str> = users
        .iter()
        .filter_map(|u| member_key(u, keys).map(|m| (u.id, m)))
        .collect();
    let mut out = Vec::new();
    for e in expected {
        let Some(user) = by_member.get(e.member_id.as_str()) else {
            out.push(Mismatch::new(&e.member_id, "user", "present", "missing"));
            continue;
        };
        let manager = user.manager_id.map(|id| {
            member_of
                .get(&id)
                .copied()
                .unwrap_or("<not in company>")
                .to_owned()
        });
        let mut groups: Vec<String> = user
            .groups
            .iter()
            .map(|g| {
                groups
                    .get(&g.idp_group_id)
                    .unwrap_or(&g.idp_group_id)
                    .clone()
            })
            .collect();
        groups.sort();
        let a = &e.attrs;
        let checks: [(&str, String, String); 15] = [
            ("email", e.email.clone(), user.email.clone()),
            ("active", e.active.to_string(), user.active.to_string()),
            (
                "permission_level",
                e.level.to_owned(),
                user.permission_level.clone(),
            ),
            ("manager", text(&e.manager), text(&manager)),
            ("groups", e.groups.join(","), groups.join(",")),
            ("first_name", a.given.clone(), user.first_name.clone()),
            ("last_name", a.family.clone(), user.last_name.clone()),
            ("job_title", a.title.clone(), text(&user.job_title)),
            ("department", a.department.clone(), text(&user.department)),
            ("division", a.division.clone(), text(&user.division)),
            ("city", a.city.clone(), text(&user.city)),
            ("country", a.country.clone(), text(&user.country)),
            (
                "business_phone",
                a.work_phone.clone(),
                text(&user.business_phone),
            ),
            (
                "mobile_phone",
                a.mobile_phone.clone(),
                text(&user.mobile_phone),
            ),
            (
                "employee_number",
                a.employee_number.clone(),
                text(&user.employee_number),
            ),
        ];
        for (field, want, got) in checks {
            if want != got {
                out.push(Mismatch::new(&e.member_id, field, want, got));
            }
        }
    }
    let known: BTreeSet<&str> = expected.iter().map(|e| e.member_id.as_str()).collect();
    for user in users {
        let member = member_key(user, keys).unwrap_or_default();
        if !known.contains(member) {
            out.push(Mismatch::new(
                &format!("{member} ({})", user.email),
                "user",
                "absent",
                "present",
            ));
        }
    }
    out
}

/// The reports endpoint agrees with the expected hierarchy for the `sample` biggest teams.
pub async fn check_reports(
    admin: &Admin,
    company: Uuid,
    expected: &[Expected],
    users: &[UserRow],
    sample: usize,
    keys: Keys,
) -> anyhow::Result<Vec<Mismatch>> {
    let id_of: HashMap<&str, Uuid> = users
        .iter()
        .filter_map(|u| member_key(u, keys).map(|m| (m, u.id)))
        .collect();
    let mut teams: HashMap<&str, BTreeSet<Uuid>> = HashMap::new();
    for e in expected {
        if let (Some(manager), Some(id)) = (e.manager.as_deref(), id_of.get(e.member_id.as_str())) {
            teams.entry(manager).or_default().insert(*id);
        }
    }
    let mut biggest: Vec<(&str, BTreeSet<Uuid>)> = teams.into_iter().collect();
    biggest.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    let mut out = Vec::new();
    for (manager, want) in biggest.into_iter().take(sample) {
        let Some(manager_id) = id_of.get(manager) else {
            continue;
        };
        let got: BTreeSet<Uuid> = admin
            .reports(company, *manager_id)
            .await?
            .into_iter()
            .collect();
        if got != want {
            out.push(Mismatch::new(
                manager,
                "reports",
                format!("{} direct reports", want.len()),
                format!(
                    "{} ({} differ)",
                    got.len(),
                    got.symmetric_difference(&want).count()
                ),
            ));
        }
    }
    Ok(out)
}
