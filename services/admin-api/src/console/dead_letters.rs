//! Dead letters, for operators: counts per queue, reason and event type, for one company or
//! all; a look at them; replay and purge by filter, each after a confirmation page that says
//! how many, and never more than the number confirmed. This is the `scimsync-dlq` library
//! `scimctl dlq` uses, over admin-api's own AMQP connection (the only thing admin-api asks of
//! the broker).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use scimsync_dlq::list::{list, list_matching, QueueCount};
use scimsync_dlq::replay::{replay as replay_queue, ReplayOptions};
use scimsync_dlq::{all_queues, purge::purge_at_most, show::show as show_letters};
use scimsync_dlq::{DeadLetterQueue, Filter};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::failure::Failure;
use super::layout::{self, Ctx, Tab};
use super::session::Session;
use super::users::encode;
use crate::audit::{self, By, Change, Via};
use crate::failure::database;
use crate::SharedState;

/// How long the companies page reuses a count of dead letters by company: counting reads every
/// dead letter (and puts it back), too much for every page view.
const COUNTS_TTL: Duration = Duration::from_secs(30);
/// The longest the companies page waits for a count.
const COUNT_DEADLINE: Duration = Duration::from_secs(10);
/// Dead letters shown at most per queue.
const SHOWN: u64 = 50;

/// Dead letters per company name; `None` when the broker could not be read.
type Counts = Option<BTreeMap<String, u64>>;

/// The last count of dead letters by company, shared by the companies page's views.
#[derive(Default)]
pub struct Cache {
    counted: tokio::sync::Mutex<Option<(Instant, Counts)>>,
}

impl Cache {
    /// Dead letters per company name (organization id or company id); `None` when the broker
    /// could not be read.
    pub async fn by_company(&self, state: &SharedState) -> Counts {
        // One count at a time: views that arrive meanwhile wait for it and share it.
        let mut counted = self.counted.lock().await;
        if let Some((at, counts)) = counted.as_ref() {
            if at.elapsed() < COUNTS_TTL {
                return counts.clone();
            }
        }
        let url = state.amqp_url.expose_secret();
        let counts = match tokio::time::timeout(COUNT_DEADLINE, list(url, &all_queues())).await {
            Ok(Ok(queues)) => {
                let mut by_company = BTreeMap::new();
                for queue in queues {
                    for (company, n) in queue.companies {
                        *by_company.entry(company).or_default() += n;
                    }
                }
                Some(by_company)
            }
            Ok(Err(error)) => {
                tracing::warn!(error = %scimsync_platform::report::chain(&error), "could not count dead letters");
                None
            }
            Err(_) => {
                tracing::warn!("counting dead letters took longer than {COUNT_DEADLINE:?}");
                None
            }
        };
        *counted = Some((Instant::now(), counts.clone()));
        counts
    }

    /// Forgets the count (after a replay or a purge).
    pub async fn forget(&self) {
        *self.counted.lock().await = None;
    }
}

/// Which dead letters a page or a form is about. Empty fields select everything.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct Selection {
    #[serde(default)]
    queue: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    event_type: String,
    /// A company's id.
    #[serde(default)]
    company: String,
}

/// The selection's queues and filter, and the company it names.
struct Resolved {
    queues: Vec<DeadLetterQueue>,
    filter: Filter,
    company: Option<crate::companies::CompanyView>,
}

