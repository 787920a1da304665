//! `scimsim simulate --via scim`: the same organisation and churn, played against the SCIM
//! service as Entra's provisioning service plays them (SPEC §6): users first, each matched by a
//! `userName` filter before it is POSTed, changes as PATCH in the chosen dialect, groups after
//! the users (created empty, then members added by PATCH), a manager set once the manager
//! exists, deprovisioning as DELETE.
//!
//! An identity provider writes its own changes one after the other, so a resource's events are
//! played in the order they happened; different resources go concurrently. What the Stytch
//! door's simulation adds on top (deliveries out of order, stale re-sends) belongs to webhooks,
//! not to SCIM: here stale re-sends are left out, and duplicates are requests made twice.

pub mod client;
pub mod translate;
mod waves;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use indicatif::ProgressBar;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use super::plan::Order;
use super::player::{Pace, PlayStats};
use super::truth::{Phase, Truth};
use client::{patch, Answer, ScimTarget};
use translate::{manager_op, members_ops, Dialect, UserState};
use waves::waves;

/// What the identity provider knows: the SCIM ids the service gave its users and groups.
#[derive(Debug, Default)]
pub struct Directory {
    /// Simulated member id → SCIM user id.
    pub users: HashMap<String, String>,
    /// Simulated group id → SCIM group id, deleted groups included (the product keeps showing
    /// a default group the IdP deleted: R12).
    pub groups: HashMap<String, String>,
    /// Groups the IdP deleted.
    deleted_groups: BTreeSet<String>,
    /// The groups each member is in, as last sent.
    member_groups: HashMap<String, BTreeSet<String>>,
    /// Members to add to a group once it exists.
    waiting_members: HashMap<String, BTreeSet<String>>,
    /// Reports whose manager (by member id) has no SCIM user yet.
    waiting_reports: HashMap<String, BTreeSet<String>>,
}

/// The SCIM group id → the simulated group id (how the checks read the product's groups).
pub fn groups_by_scim_id(directory: &Directory) -> HashMap<String, String> {
    directory
        .groups
        .iter()
        .map(|(sim, scim)| (scim.clone(), sim.clone()))
        .collect()
}

struct Player {
    http: reqwest::Client,
    target: ScimTarget,
    dialect: Dialect,
    directory: Mutex<Directory>,
    stats: std::sync::Mutex<PlayStats>,
}

