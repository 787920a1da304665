//! A member's state is the fold of all its events in timestamp order (R17).
//!
//! Events arrive in any order and any number of times, so instead of patching the stored row
//! with whichever event came last, the worker keeps every event and folds them oldest first.
//! Processing the same set of events in any order therefore gives the same state as processing
//! them once in order. Within the fold, an absent or empty field never clears a value (R5).

use chrono::{DateTime, Utc};
use scimsync_schema::stytch::{Action, Member};

/// One stored member event.
#[derive(Debug, Clone)]
pub struct MemberEvent {
    pub event_id: String,
    pub timestamp: DateTime<Utc>,
    pub action: Action,
    pub member: Option<Member>,
}

/// What the events say about a member, once folded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberState {
    /// True once any create/update carried a body: there is something to provision.
    pub has_body: bool,
    pub organization_id: Option<String>,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub deactivated_at: Option<DateTime<Utc>>,
    pub street_address: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub business_phone: Option<String>,
    pub mobile_phone: Option<String>,
    pub fax_phone: Option<String>,
    pub employee_number: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub division: Option<String>,
    pub manager_value: Option<String>,
    pub external_id: Option<String>,
    pub scim_id: Option<String>,
    /// Timestamp of the first event with a body: the record's date added (R7).
    pub first_seen: Option<DateTime<Utc>>,
    /// Timestamp of the newest event folded.
    pub newest: Option<DateTime<Utc>>,
}

fn overlay(slot: &mut Option<String>, value: Option<&str>) {
    if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
        *slot = Some(v.to_owned());
    }
}

/// Folds events oldest first; ties broken by event id so the result never depends on arrival.
pub fn fold(mut events: Vec<MemberEvent>) -> MemberState {
    events.sort_by(|a, b| {
        a.timestamp
            .cmp(&b.timestamp)
            .then_with(|| a.event_id.cmp(&b.event_id))
    });
    let mut state = MemberState::default();
    for event in &events {
        state.newest = Some(event.timestamp);
        match (&event.action, &event.member) {
            (Action::Delete, _) => deactivate(&mut state, event.timestamp),
            (_, Some(member)) => apply(&mut state, member, &event.action, event.timestamp),
            (_, None) => {}
        }
    }
    state
}

fn deactivate(state: &mut MemberState, at: DateTime<Utc>) {
    if state.active || state.deactivated_at.is_none() {
        state.deactivated_at = Some(at);
    }
    state.active = false;
}

fn apply(state: &mut MemberState, member: &Member, action: &Action, at: DateTime<Utc>) {
    let was_provisioned = state.has_body;
    state.has_body = true;
    state.first_seen.get_or_insert(at);
    let scim = member.scim();
    overlay(
        &mut state.organization_id,
        member.organization_id.as_deref(),
    );
    let scim_email = scim.and_then(|s| {
        s.emails
            .iter()
            .find(|e| e.primary == Some(true))
            .or_else(|| s.emails.first())
            .and_then(|e| e.value.as_deref())
    });
    overlay(
        &mut state.email,
        member.email_address.as_deref().or(scim_email),
    );
    overlay(
        &mut state.display_name,
        scim.and_then(|s| s.display_name.as_deref())
            .or(member.name.as_deref()),
    );
    overlay(
        &mut state.external_id,
        scim.and_then(|s| s.external_id.as_deref()),
    );
    overlay(&mut state.external_id, member.external_id.as_deref());
    if let Some(s) = scim {
        overlay(&mut state.scim_id, s.id.as_deref());
        if let Some(name) = &s.name {
            overlay(&mut state.given_name, name.given_name.as_deref());
            overlay(&mut state.family_name, name.family_name.as_deref());
        }
        if let Some(address) = s.first_address() {
            overlay(&mut state.street_address, address.street_address.as_deref());
            overlay(&mut state.region, address.region.as_deref());
            overlay(&mut state.postal_code, address.postal_code.as_deref());
            overlay(&mut state.city, address.locality.as_deref());
            overlay(&mut state.country, address.country.as_deref());
        }
        overlay(&mut state.business_phone, s.phone("work"));
        overlay(&mut state.mobile_phone, s.phone("mobile"));
        overlay(&mut state.fax_phone, s.phone("fax"));
        overlay(&mut state.job_title, s.title.as_deref());
        if let Some(ext) = &s.enterprise_extension {
            overlay(&mut state.employee_number, ext.employee_number.as_deref());
            overlay(&mut state.department, ext.department.as_deref());
            overlay(&mut state.division, ext.division.as_deref());
        }
        overlay(&mut state.manager_value, s.manager_value());
    }
    match scim.and_then(|s| s.active) {
        Some(false) => deactivate(state, at),
        Some(true) => {
            state.active = true;
            state.deactivated_at = None;
        }
        // Not sent: a create provisions an active user; an update leaves activity alone,
        // unless it is the first body we see (an update standing in for a lost create).
        None => {
            if *action == Action::Create || !was_provisioned {
                state.active = true;
                state.deactivated_at = None;
            }
        }
    }
}

impl MemberState {
    /// First name: `name.given_name`, else the first word of the display name, else the first
    /// segment of the email's local part when it has several (R5).
    pub fn first_name(&self) -> String {
        if let Some(given) = &self.given_name {
            return given.clone();
        }
        if let Some(first) = self
            .display_name
            .as_deref()
            .and_then(|d| d.split_whitespace().next())
        {
            return first.to_owned();
        }
        email_segments(self.email.as_deref())
            .and_then(|segments| segments.first().map(|s| capitalise(s)))
            .unwrap_or_default()
    }

    /// Last name: `name.family_name`, else the rest of the display name, else the last segment
    /// of the email's local part (split on `.`, `_`, `-`, when there are at least two), else
    /// the literal `Missing` (R5).
    pub fn last_name(&self) -> String {
        if let Some(family) = &self.family_name {
            return family.clone();
        }
        if let Some(display) = &self.display_name {
            let rest: Vec<&str> = display.split_whitespace().skip(1).collect();
            if !rest.is_empty() {
                return rest.join(" ");
            }
        }
        email_segments(self.email.as_deref())
            .and_then(|segments| segments.last().map(|s| capitalise(s)))
            .unwrap_or_else(|| "Missing".to_owned())
    }
}

/// The local part's segments, only when there are at least two.
fn email_segments(email: Option<&str>) -> Option<Vec<String>> {
    let local = email?.split('@').next()?;
    let segments: Vec<String> = local
        .split(['.', '_', '-'])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    (segments.len() >= 2).then_some(segments)
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests;
