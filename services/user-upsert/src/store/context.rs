//! What one member event is, as the store's steps need it: its event log entries and the
//! announcement of a user record it created or adopted.

use scimsync_db::event_log::Entry;
use scimsync_schema::change::MemberChange;
use scimsync_schema::message::UserProvisioned;
use scimsync_schema::EventOutcome;
use uuid::Uuid;

use super::CONCERN;
use crate::fold::MemberState;

pub(super) struct Context<'a> {
    pub change: &'a MemberChange,
    pub member_id: &'a str,
}

impl<'a> Context<'a> {
    pub fn entry(
        &self,
        company_id: Option<Uuid>,
        user_id: Option<Uuid>,
        outcome: EventOutcome,
        detail: serde_json::Value,
    ) -> Entry<'a> {
        Entry {
            company_id,
            door: self.change.meta.door,
            received_at: self.change.meta.received_at,
            event_id: &self.change.meta.event_id,
            event_type: &self.change.meta.event_type,
            concern: CONCERN,
            user_id,
            user_ids: Vec::new(),
            stytch_member_id: Some(self.member_id),
            outcome,
            detail,
        }
    }

    pub fn announcement(
        &self,
        company_id: Uuid,
        user_id: Uuid,
        state: &MemberState,
    ) -> UserProvisioned {
        UserProvisioned {
            event_id: format!("{}:user_provisioned", self.change.meta.event_id),
            timestamp: self.change.meta.timestamp,
            company_id: company_id.to_string(),
            user_id: user_id.to_string(),
            stytch_member_id: self.member_id.to_owned(),
            scim_id: state.scim_id.clone(),
            external_id: state.external_id.clone(),
        }
    }
}