impl Player {
    fn record(&self, answer: &Answer) {
        if let Ok(mut stats) = self.stats.lock() {
            stats.deliveries += 1;
            *stats.by_status.entry(answer.status).or_default() += 1;
            stats.retries += u64::from(answer.attempts.saturating_sub(1));
            if let Some(latency) = answer.latency {
                stats
                    .latencies_us
                    .push(latency.as_micros().min(u128::from(u32::MAX)) as u32);
            }
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        let answer = self.target.send(&self.http, method, path, body).await;
        self.record(&answer);
        answer
    }

    /// A member create or update: match, then POST or PATCH; the manager when it exists; the
    /// groups the member joined or left.
    async fn member(&self, body: &Value) {
        let Some(state) = UserState::of(body) else {
            return;
        };
        let member = state.external_id.clone();
        let known = self.directory.lock().await.users.get(&member).cloned();
        let manager = match &state.manager {
            Some(m) => {
                let mut d = self.directory.lock().await;
                let found = d.users.get(m).cloned();
                if found.is_none() {
                    d.waiting_reports
                        .entry(m.clone())
                        .or_default()
                        .insert(member.clone());
                }
                found
            }
            None => None,
        };
        let id = match known {
            Some(id) => {
                let ops = state.operations(self.dialect, manager.as_deref());
                self.send(Method::PATCH, &format!("/Users/{id}"), Some(&patch(ops)))
                    .await;
                Some(id)
            }
            None => self.create(&state, manager.as_deref()).await,
        };
        let Some(id) = id else {
            return;
        };
        // Now that this member has its SCIM id: the reports waiting for it as their manager
        // (those whose own create has finished: the others find it when theirs does), and its
        // own manager if it was still being created when this member's request went out. One
        // of two concurrent creates always sees the other.
        let (reports, own_manager) = {
            let mut d = self.directory.lock().await;
            d.users.insert(member.clone(), id.clone());
            let mut reports = Vec::new();
            if let Some(waiting) = d.waiting_reports.remove(&member) {
                let (known, unknown): (Vec<String>, Vec<String>) =
                    waiting.into_iter().partition(|r| d.users.contains_key(r));
                reports = known
                    .iter()
                    .filter_map(|r| d.users.get(r).cloned())
                    .collect();
                if !unknown.is_empty() {
                    d.waiting_reports
                        .insert(member.clone(), unknown.into_iter().collect());
                }
            }
            let own_manager = match (&state.manager, &manager) {
                (Some(m), None) => {
                    let found = d.users.get(m).cloned();
                    if found.is_some() {
                        if let Some(w) = d.waiting_reports.get_mut(m) {
                            w.remove(&member);
                        }
                    }
                    found
                }
                _ => None,
            };
            (reports, own_manager)
        };
        for report in reports {
            let ops = patch(vec![manager_op(self.dialect, &id)]);
            self.send(Method::PATCH, &format!("/Users/{report}"), Some(&ops))
                .await;
        }
        if let Some(manager) = own_manager {
            let ops = patch(vec![manager_op(self.dialect, &manager)]);
            self.send(Method::PATCH, &format!("/Users/{id}"), Some(&ops))
                .await;
        }
        if let Some(list) =
            body["member"]["scim_registration"]["scim_attributes"]["groups"].as_array()
        {
            let wanted: BTreeSet<String> = list
                .iter()
                .filter_map(|g| g["value"].as_str().map(str::to_owned))
                .collect();
            self.member_groups(&member, &id, wanted).await;
        }
    }

    /// Entra's create: find by userName; PATCH what exists, POST what does not.
    async fn create(&self, state: &UserState, manager: Option<&str>) -> Option<String> {
        let (_, found) = self.target.find_user(&self.http, &state.user_name).await;
        if let Some(id) = found {
            let ops = state.operations(self.dialect, manager);
            self.send(Method::PATCH, &format!("/Users/{id}"), Some(&patch(ops)))
                .await;
            return Some(id);
        }
        let created = self
            .send(Method::POST, "/Users", Some(&state.resource(manager)))
            .await;
        if let Some(id) = created.body["id"].as_str() {
            return Some(id.to_owned());
        }
        // 409: created meanwhile (a duplicate request); find it again.
        self.target.find_user(&self.http, &state.user_name).await.1
    }

    /// Brings a member's groups to `wanted`: PATCH each group it joins or leaves; a group that
    /// does not exist yet gets the member when it is created.
    async fn member_groups(&self, member: &str, user: &str, wanted: BTreeSet<String>) {
        let (joins, leaves) = {
            let mut d = self.directory.lock().await;
            let before = d.member_groups.insert(member.to_owned(), wanted.clone());
            let before = before.unwrap_or_default();
            let mut joins = Vec::new();
            for g in wanted.difference(&before) {
                if d.deleted_groups.contains(g) {
                    continue;
                }
                match d.groups.get(g).cloned() {
                    Some(scim) => joins.push(scim),
                    None => {
                        d.waiting_members
                            .entry(g.clone())
                            .or_default()
                            .insert(member.to_owned());
                    }
                }
            }
            let mut leaves = Vec::new();
            for g in before.difference(&wanted) {
                if d.deleted_groups.contains(g) {
                    continue;
                }
                match d.groups.get(g).cloned() {
                    Some(scim) => leaves.push(scim),
                    None => {
                        if let Some(w) = d.waiting_members.get_mut(g) {
                            w.remove(member);
                        }
                    }
                }
            }
            (joins, leaves)
        };
        for group in joins {
            let ops = patch(members_ops(self.dialect, &[user.to_owned()], &[]));
            self.send(Method::PATCH, &format!("/Groups/{group}"), Some(&ops))
                .await;
        }
        for group in leaves {
            let ops = patch(members_ops(self.dialect, &[], &[user.to_owned()]));
            self.send(Method::PATCH, &format!("/Groups/{group}"), Some(&ops))
                .await;
        }
    }

    async fn member_delete(&self, body: &Value) {
        let Some(member) = body["id"].as_str() else {
            return;
        };
        let id = {
            let mut d = self.directory.lock().await;
            d.member_groups.remove(member);
            d.users.remove(member)
        };
        if let Some(id) = id {
            self.send(Method::DELETE, &format!("/Users/{id}"), None)
                .await;
        }
    }

    /// `idp_group` events: a group created (empty, then its waiting members added), deleted,
    /// or one member added or removed.
    async fn group(&self, body: &Value) {
        let g = &body["idp_group"];
        let (Some(sim), Some(name)) = (g["group_id"].as_str(), g["group_name"].as_str()) else {
            return;
        };
        let action = body["action"].as_str().unwrap_or_default();
        let known = {
            let d = self.directory.lock().await;
            d.groups
                .get(sim)
                .filter(|_| !d.deleted_groups.contains(sim))
                .cloned()
        };
        match (action, known) {
            ("CREATE" | "UPDATE", None) => {
                let resource = json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": name,
                    "externalId": sim,
                });
                let Some(id) = self.create_group(name, &resource).await else {
                    return;
                };
                let members: Vec<String> = {
                    let mut d = self.directory.lock().await;
                    d.groups.insert(sim.to_owned(), id.clone());
                    d.deleted_groups.remove(sim);
                    d.waiting_members
                        .remove(sim)
                        .map(|m| {
                            m.into_iter()
                                .filter_map(|m| d.users.get(&m).cloned())
                                .collect()
                        })
                        .unwrap_or_default()
                };
                if !members.is_empty() {
                    let ops = patch(members_ops(self.dialect, &members, &[]));
                    self.send(Method::PATCH, &format!("/Groups/{id}"), Some(&ops))
                        .await;
                }
            }
            ("DELETE", Some(id)) => {
                self.directory
                    .lock()
                    .await
                    .deleted_groups
                    .insert(sim.to_owned());
                self.send(Method::DELETE, &format!("/Groups/{id}"), None)
                    .await;
            }
            ("MEMBER_ADD" | "MEMBER_DELETE", _) => {
                let Some(member) = g["member_id"].as_str() else {
                    return;
                };
                let user = self.directory.lock().await.users.get(member).cloned();
                let Some(user) = user else {
                    return;
                };
                let mut wanted = self
                    .directory
                    .lock()
                    .await
                    .member_groups
                    .get(member)
                    .cloned()
                    .unwrap_or_default();
                if action == "MEMBER_ADD" {
                    wanted.insert(sim.to_owned());
                } else {
                    wanted.remove(sim);
                }
                self.member_groups(member, &user, wanted).await;
            }
            _ => {}
        }
    }

    /// Entra's group create: match by displayName, POST only what is not there. A POST whose
    /// answer was lost (the service or the network died after the commit) is not blindly sent
    /// again: group names need not be unique, so a second POST would make a second group. The
    /// next attempt matches first, as Entra's next provisioning cycle does.
    async fn create_group(&self, name: &str, resource: &Value) -> Option<String> {
        let first = Instant::now();
        let mut backoff = std::time::Duration::from_millis(50);
        loop {
            let filter = format!("displayName eq \"{}\"", name.replace('"', "\\\""));
            let found = self
                .send(
                    Method::GET,
                    &format!(
                        "/Groups?filter={}&excludedAttributes=members",
                        client::urlencode(&filter)
                    ),
                    None,
                )
                .await;
            if let Some(id) = found.body["Resources"][0]["id"].as_str() {
                return Some(id.to_owned());
            }
            let created = self
                .target
                .send_once(&self.http, Method::POST, "/Groups", Some(resource))
                .await;
            self.record(&created);
            if let Some(id) = created.body["id"].as_str() {
                return Some(id.to_owned());
            }
            let retry = created.status == 0 || created.status == 429 || created.status >= 500;
            if !retry || first.elapsed() + backoff > self.target.retry_for {
                return None;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(std::time::Duration::from_secs(2));
        }
    }

    async fn play(&self, body: &Value) {
        match (body["object_type"].as_str(), body["action"].as_str()) {
            (Some("member"), Some("DELETE")) => self.member_delete(body).await,
            (Some("member"), _) => self.member(body).await,
            (Some("idp_group"), _) => self.group(body).await,
            _ => {}
        }
    }
}

