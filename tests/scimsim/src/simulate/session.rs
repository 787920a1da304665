//! What one simulation run needs: HTTP clients, the company it registers, the generated truth,
//! and the convergence wait.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DurationRound, Utc};
use indicatif::ProgressBar;
use rand::Rng;
use scimsync_platform::Settings;
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::admin::{Admin, Registered};
use super::org::{slug, DefaultNames, Org};
use super::player::Target;
use super::probe::{Counts, Keys, Probe};
use super::truth::{self, Expected, Truth};

pub struct Session {
    pub http: reqwest::Client,
    pub admin: Admin,
    pub target: Target,
    pub db: sea_orm::DatabaseConnection,
    /// Where the product keeps the simulated ids (which door they came through).
    pub keys: Keys,
    /// The product's group ids → the simulated ones (the SCIM door's, once played).
    pub group_ids: std::sync::Mutex<std::collections::HashMap<String, String>>,
    admin_group: String,
    full_access_group: String,
}

/// A registered company and the truth generated for it.
pub struct Prepared {
    pub company: Uuid,
    pub organization_id: String,
    pub truth: Truth,
    /// The company's SCIM bearer token, when it provisions through the SCIM door.
    pub scim_token: Option<String>,
}

/// The expected state in the form the probe compares.
pub struct Goal {
    pub expected: Vec<Expected>,
    pub digest: String,
    pub counts: Counts,
}

impl Goal {
    pub fn of(truth: &Truth) -> Self {
        let expected = truth.expected();
        let count = |f: &dyn Fn(&Expected) -> bool| expected.iter().filter(|e| f(e)).count() as i64;
        let counts = Counts {
            users: expected.len() as i64,
            active: count(&|e| e.active),
            linked: count(&|e| e.manager.is_some()),
            elevated: count(&|e| e.level != "basic"),
        };
        Self {
            digest: truth::digest(&expected),
            expected,
            counts,
        }
    }
}

impl Session {
    pub async fn new(
        settings: &Settings,
        ingest_url: &str,
        admin_url: &str,
        secret: Option<&str>,
        concurrency: usize,
        keys: Keys,
    ) -> anyhow::Result<Self> {
        let secret = match secret {
            Some(secret) => secret.to_owned(),
            None => settings
                .ingest
                .secrets()
                .first()
                .map(|s| s.expose_secret().to_owned())
                .context("no webhook signing secret: pass --secret or set SCIMSYNC__INGEST__WEBHOOK_SECRETS")?,
        };
        anyhow::ensure!(
            scimsync_platform::svix::sign(&secret, "msg_check", 0, b"").is_some(),
            "the webhook secret is not a valid whsec_ secret"
        );
        let http = super::player::client(concurrency)?;
        let admin = Admin::new(
            http.clone(),
            admin_url,
            settings.admin.token().map(str::to_owned),
        );
        let db = scimsync_db::connect(&settings.database)
            .await
            .context("cannot reach PostgreSQL (the simulator polls it to see convergence); is the local infrastructure up?")?;
        let url = ingest_url.trim_end_matches('/');
        let url = if url.ends_with("/webhooks/stytch") {
            url.to_owned()
        } else {
            format!("{url}/webhooks/stytch")
        };
        Ok(Self {
            http,
            admin,
            target: Target { url, secret },
            db,
            keys,
            group_ids: std::sync::Mutex::new(std::collections::HashMap::new()),
            admin_group: settings.groups.admin_group.clone(),
            full_access_group: settings.groups.full_access_group.clone(),
        })
    }

