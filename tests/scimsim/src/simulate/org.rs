//! A realistic organisation, generated deterministically from a seed: a reporting tree with a
//! span of control around 7, departments that follow the tree, divisions, titles by level,
//! offices in several countries, phones and addresses, a few external guests (always leaves),
//! the two default groups, one group per department and a handful of project groups.
//!
//! Identifiers carry a per-run tag, so two runs never share a member id, an email or a group id
//! (emails are unique across the whole instance, R3), while the shape depends on the seed alone.

use std::collections::BTreeSet;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use super::names::{DEPARTMENTS, FAMILY, GIVEN, OFFICES, PROJECTS};

/// What a group grants by its kind (R12); custom groups have no level unless an admin sets one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    Admin,
    FullAccess,
    Custom,
}

#[derive(Debug, Clone)]
pub struct GroupDef {
    pub id: String,
    pub name: String,
    pub kind: GroupKind,
    /// A project group: short-lived, the kind of group an identity provider deletes.
    pub project: bool,
}

/// The attributes an identity provider sends for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attrs {
    pub given: String,
    pub family: String,
    pub title: String,
    pub department: String,
    pub division: String,
    pub country: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub street: String,
    pub work_phone: String,
    pub mobile_phone: String,
    pub fax: Option<String>,
    pub employee_number: String,
}

#[derive(Debug, Clone)]
pub struct Person {
    pub attrs: Attrs,
    /// Index of the manager; managers always come before their reports.
    pub manager: Option<usize>,
    pub depth: u32,
    pub reports: Vec<usize>,
    /// An external guest: re-added under a new member id when their email changes (R8).
    pub guest: bool,
    pub groups: BTreeSet<usize>,
}

#[derive(Debug, Clone)]
pub struct Org {
    /// Makes every identifier of this run unique (member ids, emails, group ids).
    pub tag: String,
    pub people: Vec<Person>,
    pub groups: Vec<GroupDef>,
}

/// Default group display names (configurable in the product, `[groups]`).
pub struct DefaultNames<'a> {
    pub admin: &'a str,
    pub full_access: &'a str,
}

impl Org {
    /// `n` people, shaped by `seed` alone; `tag` only names things.
    pub fn generate(n: usize, seed: u64, tag: &str, names: &DefaultNames<'_>) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let (managers, depths) = tree(n, &mut rng);
        let mut people: Vec<Person> = Vec::with_capacity(n);
        for i in 0..n {
            let department = match managers[i] {
                None => None,
                Some(0) => Some(people[0].reports.len() % DEPARTMENTS.len()),
                Some(m) => dept_index(&people[m]),
            };
            let attrs = attributes(i, department, &mut rng);
            people.push(Person {
                attrs,
                manager: managers[i],
                depth: depths[i],
                reports: Vec::new(),
                guest: false,
                groups: BTreeSet::new(),
            });
            if let Some(m) = managers[i] {
                people[m].reports.push(i);
            }
        }
        for (i, person) in people.iter_mut().enumerate() {
            let has_reports = !person.reports.is_empty();
            person.attrs.title = title(person, has_reports, &mut rng);
            // About 3% of individual contributors are external guests.
            if i > 0 && !has_reports && rng.random_bool(0.03) {
                person.guest = true;
                person.attrs.title = "External Consultant".into();
            }
        }
        let groups = assign_groups(&mut people, tag, names, &mut rng);
        Self {
            tag: tag.to_owned(),
            people,
            groups,
        }
    }

    pub fn member_id(&self, person: usize) -> String {
        format!("member-{}-{person:06}", self.tag)
    }

    /// A person's email; `version` > 0 for later addresses (name change, guest re-invite).
    pub fn email(&self, person: usize, attrs: &Attrs, version: u32) -> String {
        let local = format!("{}.{}", slug(&attrs.given), slug(&attrs.family));
        let suffix = if version == 0 {
            String::new()
        } else {
            format!(".v{version}")
        };
        if self.people[person].guest {
            format!("{local}.{person}{suffix}@partner-{}.example.net", self.tag)
        } else {
            format!("{local}.{person}{suffix}@{}.example.com", self.tag)
        }
    }
}

/// Breadth first: each manager takes 4 to 10 reports (7 on average) from the next people.
fn tree(n: usize, rng: &mut StdRng) -> (Vec<Option<usize>>, Vec<u32>) {
    let mut managers = vec![None; n];
    let mut depths = vec![0u32; n];
    let mut next = 1;
    let mut manager = 0;
    while next < n && manager < next {
        let span: usize = rng.random_range(4..=10);
        for _ in 0..span {
            if next >= n {
                break;
            }
            managers[next] = Some(manager);
            depths[next] = depths[manager] + 1;
            next += 1;
        }
        manager += 1;
    }
    (managers, depths)
}

fn dept_index(person: &Person) -> Option<usize> {
    DEPARTMENTS
        .iter()
        .position(|(name, _, _)| *name == person.attrs.department)
}