/// The key a SCIM request of this event changes: its member or its group.
/// Plays the truth's phases through the SCIM service; returns what the requests did and the
/// ids the service gave.
#[allow(clippy::too_many_arguments)]
pub async fn play(
    http: &reqwest::Client,
    target: &ScimTarget,
    dialect: Dialect,
    truth: &Truth,
    phases: &[Phase],
    order: Order,
    duplicates: f64,
    seed: u64,
    pace: Pace,
    progress: &ProgressBar,
    directory: Directory,
) -> (PlayStats, Directory) {
    let player = Arc::new(Player {
        http: http.clone(),
        target: target.clone(),
        dialect,
        directory: Mutex::new(directory),
        stats: std::sync::Mutex::new(PlayStats::default()),
    });
    let started = Instant::now();
    // Open loop at `pace.rate` changes per second when asked (the drill needs a steady flow
    // that outlasts its crashes), across waves.
    let interval = pace.rate.filter(|r| *r > 0.0).map(|r| 1.0 / r);
    let mut sent = 0u64;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5c1_d00);
    for phase in phases {
        let events: Vec<&super::truth::Event> = truth
            .events
            .iter()
            .filter(|e| e.phase == *phase && e.label != "stale_resend")
            .collect();
        // A default group's delete goes after everything else of its phase. The product
        // ignores it and keeps the group (R12), and a webhook can still move members in and out
        // of it. Through SCIM the group is gone once deleted, so no later request can take a
        // member out of it, and the result would depend on which request came first.
        let (tail, events): (Vec<_>, Vec<_>) = events
            .into_iter()
            .partition(|e| e.label == "default_group_delete");
        let tail: Vec<&Value> = tail.iter().map(|e| &e.body).collect();
        // The first cycle: users in the chosen order, then the groups and their members.
        let (groups, mut members): (Vec<_>, Vec<_>) =
            events.into_iter().partition(|e| e.member.is_none());
        if *phase == Phase::Initial {
            match order {
                Order::Random => members.shuffle(&mut rng),
                Order::ManagersFirst => {}
                Order::ReportsFirst => members.reverse(),
            }
        }
        let ordered: Vec<&Value> = if *phase == Phase::Initial {
            members
                .iter()
                .chain(groups.iter())
                .map(|e| &e.body)
                .collect()
        } else {
            let mut all: Vec<&super::truth::Event> = members.into_iter().chain(groups).collect();
            all.sort_by_key(|e| e.at);
            all.iter().map(|e| &e.body).collect()
        };
        for wave in waves(ordered).into_iter().chain(waves(tail)) {
            let mut tasks = tokio::task::JoinSet::new();
            let permits = Arc::new(tokio::sync::Semaphore::new(pace.concurrency.max(1)));
            for body in wave {
                if let Some(interval) = interval {
                    let slot = started + std::time::Duration::from_secs_f64(interval * sent as f64);
                    tokio::time::sleep_until(slot.into()).await;
                }
                sent += 1;
                let repeat = rng.random_bool(duplicates.clamp(0.0, 1.0));
                let body = body.clone();
                let player = player.clone();
                let permits = permits.clone();
                let progress = progress.clone();
                tasks.spawn(async move {
                    let Ok(_permit) = permits.acquire_owned().await else {
                        return;
                    };
                    player.play(&body).await;
                    if repeat {
                        // The same change made twice, as an IdP retrying a request whose
                        // answer it did not get: nothing must change the second time.
                        player.play(&body).await;
                    }
                    progress.inc(1);
                });
            }
            while tasks.join_next().await.is_some() {}
        }
    }
    let mut stats = player.stats.lock().map(|s| s.clone()).unwrap_or_default();
    stats.send_secs = started.elapsed().as_secs_f64();
    let directory = match Arc::try_unwrap(player) {
        Ok(player) => player.directory.into_inner(),
        Err(player) => std::mem::take(&mut *player.directory.lock().await),
    };
    (stats, directory)
}
