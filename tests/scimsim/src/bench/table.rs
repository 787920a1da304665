//! Figures (several runs each), their goals, and the one table the benchmark prints and writes.

use std::fmt::Write;

use super::system::Machine;

#[derive(Debug, Clone, Copy)]
pub enum Unit {
    PerSec,
    Millis,
    Secs,
    Ratio,
    MiB,
}

#[derive(Debug, Clone, Copy)]
pub enum Goal {
    AtLeast(f64),
    AtMost(f64),
    None,
}

#[derive(Debug, Clone)]
pub struct Figure {
    pub name: String,
    pub unit: Unit,
    pub goal: Goal,
    pub values: Vec<f64>,
    /// Why a run has no value, or anything else a reader must know.
    pub note: Option<String>,
}

impl Figure {
    pub fn new(name: impl Into<String>, unit: Unit, goal: Goal) -> Self {
        Self {
            name: name.into(),
            unit,
            goal,
            values: Vec::new(),
            note: None,
        }
    }

    pub fn median(&self) -> Option<f64> {
        median(&self.values)
    }

    fn min(&self) -> Option<f64> {
        self.values.iter().copied().reduce(f64::min)
    }

    fn max(&self) -> Option<f64> {
        self.values.iter().copied().reduce(f64::max)
    }

    /// Met, or missed by how much (judged on the median).
    pub fn verdict(&self) -> String {
        let Some(m) = self.median() else {
            return "no value".into();
        };
        match self.goal {
            Goal::None => String::new(),
            Goal::AtLeast(goal) if m >= goal => "met".into(),
            Goal::AtMost(goal) if m <= goal => "met".into(),
            Goal::AtLeast(goal) => format!("missed: {:.0}% below", (1.0 - m / goal) * 100.0),
            Goal::AtMost(goal) if m >= 2.0 * goal => format!("missed: {:.0}× the goal", m / goal),
            Goal::AtMost(goal) => format!("missed: {:.0}% above", (m / goal - 1.0) * 100.0),
        }
    }
}

pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The p-th percentile (0-100) by nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

pub fn format(value: f64, unit: Unit) -> String {
    match unit {
        Unit::PerSec => format!(
            "{}/s",
            crate::simulate::report::thousands(value.round() as i64)
        ),
        Unit::Millis if value < 10.0 => format!("{value:.2} ms"),
        Unit::Millis if value < 1000.0 => format!("{value:.1} ms"),
        Unit::Millis => format!(
            "{} ms",
            crate::simulate::report::thousands(value.round() as i64)
        ),
        Unit::Secs => format!("{value:.1} s"),
        Unit::Ratio => format!("{value:.2}"),
        Unit::MiB => format!("{value:.1} MiB"),
    }
}

fn goal_text(figure: &Figure) -> String {
    match figure.goal {
        Goal::None => "-".into(),
        Goal::AtLeast(g) => format!("≥ {}", format(g, figure.unit)),
        Goal::AtMost(g) => format!("≤ {}", format(g, figure.unit)),
    }
}

fn cell(value: Option<f64>, unit: Unit) -> String {
    value.map(|v| format(v, unit)).unwrap_or_else(|| "-".into())
}

/// The markdown table: one row per figure.
pub fn table(figures: &[Figure]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| Figure | Goal | Median | Min | Max | Runs | Verdict |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for f in figures {
        let mut verdict = f.verdict();
        if let Some(note) = &f.note {
            verdict = if verdict.is_empty() {
                note.clone()
            } else {
                format!("{verdict} ({note})")
            };
        }
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            f.name,
            goal_text(f),
            cell(f.median(), f.unit),
            cell(f.min(), f.unit),
            cell(f.max(), f.unit),
            f.values.len(),
            verdict
        );
    }
    s
}

/// The results file: machine, table, how each figure is measured, raw runs.
pub fn document(
    machine: &Machine,
    figures: &[Figure],
    notes: &[String],
    runs: &[String],
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# scimsync benchmark results\n");
    let _ = writeln!(s, "Written by `make bench` (`deploy/bench/run.sh`, `scimsim bench`); see docs/benchmarks.md.\n");
    let _ = writeln!(s, "{}\n", machine.describe());
    s.push_str(&table(figures));
    if !notes.is_empty() {
        let _ = writeln!(s, "\n## Notes\n");
        for note in notes {
            let _ = writeln!(s, "- {note}");
        }
    }
    if !runs.is_empty() {
        let _ = writeln!(s, "\n## Runs\n");
        let _ = writeln!(s, "```");
        for run in runs {
            let _ = writeln!(s, "{run}");
        }
        let _ = writeln!(s, "```");
    }
    s
}
