//! Company lookups every worker needs.

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::entity::company;

/// The company registered with this Stytch organization id (R2).
pub async fn find_by_organization(
    conn: &impl ConnectionTrait,
    organization_id: &str,
) -> Result<Option<company::Model>, DbErr> {
    company::Entity::find()
        .filter(company::Column::StytchOrganizationId.eq(organization_id))
        .one(conn)
        .await
}
