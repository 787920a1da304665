//! `member_events`: A member event as received, folded in timestamp order to get a member's state.

use sea_orm::entity::prelude::*;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "member_events")]
pub struct Model {
    /// Event ids are unique per company, not across companies (SPEC §7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub company_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: String,
    pub stytch_member_id: String,
    pub organization_id: Option<String>,
    pub event_timestamp: DateTimeUtc,
    pub action: String,
    pub member: Option<Json>,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
