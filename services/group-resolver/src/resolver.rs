//! group-resolver's state (its database, the default groups' names, the company cache), how it
//! finds a change's company, and the common end of a group event's membership change.

use std::time::Duration;

use scimsync_db::access;
use scimsync_db::companies::Cache;
use scimsync_db::event_log;
use scimsync_schema::change::{ChangeMeta, Tenant};
use scimsync_schema::EventOutcome;
use sea_orm::{DatabaseConnection, DbErr};
use uuid::Uuid;

use crate::change::{recheck, refresh_present, user_ids, verdict, MembershipChange, Note, Unseen};
use crate::kind::DefaultGroups;

pub struct GroupResolver {
    pub db: DatabaseConnection,
    pub names: DefaultGroups,
    pub companies: Cache,
}

impl GroupResolver {
    pub fn new(db: DatabaseConnection, names: DefaultGroups) -> Self {
        Self {
            db,
            names,
            companies: Cache::new(Duration::from_secs(30)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    #[error("no company is registered for {0:?}")]
    UnknownTenant(Tenant),
    #[error("database error")]
    Database(#[from] DbErr),
}

impl GroupResolver {
    pub(crate) async fn company(&self, tenant: &Tenant) -> Result<Uuid, Failure> {
        self.companies
            .find_tenant(&self.db, tenant)
            .await?
            .map(|c| c.id)
            .ok_or_else(|| Failure::UnknownTenant(tenant.clone()))
    }

    /// The common end of a group event's membership change: recompute the member's activity
    /// and level, log, commit, take the second look if the member had no user record, then
    /// refresh the members of groups whose kind just changed.
    pub(crate) async fn finish(
        &self,
        txn: sea_orm::DatabaseTransaction,
        meta: &ChangeMeta,
        change: MembershipChange<'_>,
        note: Note,
    ) -> Result<EventOutcome, Failure> {
        let members = [change.member_id.to_owned()];
        let (users, changes) = refresh_present(&txn, change.company_id, &members).await?;
        let own = user_ids(&users);
        let (mut outcome, log) = verdict(meta, &change, &own, changes, &note);
        event_log::record(&txn, log).await?;
        txn.commit().await?;
        if own.is_empty() {
            let company_id = change.company_id;
            let unseen = [Unseen {
                meta,
                change: change.clone(),
                note,
            }];
            if let Some(new) = recheck(&self.db, company_id, &unseen).await?[0] {
                outcome = new;
            }
        }
        self.refresh_groups(change.company_id, &change.renamed)
            .await?;
        Ok(outcome)
    }

    /// Members of groups whose kind just changed get their levels recomputed.
    pub(crate) async fn refresh_groups(
        &self,
        company_id: Uuid,
        group_ids: &[String],
    ) -> Result<(), DbErr> {
        for group_id in group_ids {
            access::refresh_group_members(&self.db, company_id, group_id).await?;
        }
        Ok(())
    }
}
