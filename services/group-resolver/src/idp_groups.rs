//! `scim.idp_group.*` events: a group's name and kind, one member added or removed, or the
//! group deleted (R9 c/d, R12), each under the locks its change needs.

use scimsync_db::access;
use scimsync_db::event_log;
use scimsync_schema::change::{ChangeMeta, GroupChange, GroupChangeAction};
use scimsync_schema::EventOutcome;
use sea_orm::TransactionTrait;
use serde_json::json;
use uuid::Uuid;

use crate::change::{describe, entry, MembershipChange};
use crate::groups::{self, GroupChange as GroupOutcome};
use crate::memberships;
use crate::resolver::{Failure, GroupResolver};

impl GroupResolver {
    /// A group event Stytch sent whose body cannot be understood: kept whole in the event log
    /// for whoever investigates (Stytch does not publish this body).
    pub(crate) async fn unparseable(
        &self,
        meta: &ChangeMeta,
        organization_id: Option<&str>,
        problem: &str,
        raw: &str,
    ) -> Result<EventOutcome, Failure> {
        let company_id = match organization_id {
            Some(org) => scimsync_db::companies::find_by_organization(&self.db, org)
                .await?
                .map(|c| c.id),
            None => None,
        };
        let raw: serde_json::Value = serde_json::from_str(raw).unwrap_or_else(|_| json!(raw));
        let detail = json!({ "problem": problem, "raw": raw });
        event_log::record(
            &self.db,
            entry(
                meta,
                company_id,
                None,
                EventOutcome::UnparseableGroupEvent,
                &[],
                detail,
            ),
        )
        .await?;
        Ok(EventOutcome::UnparseableGroupEvent)
    }

    /// A group created, renamed or deleted, or a member added or removed: either door's.
    pub(crate) async fn group_event(&self, event: &GroupChange) -> Result<EventOutcome, Failure> {
        let company_id = self.company(&event.tenant).await?;
        match event.action {
            GroupChangeAction::MemberAdd | GroupChangeAction::MemberRemove => {
                self.membership(company_id, event).await
            }
            GroupChangeAction::Upsert | GroupChangeAction::Delete => {
                self.group_change(company_id, event).await
            }
        }
    }

    async fn membership(
        &self,
        company_id: Uuid,
        event: &GroupChange,
    ) -> Result<EventOutcome, Failure> {
        let member_id = event.member_id.clone().unwrap_or_default();
        let present = event.action == GroupChangeAction::MemberAdd;
        let txn = self.db.begin().await?;
        access::lock_concern(
            &txn,
            crate::CONCERN,
            company_id,
            std::slice::from_ref(&member_id),
        )
        .await?;
        access::lock_groups_shared(&txn, company_id, std::slice::from_ref(&event.group_id)).await?;
        let renamed = groups::ensure(
            &txn,
            company_id,
            &[(event.group_id.clone(), event.group_name.clone())],
            &self.names,
        )
        .await?;
        let applied = memberships::set(
            &txn,
            company_id,
            &event.group_id,
            &member_id,
            present,
            event.meta.timestamp,
        )
        .await?;
        let base = if present {
            EventOutcome::MembershipAdded
        } else {
            EventOutcome::MembershipRemoved
        };
        let change = MembershipChange {
            company_id,
            member_id: &member_id,
            applied,
            base,
            renamed,
        };
        let group_id = event.group_id.clone();
        self.finish(txn, &event.meta, change, ("group_id", json!(group_id)))
            .await
    }

    async fn group_change(
        &self,
        company_id: Uuid,
        event: &GroupChange,
    ) -> Result<EventOutcome, Failure> {
        let txn = self.db.begin().await?;
        access::lock_group(&txn, company_id, &event.group_id).await?;
        let name = event.group_name.as_deref();
        let change = if event.action == GroupChangeAction::Delete {
            groups::delete(
                &txn,
                company_id,
                &event.group_id,
                name,
                event.meta.timestamp,
                &self.names,
            )
            .await?
        } else {
            groups::upsert(
                &txn,
                company_id,
                &event.group_id,
                name,
                event.meta.timestamp,
                &self.names,
            )
            .await?
        };
        txn.commit().await?;
        // A group's first event may name it (and so make it a default group) for members whose
        // memberships arrived before it.
        let refresh = matches!(
            change,
            GroupOutcome::Created
                | GroupOutcome::Deleted { .. }
                | GroupOutcome::Updated {
                    members_need_refresh: true
                }
        );
        let changes = if refresh {
            access::refresh_group_members(&self.db, company_id, &event.group_id).await?
        } else {
            Vec::new()
        };
        let mut detail = describe(&changes);
        detail["group_id"] = json!(event.group_id);
        let outcome = match change {
            GroupOutcome::Created => EventOutcome::GroupCreated,
            GroupOutcome::Updated { .. } => EventOutcome::GroupUpdated,
            GroupOutcome::Deleted {
                automations_removed,
            } => {
                detail["career_automations_removed"] = json!(automations_removed);
                EventOutcome::GroupDeleted
            }
            GroupOutcome::IgnoredDefaultDelete => EventOutcome::IgnoredDefaultGroupDelete,
            GroupOutcome::Stale => EventOutcome::StaleIgnored,
        };
        event_log::record(
            &self.db,
            entry(
                &event.meta,
                Some(company_id),
                None,
                outcome,
                &changes,
                detail,
            ),
        )
        .await?;
        Ok(outcome)
    }
}
