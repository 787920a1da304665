//! `users`: A user record of a company.

use sea_orm::entity::prelude::*;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub active: bool,
    pub deactivated_at: Option<DateTimeUtc>,
    pub street_address: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub business_phone: Option<String>,
    pub mobile_phone: Option<String>,
    pub fax_phone: Option<String>,
    pub employee_number: Option<String>,
    pub manager_id: Option<Uuid>,
    pub permission_level: String,
    pub stytch_member_id: Option<String>,
    pub stytch_organization_id: Option<String>,
    pub external_id: Option<String>,
    pub scim_id: Option<String>,
    pub scim_provisioned: bool,
    pub date_added: DateTimeUtc,
    pub scim_version: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub scim_active: bool,
    pub scim_deactivated_at: Option<DateTimeUtc>,
    pub groups_lost_at: Option<DateTimeUtc>,
    /// The id the user's door knows it by: its Stytch member id, or `scim:<SCIM id>` for a user
    /// of the SCIM door (a generated column: never written).
    pub member_key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
