//! The delivery order: the initial sync in the chosen order, the churn nearly in timestamp
//! order (shuffled within small windows, as concurrent Svix deliveries arrive), duplicates
//! mixed in later (half under the same `svix-id`, as a Svix retry; half under a new one, as a
//! redelivery ingest cannot recognise), then the final step.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::player::Delivery;
use super::truth::{Phase, Truth};

/// The order of the identity provider's first cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// Shuffled.
    Random,
    /// Top of the hierarchy first: every manager exists before their reports (best case).
    ManagersFirst,
    /// Deepest first: every report arrives before their manager (worst case).
    ReportsFirst,
}

impl Order {
    pub fn name(self) -> &'static str {
        match self {
            Self::Random => "random",
            Self::ManagersFirst => "managers-first",
            Self::ReportsFirst => "reports-first",
        }
    }
}

/// How far the churn strays from timestamp order.
const CHURN_WINDOW: usize = 16;

pub struct Plan {
    pub initial: Vec<Delivery>,
    pub churn: Vec<Delivery>,
    /// Sent after the rest converged, with their event ids.
    pub last: Vec<(Delivery, String)>,
    pub duplicates: usize,
}

pub fn plan(truth: &Truth, order: Order, duplicates: f64, seed: u64) -> Plan {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x0dd_e12);
    let bodies: Vec<Arc<[u8]>> = truth
        .events
        .iter()
        .map(|e| Arc::from(serde_json::to_vec(&e.body).unwrap_or_default()))
        .collect();
    let of_phase = |phase: Phase| -> Vec<usize> {
        (0..truth.events.len())
            .filter(|i| truth.events[*i].phase == phase)
            .collect()
    };
    let mut initial = of_phase(Phase::Initial);
    match order {
        Order::Random => initial.shuffle(&mut rng),
        Order::ManagersFirst => {}
        Order::ReportsFirst => {
            let groups = initial
                .iter()
                .take_while(|i| truth.events[**i].member.is_none())
                .count();
            initial[groups..].reverse();
        }
    }
    let mut churn = of_phase(Phase::Churn);
    for window in churn.chunks_mut(CHURN_WINDOW) {
        window.shuffle(&mut rng);
    }
    let tag = &truth.org.tag;
    let delivery = |i: usize, suffix: &str| Delivery {
        body: bodies[i].clone(),
        svix_id: format!("msg_{tag}_{i}{suffix}"),
    };
    let total = initial.len() + churn.len();
    let wanted = ((duplicates.clamp(0.0, 1.0) * total as f64).round() as usize).min(total);
    let mut picks: Vec<usize> = (0..total).collect();
    picks.shuffle(&mut rng);
    picks.truncate(wanted);
    let mut keyed_initial: Vec<(f64, Delivery)> = initial
        .iter()
        .enumerate()
        .map(|(pos, i)| (pos as f64, delivery(*i, "")))
        .collect();
    let mut keyed_churn: Vec<(f64, Delivery)> = churn
        .iter()
        .enumerate()
        .map(|(pos, i)| (pos as f64, delivery(*i, "")))
        .collect();
    for (n, pick) in picks.into_iter().enumerate() {
        // Even picks: a Svix retry (same svix-id); odd: a redelivery under a new one.
        let suffix = if n % 2 == 0 { "" } else { "_redelivery" };
        let (list, order, pos) = if pick < initial.len() {
            (&mut keyed_initial, &initial, pick)
        } else {
            (&mut keyed_churn, &churn, pick - initial.len())
        };
        let later = rng.random_range(pos as f64 + 0.5..order.len() as f64 + 0.5);
        list.push((later, delivery(order[pos], suffix)));
    }
    let sorted = |mut list: Vec<(f64, Delivery)>| -> Vec<Delivery> {
        list.sort_by(|a, b| a.0.total_cmp(&b.0));
        list.into_iter().map(|(_, d)| d).collect()
    };
    let last = of_phase(Phase::Final)
        .into_iter()
        .map(|i| (delivery(i, ""), truth.events[i].event_id.clone()))
        .collect();
    Plan {
        initial: sorted(keyed_initial),
        churn: sorted(keyed_churn),
        last,
        duplicates: wanted,
    }
}