fn attributes(i: usize, department: Option<usize>, rng: &mut StdRng) -> Attrs {
    let (department, division) = match department {
        Some(d) => (DEPARTMENTS[d].0, DEPARTMENTS[d].1),
        None => ("Executive", "Corporate"),
    };
    let office = OFFICES.choose(rng).copied().unwrap_or(OFFICES[0]);
    let (country, city, region, postal_code, phone, street) = office;
    Attrs {
        given: GIVEN.choose(rng).copied().unwrap_or("Ada").to_owned(),
        family: FAMILY.choose(rng).copied().unwrap_or("Lovelace").to_owned(),
        title: String::new(),
        department: department.to_owned(),
        division: division.to_owned(),
        country: country.to_owned(),
        city: city.to_owned(),
        region: region.to_owned(),
        postal_code: postal_code.to_owned(),
        street: format!("{} {street}", rng.random_range(1..400)),
        work_phone: format!("{phone} {:04}", i % 10_000),
        mobile_phone: format!("{phone} {:04}", rng.random_range(0..10_000)),
        fax: rng
            .random_bool(0.1)
            .then(|| format!("{phone} {:04}", rng.random_range(0..10_000))),
        employee_number: format!("E{:06}", 100_000 + i),
    }
}

fn title(person: &Person, has_reports: bool, rng: &mut StdRng) -> String {
    let dept = &person.attrs.department;
    match (person.depth, has_reports) {
        (0, _) => "Chief Executive Officer".into(),
        (1, _) => format!("VP, {dept}"),
        (2, true) => format!("Director, {dept}"),
        (_, true) => format!("Manager, {dept}"),
        (_, false) => {
            let titles = DEPARTMENTS
                .iter()
                .find(|(name, _, _)| name == dept)
                .map(|(_, _, titles)| *titles)
                .unwrap_or(&["Analyst"]);
            titles.choose(rng).copied().unwrap_or("Analyst").to_owned()
        }
    }
}

/// The default groups, one group per department, project groups and a guests group.
fn assign_groups(
    people: &mut [Person],
    tag: &str,
    names: &DefaultNames<'_>,
    rng: &mut StdRng,
) -> Vec<GroupDef> {
    let mut groups = vec![
        group(tag, "global-admins", names.admin, GroupKind::Admin),
        group(tag, "full-access", names.full_access, GroupKind::FullAccess),
    ];
    let dept_group: Vec<usize> = DEPARTMENTS
        .iter()
        .map(|(name, _, _)| {
            groups.push(group(
                tag,
                &slug(name),
                &format!("{name} Team"),
                GroupKind::Custom,
            ));
            groups.len() - 1
        })
        .collect();
    let projects: Vec<usize> = PROJECTS
        .iter()
        .map(|name| {
            groups.push(group(tag, &slug(name), name, GroupKind::Custom));
            groups.len() - 1
        })
        .collect();
    groups.push(group(
        tag,
        "external-guests",
        "External Guests",
        GroupKind::Custom,
    ));
    let guests_group = groups.len() - 1;

    for (i, person) in people.iter_mut().enumerate() {
        if person.guest {
            if rng.random_bool(0.7) {
                person.groups.insert(guests_group);
            }
            continue;
        }
        if i == 0 || rng.random_bool(0.003) {
            person.groups.insert(0);
        }
        if person.depth == 1 || rng.random_bool(0.04) {
            person.groups.insert(1);
        }
        if let Some(d) = dept_index(person) {
            if rng.random_bool(0.85) {
                person.groups.insert(dept_group[d]);
            }
        }
        if rng.random_bool(0.15) {
            if let Some(p) = projects.choose(rng) {
                person.groups.insert(*p);
            }
        }
    }
    groups
}

fn group(tag: &str, slug: &str, name: &str, kind: GroupKind) -> GroupDef {
    GroupDef {
        id: format!("grp-{tag}-{slug}"),
        name: name.to_owned(),
        kind,
        project: name.starts_with("Project "),
    }
}

/// Moves a person to another office: country, city, address and phones change together.
pub fn relocate(attrs: &mut Attrs, rng: &mut StdRng) {
    let others: Vec<_> = OFFICES.iter().filter(|o| o.1 != attrs.city).collect();
    let Some((country, city, region, postal_code, phone, street)) = others.choose(rng).copied()
    else {
        return;
    };
    attrs.country = (*country).to_owned();
    attrs.city = (*city).to_owned();
    attrs.region = (*region).to_owned();
    attrs.postal_code = (*postal_code).to_owned();
    attrs.street = format!("{} {street}", rng.random_range(1..400));
    attrs.work_phone = format!("{phone} {:04}", rng.random_range(0..10_000));
}

/// A family name other than `current` (a name change that comes with a new email).
pub fn other_family(current: &str, rng: &mut StdRng) -> String {
    let others: Vec<&&str> = FAMILY.iter().filter(|f| **f != current).collect();
    others
        .choose(rng)
        .map(|f| (**f).to_owned())
        .unwrap_or_else(|| format!("{current}-Smith"))
}

/// Lower case letters and digits, other runs of characters as one `-`.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}
