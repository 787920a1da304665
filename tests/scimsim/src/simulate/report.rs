//! The end-of-run report: what was sent, how long the product took to converge, what it now
//! shows (levels, managers, event log outcomes), every mismatch with the truth, and where to
//! look further. As text for a person, or as JSON.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;
use uuid::Uuid;

use super::plan::Order;
use super::player::PlayStats;
use super::probe::Summary;
use super::truth::Expected;
use super::verify::Mismatch;

/// How many mismatches the report lists (all are counted).
const SHOWN: usize = 25;
const LEVELS: [&str; 4] = ["admin", "full_access", "manager", "basic"];

#[derive(Debug, Clone, Serialize)]
pub struct ExpectedSummary {
    pub users: usize,
    pub active: usize,
    pub inactive: usize,
    /// Active users by level.
    pub levels: BTreeMap<String, i64>,
    pub managers_linked: usize,
    pub skipped_cycles: usize,
}

impl ExpectedSummary {
    pub fn of(expected: &[Expected], skipped_cycles: usize) -> Self {
        let mut levels = BTreeMap::new();
        for e in expected.iter().filter(|e| e.active) {
            *levels.entry(e.level.to_owned()).or_default() += 1;
        }
        let active = expected.iter().filter(|e| e.active).count();
        Self {
            users: expected.len(),
            active,
            inactive: expected.len() - active,
            levels,
            managers_linked: expected.iter().filter(|e| e.manager.is_some()).count(),
            skipped_cycles,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub organization_id: String,
    pub company_id: Uuid,
    pub people: usize,
    pub order: Order,
    pub seed: u64,
    pub churn: BTreeMap<&'static str, usize>,
    /// Distinct events generated (before duplicates).
    pub events: usize,
    pub duplicates: usize,
    pub webhooks: PlayStats,
    pub converged: bool,
    /// From the first webhook sent to the first read that matched the truth.
    pub converge_secs: Option<f64>,
    pub expected: ExpectedSummary,
    pub observed: Summary,
    pub mismatch_count: usize,
    pub mismatches: Vec<Mismatch>,
    pub urls: BTreeMap<&'static str, String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.converged && self.mismatch_count == 0
    }
}

/// `12345` → `12,345`.
pub fn thousands(n: impl Into<i128>) -> String {
    let n: i128 = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn counts(map: &BTreeMap<String, i64>) -> String {
    let mut pairs: Vec<(&String, &i64)> = map.iter().collect();
    pairs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    pairs
        .iter()
        .map(|(k, v)| format!("{k} {}", thousands(**v)))
        .collect::<Vec<_>>()
        .join(" · ")
}

pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let w = &mut s;
    let o = &r.observed;
    let e = &r.expected;
    let _ = writeln!(
        w,
        "scimsync simulation: {} people, order {}, seed {}, organization {} (company {})",
        thousands(r.people as i64),
        r.order.name(),
        r.seed,
        r.organization_id,
        r.company_id
    );
    if !r.churn.is_empty() {
        let total: usize = r.churn.values().sum();
        let ops: Vec<String> = r.churn.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(w, "  Churn        {total} operations: {}", ops.join(" · "));
    }
    let wh = &r.webhooks;
    let statuses: Vec<String> = wh
        .by_status
        .iter()
        .map(|(s, n)| match s {
            0 => format!("no answer {}", thousands(*n as i64)),
            _ => format!("{s} × {}", thousands(*n as i64)),
        })
        .collect();
    let rate = wh.deliveries as f64 / wh.send_secs.max(1e-9);
    let _ = writeln!(
        w,
        "  Webhooks     {} events, {} duplicates: {} deliveries in {:.1} s ({:.0}/s) · {} · {} retried",
        thousands(r.events as i64),
        thousands(r.duplicates as i64),
        thousands(wh.deliveries as i64),
        wh.send_secs,
        rate,
        statuses.join(" · "),
        thousands(wh.retries as i64)
    );
    match r.converge_secs {
        Some(secs) => {
            let _ = writeln!(w, "  Converged    {secs:.2} s after the first webhook");
        }
        None => {
            let _ = writeln!(
                w,
                "  Converged    NO: the state did not match the truth before the timeout"
            );
        }
    }
    let _ = writeln!(
        w,
        "  Users        {} records · {} active · {} inactive   (expected {} · {} · {})",
        thousands(o.users),
        thousands(o.active),
        thousands(o.inactive),
        thousands(e.users as i64),
        thousands(e.active as i64),
        thousands(e.inactive as i64)
    );
    let levels = |map: &BTreeMap<String, i64>| -> String {
        LEVELS
            .iter()
            .map(|l| {
                format!(
                    "{} {}",
                    l.replace('_', " "),
                    thousands(*map.get(*l).unwrap_or(&0))
                )
            })
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let _ = writeln!(w, "  Levels       {}   (active users)", levels(&o.levels));
    let _ = writeln!(w, "               expected {}", levels(&e.levels));
    let link = |k: &str| thousands(*o.links.get(k).unwrap_or(&0));
    let _ = writeln!(
        w,
        "  Managers     {} linked (expected {}) · {} pending · {} skipped cycle(s) (expected {})",
        thousands(o.managers_linked),
        thousands(e.managers_linked as i64),
        link("pending"),
        link("skipped_circular"),
        e.skipped_cycles
    );
    let mut first = true;
    for (concern, outcomes) in &o.outcomes {
        let label = if first {
            "  Event log    "
        } else {
            "               "
        };
        first = false;
        let _ = writeln!(w, "{label}{concern:<15} {}", counts(outcomes));
    }
    if r.ok() {
        let _ = writeln!(
            w,
            "  Result       OK: every user matches the generated truth (0 mismatches)"
        );
    } else {
        let _ = writeln!(
            w,
            "  Result       FAILED: {} mismatch(es) with the generated truth",
            thousands(r.mismatch_count as i64)
        );
        for m in r.mismatches.iter().take(SHOWN) {
            let _ = writeln!(
                w,
                "    {} {}: expected {:?}, got {:?}",
                m.subject, m.field, m.expected, m.actual
            );
        }
        if r.mismatch_count > SHOWN {
            let _ = writeln!(
                w,
                "    ... and {} more (--json lists them)",
                r.mismatch_count - SHOWN
            );
        }
    }
    let _ = writeln!(w, "  Look further");
    for (name, url) in &r.urls {
        let _ = writeln!(w, "    {name:<12} {url}");
    }
    s
}
