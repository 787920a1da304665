//! `scim.idp_group.*` events: a group's name and kind, one member added or removed, or the
//! group deleted (R9 c/d, R12), each under the locks its change needs.

use scimsync_db::access;
use scimsync_db::event_log;
use scimsync_schema::idp_group::{GroupAction, GroupEvent};
use scimsync_schema::{Envelope, StytchWebhook};
use sea_orm::TransactionTrait;
use serde_json::json;
use uuid::Uuid;

use crate::change::{describe, entry, MemberChange};
use crate::groups::{self, GroupChange};
use crate::handler::{Failure, GroupResolver};
use crate::memberships;

impl GroupResolver {
    pub(crate) async fn group_event(
        &self,
        webhook: &StytchWebhook,
        envelope: &Envelope,
    ) -> Result<&'static str, Failure> {
        let event = match envelope.group_event() {
            Ok(event) => event,
            Err(problem) => {
                // Stytch does not publish this body: keep it whole for whoever investigates.
                let org = envelope
                    .rest
                    .get("idp_group")
                    .and_then(|g| g["organization_id"].as_str())
                    .map(str::to_owned);
                let company_id = match org {
                    Some(org) => scimsync_db::companies::find_by_organization(&self.db, &org)
                        .await?
                        .map(|c| c.id),
                    None => None,
                };
                let detail = json!({ "problem": problem, "raw": webhook.envelope });
                event_log::record(
                    &self.db,
                    entry(
                        webhook,
                        company_id,
                        None,
                        "unparseable_group_event",
                        &[],
                        detail,
                    ),
                )
                .await?;
                return Ok("unparseable_group_event");
            }
        };
        let company_id = self.company(&event.organization_id).await?;
        match event.action {
            GroupAction::MemberAdd | GroupAction::MemberRemove => {
                self.membership(webhook, envelope, company_id, &event).await
            }
            GroupAction::Upsert | GroupAction::Delete => {
                self.group_change(webhook, envelope, company_id, &event)
                    .await
            }
        }
    }

    async fn membership(
        &self,
        webhook: &StytchWebhook,
        envelope: &Envelope,
        company_id: Uuid,
        event: &GroupEvent,
    ) -> Result<&'static str, Failure> {
        let member_id = event.member_id.clone().unwrap_or_default();
        let present = event.action == GroupAction::MemberAdd;
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
            envelope.timestamp,
        )
        .await?;
        let base = if present {
            "membership_added"
        } else {
            "membership_removed"
        };
        let change = MemberChange {
            company_id,
            member_id: &member_id,
            applied,
            base,
            renamed,
        };
        let group_id = event.group_id.clone();
        self.finish(txn, webhook, change, ("group_id", json!(group_id)))
            .await
    }

    async fn group_change(
        &self,
        webhook: &StytchWebhook,
        envelope: &Envelope,
        company_id: Uuid,
        event: &GroupEvent,
    ) -> Result<&'static str, Failure> {
        let txn = self.db.begin().await?;
        access::lock_group(&txn, company_id, &event.group_id).await?;
        let name = event.group_name.as_deref();
        let change = if event.action == GroupAction::Delete {
            groups::delete(
                &txn,
                company_id,
                &event.group_id,
                name,
                envelope.timestamp,
                &self.names,
            )
            .await?
        } else {
            groups::upsert(
                &txn,
                company_id,
                &event.group_id,
                name,
                envelope.timestamp,
                &self.names,
            )
            .await?
        };
        txn.commit().await?;
        // A group's first event may name it (and so make it a default group) for members whose
        // memberships arrived before it.
        let refresh = matches!(
            change,
            GroupChange::Created
                | GroupChange::Deleted { .. }
                | GroupChange::Updated {
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
            GroupChange::Created => "group_created",
            GroupChange::Updated { .. } => "group_updated",
            GroupChange::Deleted {
                automations_removed,
            } => {
                detail["career_automations_removed"] = json!(automations_removed);
                "group_deleted"
            }
            GroupChange::IgnoredDefaultDelete => "ignored_default_group_delete",
            GroupChange::Stale => "stale_ignored",
        };
        event_log::record(
            &self.db,
            entry(webhook, Some(company_id), None, outcome, &changes, detail),
        )
        .await?;
        Ok(outcome)
    }
}
