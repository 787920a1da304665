//! Company lookups every worker needs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use scimsync_schema::change::Tenant;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::entity::company;

/// The company registered with this Stytch organization id (R2).
pub async fn find_by_organization(
    conn: &impl ConnectionTrait,
    organization_id: &str,
) -> Result<Option<company::Model>, DbErr> {
    company::Entity::find()
        .filter(company::Column::StytchOrganizationId.eq(organization_id))
        .one(conn)
        .await
}

/// Remembers companies found for a short while: every event looks its company up, and
/// companies change rarely. Misses are never cached, so a company registered after its
/// events were dead-lettered is found as soon as they are replayed.
pub struct Cache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (company::Model, Instant)>>,
    by_id: Mutex<HashMap<uuid::Uuid, (company::Model, Instant)>>,
}

impl Cache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
            by_id: Mutex::new(HashMap::new()),
        }
    }

    pub async fn find(
        &self,
        conn: &impl ConnectionTrait,
        organization_id: &str,
    ) -> Result<Option<company::Model>, DbErr> {
        if let Ok(entries) = self.entries.lock() {
            if let Some((company, at)) = entries.get(organization_id) {
                if at.elapsed() < self.ttl {
                    return Ok(Some(company.clone()));
                }
            }
        }
        let found = find_by_organization(conn, organization_id).await?;
        if let (Some(company), Ok(mut entries)) = (&found, self.entries.lock()) {
            entries.insert(
                organization_id.to_owned(),
                (company.clone(), Instant::now()),
            );
        }
        Ok(found)
    }

    /// The company a change belongs to, by the Stytch organisation it names or by its id (the
    /// SCIM door's); `None` for one not registered, or a change that names none.
    pub async fn find_tenant(
        &self,
        conn: &impl ConnectionTrait,
        tenant: &Tenant,
    ) -> Result<Option<company::Model>, DbErr> {
        match tenant {
            Tenant::Organization(org) => self.find(conn, org).await,
            Tenant::Company(id) => {
                let Ok(id) = id.parse::<uuid::Uuid>() else {
                    return Ok(None);
                };
                if let Ok(entries) = self.by_id.lock() {
                    if let Some((company, at)) = entries.get(&id) {
                        if at.elapsed() < self.ttl {
                            return Ok(Some(company.clone()));
                        }
                    }
                }
                let found = company::Entity::find_by_id(id).one(conn).await?;
                if let (Some(company), Ok(mut entries)) = (&found, self.by_id.lock()) {
                    entries.insert(id, (company.clone(), Instant::now()));
                }
                Ok(found)
            }
            Tenant::Unnamed => Ok(None),
        }
    }
}
