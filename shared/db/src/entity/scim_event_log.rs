//! `scim_event_log`: One row per event per concern: the audit trail.

use sea_orm::entity::prelude::*;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "scim_event_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub company_id: Option<Uuid>,
    pub received_at: DateTimeUtc,
    pub event_id: String,
    pub event_type: String,
    pub concern: String,
    pub user_id: Option<Uuid>,
    /// Other users the row changed (a group deleted, a level set).
    pub user_ids: Vec<Uuid>,
    pub stytch_member_id: Option<String>,
    pub outcome: String,
    pub detail: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
