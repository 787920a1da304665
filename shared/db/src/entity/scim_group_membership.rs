//! `scim_group_memberships`: A membership (or its tombstone) keyed by IdP ids.

use sea_orm::entity::prelude::*;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "scim_group_memberships")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub company_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub idp_group_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub stytch_member_id: String,
    pub present: bool,
    pub version: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
