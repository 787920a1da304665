//! Cheap reads straight from PostgreSQL, for polling while the system converges (a full read
//! through the admin API costs seconds at 100,000 users) and for the summary's counts.
//!
//! The digest is the SHA-256 of one line per user (member id, email, active, level, manager's
//! member id, effective group ids), the same lines [`super::truth::digest`] computes from the
//! truth, so equal digests mean the observed state is the expected one.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};
use serde::Serialize;
use uuid::Uuid;

/// Cheap figures checked before the digest (which costs a full read).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub users: i64,
    pub active: i64,
    pub linked: i64,
    pub elevated: i64,
}

/// The digest's query; `{key}`, `{manager_key}` and `{group}` are the columns the truth's ids
/// are found in ([`Keys`]).
const DIGEST: &str = r#"
SELECT encode(sha256(convert_to(coalesce(string_agg(line, E'\n' ORDER BY line COLLATE "C"), ''), 'UTF8')), 'hex') AS digest
FROM (
    SELECT coalesce({key}, '') || '|' || u.email || '|' || u.active::text || '|'
           || u.permission_level || '|' || coalesce({manager_key}, '') || '|'
           || coalesce(g.ids, '') AS line
    FROM users u
    LEFT JOIN users m ON m.id = u.manager_id
    LEFT JOIN LATERAL (
        SELECT string_agg({group}, ',' ORDER BY {group} COLLATE "C") AS ids
        FROM scim_group_memberships sm
        LEFT JOIN scim_groups sg
          ON sg.company_id = sm.company_id AND sg.idp_group_id = sm.idp_group_id
        LEFT JOIN jsonb_each_text($2::jsonb) AS gm(product, simulated)
          ON gm.product = sm.idp_group_id
        WHERE sm.company_id = u.company_id AND sm.stytch_member_id = u.member_key
          AND sm.present AND NOT COALESCE(sg.deleted, false)
    ) g ON true
    WHERE u.company_id = $1
) t"#;

/// Where the product keeps the simulated ids: a Stytch door member's id is its Stytch member
/// id and a group's its IdP group id; through the SCIM door a member's is the `externalId` the
/// simulator sent, and a group is known by the SCIM id the service gave it (`$2`: the product's
/// group ids to the simulated ones, which the simulator keeps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    Stytch,
    Scim,
}

impl Keys {
    fn digest_query(self) -> String {
        let (key, manager_key, group) = match self {
            Self::Stytch => (
                "u.stytch_member_id",
                "m.stytch_member_id",
                "sm.idp_group_id",
            ),
            Self::Scim => (
                "u.external_id",
                "m.external_id",
                "coalesce(gm.simulated, sm.idp_group_id)",
            ),
        };
        DIGEST
            .replace("{manager_key}", manager_key)
            .replace("{key}", key)
            .replace("{group}", group)
    }
}

/// What the product shows for the company, counted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub users: i64,
    pub active: i64,
    pub inactive: i64,
    /// Active users by permission level.
    pub levels: BTreeMap<String, i64>,
    pub managers_linked: i64,
    /// Manager links by status (`linked`, `pending`, `skipped_circular`, ...).
    pub links: BTreeMap<String, i64>,
    /// Event log entries by concern, then outcome.
    pub outcomes: BTreeMap<String, BTreeMap<String, i64>>,
}

pub struct Probe {
    db: DatabaseConnection,
    company: Uuid,
    keys: Keys,
    /// The product's group ids → the simulated ones, where they differ (the SCIM door's).
    groups: std::collections::HashMap<String, String>,
}

impl Probe {
    pub fn new(
        db: DatabaseConnection,
        company: Uuid,
        keys: Keys,
        groups: std::collections::HashMap<String, String>,
    ) -> Self {
        Self {
            db,
            company,
            keys,
            groups,
        }
    }

    async fn rows(
        &self,
        sql: &str,
        extra: Vec<Value>,
    ) -> Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr> {
        let mut values: Vec<Value> = vec![self.company.into()];
        values.extend(extra);
        self.db
            .query_all(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                values,
            ))
            .await
    }

    async fn number(&self, sql: &str, extra: Vec<Value>) -> Result<i64, sea_orm::DbErr> {
        match self.rows(sql, extra).await?.first() {
            Some(row) => row.try_get::<i64>("", "n"),
            None => Ok(0),
        }
    }

    /// Users, active users, users with a manager, users above Basic.
    pub async fn counts(&self) -> Result<Counts, sea_orm::DbErr> {
        let rows = self
            .rows(
                "SELECT count(*) AS users, count(*) FILTER (WHERE active) AS active,
                        count(manager_id) AS linked,
                        count(*) FILTER (WHERE permission_level <> 'basic') AS elevated
                 FROM users WHERE company_id = $1",
                vec![],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(Counts::default());
        };
        Ok(Counts {
            users: row.try_get("", "users")?,
            active: row.try_get("", "active")?,
            linked: row.try_get("", "linked")?,
            elevated: row.try_get("", "elevated")?,
        })
    }

    pub async fn digest(&self) -> Result<String, sea_orm::DbErr> {
        let groups = serde_json::to_value(&self.groups).unwrap_or_default();
        match self
            .rows(&self.keys.digest_query(), vec![groups.into()])
            .await?
            .first()
        {
            Some(row) => row.try_get::<String>("", "digest"),
            None => Ok(String::new()),
        }
    }

    /// How many concerns logged this event.
    pub async fn concerns_logged(&self, event_id: &str) -> Result<i64, sea_orm::DbErr> {
        self.number(
            "SELECT count(DISTINCT concern) AS n FROM scim_event_log WHERE company_id = $1 AND event_id = $2",
            vec![event_id.into()],
        )
        .await
    }

    pub async fn summary(&self) -> Result<Summary, sea_orm::DbErr> {
        let mut summary = Summary::default();
        let totals = self
            .rows(
                "SELECT count(*) AS users, count(*) FILTER (WHERE active) AS active,
                        count(manager_id) AS linked
                 FROM users WHERE company_id = $1",
                vec![],
            )
            .await?;
        if let Some(row) = totals.first() {
            summary.users = row.try_get("", "users")?;
            summary.active = row.try_get("", "active")?;
            summary.managers_linked = row.try_get("", "linked")?;
        }
        summary.inactive = summary.users - summary.active;
        for row in self
            .rows(
                "SELECT permission_level AS k, count(*) AS n FROM users
                 WHERE company_id = $1 AND active GROUP BY 1",
                vec![],
            )
            .await?
        {
            summary
                .levels
                .insert(row.try_get("", "k")?, row.try_get("", "n")?);
        }
        for row in self
            .rows(
                "SELECT status AS k, count(*) AS n FROM manager_links WHERE company_id = $1 GROUP BY 1",
                vec![],
            )
            .await?
        {
            summary.links.insert(row.try_get("", "k")?, row.try_get("", "n")?);
        }
        for row in self
            .rows(
                "SELECT concern, outcome, count(*) AS n FROM scim_event_log
                 WHERE company_id = $1 GROUP BY 1, 2",
                vec![],
            )
            .await?
        {
            summary
                .outcomes
                .entry(row.try_get("", "concern")?)
                .or_default()
                .insert(row.try_get("", "outcome")?, row.try_get("", "n")?);
        }
        Ok(summary)
    }
}
