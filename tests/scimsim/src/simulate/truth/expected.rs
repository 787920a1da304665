//! The expected end state, by the rules (see the module above), and its digest.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::{Expected, Truth};
use crate::simulate::org::GroupKind;

impl Truth {
    /// The state the product must reach.
    pub fn expected(&self) -> Vec<Expected> {
        let index: HashMap<&str, usize> = self
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| (m.member_id.as_str(), i))
            .collect();
        let effective: Vec<Vec<usize>> = self
            .members
            .iter()
            .map(|m| {
                m.groups
                    .iter()
                    .copied()
                    .filter(|g| !self.deleted_groups.contains(g))
                    .collect()
            })
            .collect();
        let active: Vec<bool> = self
            .members
            .iter()
            .zip(&effective)
            .map(|(m, groups)| {
                m.scim_active && !m.deleted && !(m.ever_grouped && groups.is_empty())
            })
            .collect();
        let mut has_active_report = vec![false; self.members.len()];
        for (i, m) in self.members.iter().enumerate() {
            if let Some(k) = m.manager.as_deref().and_then(|v| index.get(v)) {
                has_active_report[*k] |= active[i];
            }
        }
        self.members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let kinds: Vec<GroupKind> = effective[i]
                    .iter()
                    .map(|g| self.org.groups[*g].kind)
                    .collect();
                let level = if kinds.contains(&GroupKind::Admin) {
                    "admin"
                } else if kinds.contains(&GroupKind::FullAccess) {
                    "full_access"
                } else if has_active_report[i] {
                    "manager"
                } else {
                    "basic"
                };
                let mut groups: Vec<String> = effective[i]
                    .iter()
                    .map(|g| self.org.groups[*g].id.clone())
                    .collect();
                groups.sort();
                Expected {
                    member_id: m.member_id.clone(),
                    email: m.email.clone(),
                    active: active[i],
                    level,
                    manager: m.manager.clone(),
                    groups,
                    attrs: m.attrs.clone(),
                }
            })
            .collect()
    }
}

/// One line per member, sorted by member id: the state the convergence probe compares.
pub fn digest_line(
    member_id: &str,
    email: &str,
    active: bool,
    level: &str,
    manager: Option<&str>,
    groups: &[String],
) -> String {
    format!(
        "{member_id}|{email}|{active}|{level}|{}|{}",
        manager.unwrap_or_default(),
        groups.join(",")
    )
}

/// SHA-256 (hex) of the lines sorted bytewise and joined by newlines.
pub fn digest(expected: &[Expected]) -> String {
    let mut lines: Vec<String> = expected
        .iter()
        .map(|e| {
            digest_line(
                &e.member_id,
                &e.email,
                e.active,
                e.level,
                e.manager.as_deref(),
                &e.groups,
            )
        })
        .collect();
    lines.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    format!("{:x}", Sha256::digest(lines.join("\n").as_bytes()))
}