    /// Registers a company (a fresh organization id if the wanted one is taken) and generates
    /// its organisation; `build` adds events to the truth (the initial sync, churn).
    pub async fn prepare(
        &self,
        users: usize,
        seed: u64,
        organization: Option<&str>,
        build: impl FnOnce(&mut Truth),
    ) -> anyhow::Result<Prepared> {
        let suffix = || -> String {
            let mut rng = rand::rng();
            (0..6)
                .map(|_| {
                    char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)])
                })
                .collect()
        };
        let mut organization_id = match organization {
            Some(org) => org.trim().to_owned(),
            None => format!("sim-{seed}-{}", suffix()),
        };
        if self.keys == Keys::Scim {
            // A company of the SCIM door: no Stytch organisation, a bearer token instead. The
            // generated organisation still carries an organization id, which nothing reads.
            let name = format!("Simulated {users}-person organisation (SCIM, {organization_id})");
            let (company, token) = self.admin.register_scim(&name).await?;
            let names = DefaultNames {
                admin: &self.admin_group,
                full_access: &self.full_access_group,
            };
            let org = Org::generate(users, seed, &slug(&organization_id), &names);
            let base = Utc::now()
                .duration_trunc(chrono::Duration::milliseconds(1))
                .unwrap_or_else(|_| Utc::now());
            let mut truth = Truth::new(org, &organization_id, base);
            build(&mut truth);
            return Ok(Prepared {
                company,
                organization_id,
                truth,
                scim_token: Some(token),
            });
        }
        let mut attempts = 0;
        let company = loop {
            attempts += 1;
            let name = format!("Simulated {users}-person organisation ({organization_id})");
            match self.admin.register(&name, &organization_id).await? {
                Registered::Created(id) => break id,
                Registered::Taken if attempts < 5 => {
                    let base = organization.map(str::trim).unwrap_or("sim");
                    let fresh = format!("{base}-{}", suffix());
                    tracing::info!(taken = %organization_id, %fresh, "organization id taken; using a fresh one");
                    organization_id = fresh;
                }
                Registered::Taken => anyhow::bail!(
                    "could not register a company: organization ids keep colliding (last {organization_id})"
                ),
            }
        };
        let names = DefaultNames {
            admin: &self.admin_group,
            full_access: &self.full_access_group,
        };
        let org = Org::generate(users, seed, &slug(&organization_id), &names);
        let base = Utc::now()
            .duration_trunc(chrono::Duration::milliseconds(1))
            .unwrap_or_else(|_| Utc::now());
        let mut truth = Truth::new(org, &organization_id, base);
        build(&mut truth);
        Ok(Prepared {
            company,
            organization_id,
            truth,
            scim_token: None,
        })
    }

    pub fn probe(&self, company: Uuid) -> Probe {
        let groups = self.group_ids.lock().map(|g| g.clone()).unwrap_or_default();
        Probe::new(self.db.clone(), company, self.keys, groups)
    }

    /// Polls until the observed state equals `goal` or `deadline` passes; the instant the
    /// matching read started, if it did. A failed read (PostgreSQL restarting, say) is shown
    /// and tried again; it is an error only when the deadline passes while reads still fail.
    pub async fn converge(
        &self,
        company: Uuid,
        goal: &Goal,
        deadline: Instant,
        progress: &ProgressBar,
    ) -> anyhow::Result<Option<Instant>> {
        let probe = self.probe(company);
        let mut failing = false;
        loop {
            let polled = Instant::now();
            match matches(&probe, goal, progress).await {
                Ok(Some(started)) => return Ok(Some(started)),
                Ok(None) => {
                    if failing {
                        progress.suspend(|| eprintln!("simulate: polling for progress again"));
                    }
                    failing = false;
                }
                Err(error) if Instant::now() >= deadline => return Err(error),
                Err(error) => {
                    if !failing {
                        progress.suspend(|| {
                            eprintln!("simulate: cannot poll for progress ({error:#}); trying again until the timeout");
                        });
                    }
                    failing = true;
                    progress.set_message(format!("cannot poll for progress: {error:#}"));
                }
            }
            // Reads compete with the workers for the same CPUs: at most a tenth of the time.
            let pause =
                (polled.elapsed() * 10).clamp(Duration::from_millis(50), Duration::from_secs(2));
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(pause).await;
        }
    }
}

/// One poll: the instant the read that found the goal started, if the state matches it.
async fn matches(
    probe: &Probe,
    goal: &Goal,
    progress: &ProgressBar,
) -> anyhow::Result<Option<Instant>> {
    let counts = probe
        .counts()
        .await
        .context("polling PostgreSQL for progress")?;
    progress.set_message(format!(
        "{}/{} users, {}/{} active, {}/{} managers linked",
        counts.users,
        goal.counts.users,
        counts.active,
        goal.counts.active,
        counts.linked,
        goal.counts.linked
    ));
    if counts != goal.counts {
        return Ok(None);
    }
    let started = Instant::now();
    let digest = probe.digest().await.context("reading the state digest")?;
    Ok((digest == goal.digest).then_some(started))
}
