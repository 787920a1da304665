//! `unclaimed_member_events`: an event that names no organisation, for a member no company holds
//! yet, kept until the member's first event that names its company claims it.

use sea_orm::entity::prelude::*;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "unclaimed_member_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub stytch_member_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: String,
    pub event_timestamp: DateTimeUtc,
    pub action: String,
    pub member: Option<Json>,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
