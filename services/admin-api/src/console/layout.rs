//! The page shell and the small pieces every page uses: navigation, dates, badges, the CSRF
//! field of a form.

use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use uuid::Uuid;

use super::guard::CSRF_FIELD;
use super::session::Session;

/// Which part of the console a page belongs to, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Companies,
    Overview,
    Users,
    Groups,
    Events,
    Audit,
    DeadLetters,
}

/// The company a page is about, for its navigation.
pub struct CompanyHead<'a> {
    pub id: Uuid,
    pub name: &'a str,
}

/// What every page's shell needs.
pub struct Ctx<'a> {
    pub session: &'a Session,
    pub tab: Tab,
    pub company: Option<CompanyHead<'a>>,
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · scimsync console" }
            link rel="stylesheet" href="/assets/console.css";
            link rel="icon" href="/assets/favicon.svg" type="image/svg+xml";
            script src="/assets/console.js" defer {}
        }
    }
}

/// A page without navigation (errors).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body { (body) }
        }
    }
}

/// A page of the console: navigation, the company's tabs when it is about one, the body.
pub fn page(ctx: &Ctx<'_>, title: &str, body: Markup) -> Markup {
    let session = ctx.session;
    let current = |tab: Tab| if ctx.tab == tab { Some("page") } else { None };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    nav aria-label="Console" {
                        a.brand href="/companies" { "scimsync" }
                        a href="/companies" aria-current=[current(Tab::Companies).or(current(Tab::Overview))] { "Companies" }
                        a href="/audit" aria-current=[current(Tab::Audit).filter(|_| ctx.company.is_none())] { "Audit" }
                        @if session.actor.may_change() {
                            a href="/dead-letters" aria-current=[current(Tab::DeadLetters)] { "Dead letters" }
                        }
                    }
                    form.who method="post" action="/sign-out" {
                        (csrf(session))
                        span { (session.actor.name) " · " span.role { (session.actor.role.as_str()) } }
                        button.link type="submit" { "Sign out" }
                    }
                }
                @if let Some(company) = &ctx.company {
                    nav.tabs aria-label="Company" {
                        span.company-name { (company.name) }
                        a href={ "/companies/" (company.id) } aria-current=[current(Tab::Overview)] { "Overview" }
                        a href={ "/companies/" (company.id) "/users" } aria-current=[current(Tab::Users)] { "Users" }
                        a href={ "/companies/" (company.id) "/groups" } aria-current=[current(Tab::Groups)] { "Groups" }
                        a href={ "/companies/" (company.id) "/events" } aria-current=[current(Tab::Events)] { "Event log" }
                        a href={ "/audit?company_id=" (company.id) } aria-current=[current(Tab::Audit).filter(|_| ctx.company.is_some())] { "Audit" }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(session.csrf); }
}

/// A time as people read it, in UTC, with the machine-readable value.
pub fn time(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M UTC")) } }
}

pub fn maybe_time(at: Option<DateTime<Utc>>, none: &str) -> Markup {
    match at {
        Some(at) => time(at),
        None => html! { span.muted { (none) } },
    }
}

/// How long ago, roughly: "3 min ago", "5 h ago", "2 d ago".
pub fn ago(at: DateTime<Utc>) -> String {
    let secs = (Utc::now() - at).num_seconds().max(0);
    match secs {
        0..=59 => "just now".to_owned(),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

/// A permission level as a badge.
pub fn level(level: &str) -> Markup {
    let label = match level {
        "admin" => "Admin",
        "full_access" => "Full Access",
        "manager" => "Manager",
        "basic" => "Basic",
        other => other,
    };
    html! { span class={ "badge level-" (level) } { (label) } }
}

/// Whether an event-log outcome is a refusal or a failure, shown in red.
pub fn is_rejection(outcome: &str) -> bool {
    outcome.starts_with("rejected_")
        || outcome.starts_with("skipped_")
        || outcome.starts_with("unparseable_")
        || matches!(
            outcome,
            "missing_email" | "member_not_found" | "manager_not_found"
        )
}

/// An outcome as a badge: red for refusals, amber for deactivations, grey for no change.
pub fn outcome(outcome: &str) -> Markup {
    let class = if is_rejection(outcome) {
        "bad"
    } else if outcome == "deactivated" {
        "warn"
    } else if matches!(
        outcome,
        "unchanged" | "stale_ignored" | "manager_unchanged" | "manager_pending"
    ) || outcome.starts_with("ignored_")
    {
        "quiet"
    } else {
        "good"
    };
    html! { span class={ "badge " (class) } { (outcome) } }
}

/// A notice after a change, chosen from a fixed list (the query names one, never a text).
pub fn notice(done: Option<&str>) -> Markup {
    let text = match done.unwrap_or_default() {
        "registered" => "Company registered.",
        "saved" => "Saved.",
        "revoked" => "Token revoked.",
        "level" => "Level saved; the group's members were recomputed.",
        "automation" => "Career automation attached.",
        "automation-deleted" => "Career automation removed.",
        "manager-cleared" => "Manager cleared. It stays cleared until the identity provider sends a different manager.",
        _ => return html! {},
    };
    html! { p.notice role="status" { (text) } }
}

/// JSON shown compactly in a page (details of events, audit values, dead letters).
pub fn json(value: &serde_json::Value) -> Markup {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    html! { pre.json { (text) } }
}

/// An empty marker for absent values.
pub fn dash() -> Markup {
    html! { span.muted { "—" } }
}

/// Text as-is when present, a dash otherwise.
pub fn text(value: Option<&str>) -> Markup {
    match value.filter(|v| !v.is_empty()) {
        Some(v) => html! { (v) },
        None => dash(),
    }
}

/// A non-breaking space for empty table cells that must keep their height.
pub fn nbsp() -> Markup {
    PreEscaped("&nbsp;".to_owned())
}