impl Selection {
    async fn resolve(&self, state: &SharedState) -> Result<Resolved, Failure> {
        let bad = |message: &str| Failure::new(StatusCode::BAD_REQUEST, "Check the form", message);
        let queues = match self.queue.trim() {
            "" => all_queues(),
            name => vec![scimsync_dlq::resolve(name).map_err(|e| bad(&e.to_string()))?],
        };
        let company = match self.company.trim() {
            "" => None,
            id => {
                let id: Uuid = id.parse().map_err(|_| bad("No such company."))?;
                Some(crate::companies::CompanyView::from(
                    crate::companies::find(state, id).await?,
                ))
            }
        };
        let mut companies = Vec::new();
        if let Some(company) = &company {
            companies.push(company.id.to_string());
            companies.extend(company.stytch_organization_id.clone());
        }
        let reason = match self.reason.trim() {
            "" => None,
            word => Some(
                word.parse::<scimsync_schema::DeadLetterReason>()
                    .map_err(|_| {
                        bad(&format!(
                            "No dead letter has the reason {word:?}; the reasons are {}.",
                            scimsync_schema::DeadLetterReason::ALL
                                .iter()
                                .map(|r| r.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })?,
            ),
        };
        let filter = Filter {
            reason,
            event_type: Some(self.event_type.trim().to_owned()).filter(|t| !t.is_empty()),
            companies,
            older_than: None,
        };
        Ok(Resolved {
            queues,
            filter,
            company,
        })
    }

    fn query(&self) -> String {
        format!(
            "queue={}&reason={}&event_type={}&company={}",
            encode(&self.queue),
            encode(&self.reason),
            encode(&self.event_type),
            encode(&self.company)
        )
    }

    /// For people: "reason unknown_organization, event type scim.member.create".
    fn describe(&self, company: Option<&crate::companies::CompanyView>) -> String {
        let mut parts = Vec::new();
        parts.push(match self.queue.trim() {
            "" => "every dead-letter queue".to_owned(),
            q => format!("queue {q}"),
        });
        if !self.reason.is_empty() {
            parts.push(format!("reason {}", self.reason));
        }
        if !self.event_type.is_empty() {
            parts.push(format!("event type {}", self.event_type));
        }
        parts.push(match company {
            Some(c) => format!("company {}", c.name),
            None => "every company".to_owned(),
        });
        parts.join(", ")
    }

    fn hidden(&self) -> Markup {
        html! {
            input type="hidden" name="queue" value=(self.queue);
            input type="hidden" name="reason" value=(self.reason);
            input type="hidden" name="event_type" value=(self.event_type);
            input type="hidden" name="company" value=(self.company);
        }
    }
}

fn operators_only(session: &Session) -> Result<(), Failure> {
    if session.actor.may_change() {
        Ok(())
    } else {
        Err(Failure::new(
            StatusCode::FORBIDDEN,
            "Operators only",
            "Dead letters are for operators: your token's role is viewer.",
        ))
    }
}

fn broker_failure(error: &scimsync_dlq::Error) -> Failure {
    tracing::warn!(error = %scimsync_platform::report::chain(error), "dead letters could not be read");
    Failure::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again shortly",
        "The broker could not be read; nothing was changed.",
    )
}

fn ctx(session: &Session) -> Ctx<'_> {
    Ctx {
        session,
        tab: Tab::DeadLetters,
        company: None,
    }
}

pub async fn page(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    Query(selection): Query<Selection>,
) -> Result<Markup, Failure> {
    operators_only(&session)?;
    let all = super::companies::health(&state, "").await?;
    let resolved = selection.resolve(&state).await?;
    let counts: Vec<QueueCount> = list_matching(
        state.amqp_url.expose_secret(),
        &resolved.queues,
        &resolved.filter,
    )
    .await
    .map_err(|e| broker_failure(&e))?;
    let total: u64 = counts.iter().map(|q| q.messages).sum();
    let body = html! {
        form.filters method="get" role="search" {
            label { "Company"
                select name="company" {
                    option value="" selected[selection.company.is_empty()] { "Every company" }
                    @for c in &all {
                        option value=(c.id) selected[selection.company == c.id.to_string()] { (c.name) }
                    }
                }
            }
            button.secondary type="submit" { "Show" }
        }
        p { (total) " dead letter" @if total != 1 { "s" } " for " (selection.describe(resolved.company.as_ref())) "." }
        @if total > 0 {
            (actions(&session, &Selection { queue: String::new(), reason: String::new(), event_type: String::new(), company: selection.company.clone() }, "all of them"))
        }
        @for queue in &counts {
            h2 { code { (queue.queue) } " " span.muted { (queue.messages) } }
            @if !queue.exists {
                p.muted { "Not declared yet: its worker never started on this broker." }
            } @else if queue.groups.is_empty() {
                p.muted { "Empty." }
            } @else {
                div.table-wrap {
                    table.responsive {
                        thead { tr { th { "Reason" } th { "Event type" } th.num { "Count" } th { "Actions" } } }
                        tbody {
                            @for group in &queue.groups {
                                @let row = Selection { queue: queue.queue.clone(), reason: group.reason.clone(), event_type: if group.event_type == "unknown" { String::new() } else { group.event_type.clone() }, company: selection.company.clone() };
                                tr {
                                    td data-label="Reason" { code { (group.reason) } }
                                    td data-label="Event type" { code { (group.event_type) } }
                                    td.num data-label="Count" { (group.count) }
                                    td data-label="Actions" {
                                        a href={ "/dead-letters/show?" (row.query()) } { "Show" } " "
                                        (actions(&session, &row, ""))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&ctx(&session), "Dead letters", body))
}

/// The replay and purge buttons for a selection; each leads to a confirmation page.
fn actions(session: &Session, selection: &Selection, what: &str) -> Markup {
    html! {
        form.inline method="post" action="/dead-letters/replay" {
            (layout::csrf(session)) (selection.hidden())
            button.secondary type="submit" { "Replay " (what) }
        }
        " "
        form.inline method="post" action="/dead-letters/purge" {
            (layout::csrf(session)) (selection.hidden())
            button.danger type="submit" { "Purge " (what) }
        }
    }
}

pub async fn show(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    Query(selection): Query<Selection>,
) -> Result<Markup, Failure> {
    operators_only(&session)?;
    let resolved = selection.resolve(&state).await?;
    let url = state.amqp_url.expose_secret();
    let mut letters = Vec::new();
    for queue in &resolved.queues {
        letters.extend(
            show_letters(url, queue, &resolved.filter, SHOWN)
                .await
                .map_err(|e| broker_failure(&e))?,
        );
    }
    let body = html! {
        p { "Dead letters for " (selection.describe(resolved.company.as_ref())) ", oldest first (at most " (SHOWN) " per queue). Looking changes nothing." }
        p { a href={ "/dead-letters?company=" (encode(&selection.company)) } { "← All dead letters" } }
        @if !letters.is_empty() { (actions(&session, &selection, "these")) }
        @for letter in &letters {
            section.card {
                h2 { code { (letter.reason) } " " span.muted { (letter.queue) } }
                dl.fields {
                    dt { "Detail" } dd { (layout::text(letter.detail.as_deref())) }
                    dt { "Failed at" } dd { (layout::maybe_time(letter.failed_at, "unknown")) }
                    dt { "Event" } dd { (layout::text(letter.event_id.as_deref())) " " code { (letter.event_type.as_deref().unwrap_or("")) } }
                    dt { "Company" } dd { (layout::text(letter.organization_id.as_deref().or(letter.company_id.as_deref()))) }
                    dt { "Attempts" } dd { (letter.attempts.map(|a| a.to_string()).unwrap_or_else(|| "—".into())) }
                    dt { "Original routing key" } dd { (layout::text(letter.original_routing_key.as_deref())) }
                }
                details { summary { "Headers" } (layout::json(&json!(letter.headers))) }
                details { summary { "Body" } (layout::json(&letter.body)) }
            }
        }
        @if letters.is_empty() { p.muted { "None." } }
    };
    Ok(layout::page(&ctx(&session), "Dead letters", body))
}

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    queue: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    company: String,
    /// The count the person confirmed; absent, the confirmation page is shown.
    confirm: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Replay,
    Purge,
}

pub async fn replay(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    Form(form): Form<ActionForm>,
) -> Response {
    act(state, session, form, Action::Replay).await
}

pub async fn purge(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    Form(form): Form<ActionForm>,
) -> Response {
    act(state, session, form, Action::Purge).await
}

async fn act(state: SharedState, session: Session, form: ActionForm, action: Action) -> Response {
    match act_or_fail(&state, &session, form, action).await {
        Ok(page) => page.into_response(),
        Err(failure) => failure.into_response(),
    }
}

async fn act_or_fail(
    state: &SharedState,
    session: &Session,
    form: ActionForm,
    action: Action,
) -> Result<Markup, Failure> {
    operators_only(session)?;
    let selection = Selection {
        queue: form.queue,
        reason: form.reason,
        event_type: form.event_type,
        company: form.company,
    };
    let confirm = match form.confirm.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) => Some(n.parse::<u64>().map_err(|_| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                "Check the form",
                "The confirmed count must be a number.",
            )
        })?),
    };
    let resolved = selection.resolve(state).await?;
    let url = state.amqp_url.expose_secret();
    let (verb, path) = match action {
        Action::Replay => ("Replay", "/dead-letters/replay"),
        Action::Purge => ("Purge", "/dead-letters/purge"),
    };
    let described = selection.describe(resolved.company.as_ref());
    let Some(confirmed) = confirm else {
        let counts = list_matching(url, &resolved.queues, &resolved.filter)
            .await
            .map_err(|e| broker_failure(&e))?;
        let n: u64 = counts.iter().map(|q| q.messages).sum();
        let body = html! {
            section.card {
                @if n == 0 {
                    p { "No dead letter matches " (described) "." }
                } @else {
                    p { b { (verb) " " (n) " dead letter" @if n != 1 { "s" } "?" } }
                    p { "Selected: " (described) "." }
                    @if action == Action::Purge {
                        p.error { "Purged dead letters are deleted for good." }
                    } @else {
                        p { "Each goes back to the queue of the worker that failed it, and leaves the dead-letter queue only once the broker confirmed its copy." }
                    }
                    p.muted { "No more than " (n) " will be " @if action == Action::Purge { "purged" } @else { "replayed" } ", even if more arrive meanwhile." }
                    form.inline method="post" action=(path) {
                        (layout::csrf(session)) (selection.hidden())
                        input type="hidden" name="confirm" value=(n);
                        @if action == Action::Purge {
                            button.danger type="submit" { "Purge " (n) }
                        } @else {
                            button type="submit" { "Replay " (n) }
                        }
                    }
                }
                " " a href={ "/dead-letters?company=" (encode(&selection.company)) } { "Cancel" }
            }
        };
        return Ok(layout::page(
            &ctx(session),
            &format!("{verb} dead letters"),
            body,
        ));
    };
    let mut left = confirmed;
    let (mut done, mut failed) = (0u64, 0u64);
    for queue in &resolved.queues {
        if left == 0 {
            break;
        }
        match action {
            Action::Replay => {
                let options = ReplayOptions {
                    filter: resolved.filter.clone(),
                    limit: Some(left),
                    rate: None,
                    dry_run: false,
                    crash_after_publish: false,
                };
                let summary = replay_queue(url, queue, &options, &|_| {})
                    .await
                    .map_err(|e| broker_failure(&e))?;
                left = left.saturating_sub(summary.matched);
                done += summary.replayed;
                failed += summary.failed;
            }
            Action::Purge => {
                let purged = purge_at_most(url, queue, &resolved.filter, Some(left))
                    .await
                    .map_err(|e| broker_failure(&e))?;
                left = left.saturating_sub(purged);
                done += purged;
            }
        }
    }
    state.dead_letters.forget().await;
    let by = By {
        actor: session.actor.clone(),
        via: Via::Console,
    };
    let (name, after) = match action {
        Action::Replay => (
            "dead_letters.replay",
            json!({ "replayed": done, "failed": failed }),
        ),
        Action::Purge => ("dead_letters.purge", json!({ "purged": done })),
    };
    let change = Change {
        action: name,
        company_id: resolved.company.as_ref().map(|c| c.id),
        target: Some(described.clone()),
        before: Some(json!({
            "queue": selection.queue, "reason": selection.reason,
            "event_type": selection.event_type, "confirmed": confirmed,
        })),
        after: Some(after),
    };
    audit::record(&state.db, &by, change)
        .await
        .map_err(database)?;
    let body = html! {
        section.card {
            @match action {
                Action::Replay => p role="status" { "Replayed " (done) " of " (confirmed) " (" (described) ")." @if failed > 0 { " " span.error { (failed) " could not be replayed and stay in their queue." } } },
                Action::Purge => p role="status" { "Purged " (done) " of " (confirmed) " (" (described) ")." },
            }
            p { a href={ "/dead-letters?company=" (encode(&selection.company)) } { "Back to the dead letters" } }
        }
    };
    Ok(layout::page(
        &ctx(session),
        &format!("{verb} dead letters"),
        body,
    ))
}
