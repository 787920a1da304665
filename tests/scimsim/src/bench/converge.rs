//! Time to converge in the best and worst order, and each service's peak memory.

use super::table::{Figure, Goal as Target, Unit};
use super::{system, Bench};
use crate::simulate::plan::Order;
use crate::simulate::report::thousands;

impl Bench {
    /// Best (managers first) and worst (reports first) order, alternating, paired by seed.
    pub(super) async fn converge(
        &mut self,
        figures: &mut Vec<Figure>,
        users: usize,
        runs: usize,
        budget: Option<u64>,
    ) -> anyhow::Result<()> {
        let n = thousands(users as i64);
        let mut best = Figure::new(
            format!("Time to converge: {n} users, managers first (best order)"),
            Unit::Secs,
            Target::None,
        );
        let mut worst = Figure::new(
            format!("Time to converge: {n} users, reports first (worst order)"),
            Unit::Secs,
            Target::None,
        );
        let mut ratio = Figure::new(
            format!("Worst / best time to converge, {n} users"),
            Unit::Ratio,
            Target::AtMost(1.2),
        );
        let mut accept = Figure::new(
            format!("Ingest acceptance rate: {n} member creates, unthrottled (the runs above)"),
            Unit::PerSec,
            Target::AtLeast(8000.0),
        );
        let mut planned = runs;
        let mut run = 0;
        while run < planned {
            let seed = 3000 + users as u64 + run as u64;
            let b = self.converge_run(users, Order::ManagersFirst, seed).await?;
            let w = self.converge_run(users, Order::ReportsFirst, seed).await?;
            accept.values.extend([b.accept_rate, w.accept_rate]);
            best.values.extend(b.converge_secs);
            worst.values.extend(w.converge_secs);
            if let (Some(b), Some(w)) = (b.converge_secs, w.converge_secs) {
                ratio.values.push(w / b);
            }
            if let Some(budget) = budget.filter(|_| run == 0 && planned > 1) {
                let longest = b.total_secs.max(w.total_secs);
                if longest > budget as f64 {
                    planned = 1;
                    let note = format!("run once: one run took {:.0} s (> {budget} s)", longest);
                    for f in [&mut best, &mut worst, &mut ratio, &mut accept] {
                        f.note = Some(note.clone());
                    }
                }
            }
            run += 1;
        }
        if let (Some(b), Some(w)) = (best.median(), worst.median()) {
            self.notes.push(format!(
                "{n} users: ratio of the medians {:.2} (worst {w:.1} s / best {b:.1} s).",
                w / b
            ));
        }
        figures.extend([best, worst, ratio, accept]);
        Ok(())
    }

    pub(super) fn memory(&mut self, figures: &mut Vec<Figure>) {
        for (service, mib) in system::peak_memory(&self.args.pid_dir) {
            let mut f = Figure::new(
                format!("Peak memory (VmHWM): {service}"),
                Unit::MiB,
                Target::AtMost(100.0),
            );
            f.values.extend(mib);
            f.note = Some(if mib.is_some() {
                "peak over the whole benchmark".into()
            } else {
                "not running".into()
            });
            figures.push(f);
        }
    }

    /// The peaks so far (VmHWM only grows): which scenario raised a service's peak.
    pub(super) fn memory_so_far(&mut self, after: &str) {
        let peaks: Vec<String> = system::peak_memory(&self.args.pid_dir)
            .into_iter()
            .map(|(service, mib)| match mib {
                Some(mib) => format!("{service} {mib:.1} MiB"),
                None => format!("{service} not running"),
            })
            .collect();
        self.say(format!("peak memory after {after}: {}", peaks.join(" · ")));
    }
}
