//! `manager_links`: the manager value last seen from SCIM for a member, and where it stands.

use sea_orm::entity::prelude::*;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "manager_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub company_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub stytch_member_id: String,
    pub manager_value: String,
    pub event_timestamp: DateTimeUtc,
    pub event_id: String,
    pub event_type: String,
    pub received_at: DateTimeUtc,
    pub status: String,
    pub first_seen_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
