//! A company's events per hour over the last 7 days, by outcome, as an SVG drawn on the server:
//! no script, no chart library, readable at any width (it scales with its box).

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use maud::{html, Markup};
use sea_orm::{DbBackend, FromQueryResult, Statement};
use uuid::Uuid;

use crate::failure::database;
use crate::SharedState;
use scimsync_platform::http::ApiError;

/// Hours shown.
const HOURS: i64 = 7 * 24;

#[derive(Debug, FromQueryResult)]
struct Row {
    hour: DateTime<Utc>,
    class: String,
    events: i64,
}

/// One hour's events by class: applied (a change), unchanged (duplicates, stale or ignored
/// events) and rejected (refusals of R3, R4, R14 and their kin). An event that several workers
/// logged counts once per class it touched.
#[derive(Debug, Default, Clone, Copy)]
pub struct Hour {
    pub applied: i64,
    pub unchanged: i64,
    pub rejected: i64,
}

impl Hour {
    fn total(&self) -> i64 {
        self.applied + self.unchanged + self.rejected
    }
}

const PER_HOUR: &str = "
SELECT date_trunc('hour', received_at) AS hour, class, count(DISTINCT event_id) AS events
FROM (
    SELECT received_at, event_id,
           CASE WHEN outcome LIKE 'rejected\\_%' OR outcome LIKE 'skipped\\_%'
                     OR outcome LIKE 'unparseable\\_%'
                     OR outcome IN ('missing_email', 'member_not_found', 'manager_not_found')
                THEN 'rejected'
                WHEN outcome IN ('unchanged', 'stale_ignored', 'manager_unchanged', 'manager_pending')
                     OR outcome LIKE 'ignored\\_%'
                THEN 'unchanged'
                ELSE 'applied' END AS class
    FROM scim_event_log
    WHERE company_id = $1 AND received_at >= $2
) l
GROUP BY 1, 2";

/// The last [`HOURS`] hours of the company, oldest first, ending with the current hour.
pub async fn hours(
    state: &SharedState,
    company_id: Uuid,
) -> Result<(DateTime<Utc>, Vec<Hour>), ApiError> {
    let now = Utc::now()
        .duration_trunc(TimeDelta::hours(1))
        .unwrap_or_else(|_| Utc::now());
    let start = now - TimeDelta::hours(HOURS - 1);
    let rows = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        PER_HOUR,
        [company_id.into(), start.into()],
    ))
    .all(&state.db)
    .await
    .map_err(database)?;
    let mut hours = vec![Hour::default(); usize::try_from(HOURS).unwrap_or(168)];
    for row in rows {
        let index = (row.hour - start).num_hours();
        let Some(hour) = usize::try_from(index).ok().and_then(|i| hours.get_mut(i)) else {
            continue;
        };
        match row.class.as_str() {
            "rejected" => hour.rejected += row.events,
            "unchanged" => hour.unchanged += row.events,
            _ => hour.applied += row.events,
        }
    }
    Ok((start, hours))
}

/// Drawing area, in the SVG's own units.
const WIDTH: f64 = 840.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 8.0;

fn fmt(x: f64) -> String {
    format!("{x:.1}")
}

/// The stacked bar chart, with a title and a summary for screen readers.
pub fn svg(start: DateTime<Utc>, hours: &[Hour]) -> Markup {
    let max = hours.iter().map(Hour::total).max().unwrap_or(0).max(1);
    let totals = hours.iter().fold(Hour::default(), |acc, h| Hour {
        applied: acc.applied + h.applied,
        unchanged: acc.unchanged + h.unchanged,
        rejected: acc.rejected + h.rejected,
    });
    let plot_width = WIDTH - LEFT - 4.0;
    let plot_height = HEIGHT - BOTTOM - TOP;
    let slot = plot_width / hours.len().max(1) as f64;
    let bar = (slot - 1.0).max(1.0);
    let y = |value: i64| plot_height * value as f64 / max as f64;
    let base = TOP + plot_height;
    html! {
        svg.chart viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-labelledby="chart-title chart-desc" {
            title #chart-title { "Events per hour, last 7 days" }
            desc #chart-desc {
                (totals.applied) " applied, " (totals.unchanged) " unchanged, "
                (totals.rejected) " rejected; at most " (max) " in one hour."
            }
            line x1=(fmt(LEFT)) y1=(fmt(base)) x2=(fmt(WIDTH - 4.0)) y2=(fmt(base)) stroke="#8a93a3" stroke-width="1" {}
            line x1=(fmt(LEFT)) y1=(fmt(TOP)) x2=(fmt(LEFT)) y2=(fmt(base)) stroke="#8a93a3" stroke-width="1" {}
            text x=(fmt(LEFT - 6.0)) y=(fmt(TOP + 10.0)) text-anchor="end" font-size="11" fill="#545c6b" { (max) }
            text x=(fmt(LEFT - 6.0)) y=(fmt(base)) text-anchor="end" font-size="11" fill="#545c6b" { "0" }
            @for (i, hour) in hours.iter().enumerate() {
                @let x = LEFT + 1.0 + slot * i as f64;
                @let at = start + TimeDelta::hours(i as i64);
                @if at.format("%H").to_string() == "00" {
                    line x1=(fmt(x)) y1=(fmt(TOP)) x2=(fmt(x)) y2=(fmt(base)) stroke="#e3e6eb" stroke-width="1" {}
                    text x=(fmt(x + 2.0)) y=(fmt(HEIGHT - 6.0)) font-size="11" fill="#545c6b" { (at.format("%a %d")) }
                }
                @if hour.total() > 0 {
                    g {
                        title {
                            (at.format("%Y-%m-%d %H:00 UTC")) ": " (hour.applied) " applied, "
                            (hour.unchanged) " unchanged, " (hour.rejected) " rejected"
                        }
                        @let applied = y(hour.applied);
                        @let unchanged = y(hour.unchanged);
                        @let rejected = y(hour.rejected);
                        rect x=(fmt(x)) y=(fmt(base - applied)) width=(fmt(bar)) height=(fmt(applied)) fill="#2f5fd0" {}
                        rect x=(fmt(x)) y=(fmt(base - applied - unchanged)) width=(fmt(bar)) height=(fmt(unchanged)) fill="#aab3c2" {}
                        rect x=(fmt(x)) y=(fmt(base - applied - unchanged - rejected)) width=(fmt(bar)) height=(fmt(rejected)) fill="#c0392b" {}
                    }
                }
            }
        }
        ul.legend {
            li.applied { "Applied " (totals.applied) }
            li.unchanged { "Unchanged " (totals.unchanged) }
            li.rejected { "Rejected " (totals.rejected) }
        }
    }
}
