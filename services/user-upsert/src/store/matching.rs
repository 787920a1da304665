//! R1 matching and the R3 email owner check.

use scimsync_db::entity::user;
use sea_orm::{DatabaseTransaction, DbBackend, DbErr, EntityTrait, FromQueryResult, Statement};
use uuid::Uuid;

use crate::fold::MemberState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    MemberId,
    ExternalId,
    Email,
}

impl MatchedBy {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::MemberId => "stytch_member_id",
            Self::ExternalId => "external_id",
            Self::Email => "email",
        }
    }
}

/// By Stytch member id, then IdP external id (a record not linked to a member yet), then email
/// (a non-SCIM user, to adopt), in one query. Locks the row for the rest of the transaction.
const MATCH: &str = "
SELECT * FROM users
WHERE company_id = $1
  AND (stytch_member_id = $2
       OR (external_id = $3 AND stytch_member_id IS NULL)
       OR (lower(email) = lower($4) AND NOT scim_provisioned))
ORDER BY CASE WHEN stytch_member_id = $2 THEN 0
              WHEN external_id = $3 AND stytch_member_id IS NULL THEN 1
              ELSE 2 END
LIMIT 1
FOR UPDATE";

pub async fn match_user(
    txn: &DatabaseTransaction,
    company_id: Uuid,
    member_id: &str,
    state: &MemberState,
) -> Result<(Option<user::Model>, Option<MatchedBy>), DbErr> {
    let found = user::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            DbBackend::Postgres,
            MATCH,
            [
                company_id.into(),
                member_id.into(),
                state.external_id.clone().into(),
                state.email.clone().into(),
            ],
        ))
        .one(txn)
        .await?;
    let by = found.as_ref().map(|u| {
        if u.stytch_member_id.as_deref() == Some(member_id) {
            MatchedBy::MemberId
        } else if u.external_id.is_some()
            && u.external_id == state.external_id
            && u.stytch_member_id.is_none()
        {
            MatchedBy::ExternalId
        } else {
            MatchedBy::Email
        }
    });
    Ok((found, by))
}

#[derive(Debug, FromQueryResult)]
struct Owner {
    id: Uuid,
}

/// R3: another user (any company) holding this email, case-insensitively.
pub async fn email_owner(
    txn: &DatabaseTransaction,
    email: &str,
    except: Option<Uuid>,
) -> Result<Option<Uuid>, DbErr> {
    let owner = Owner::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT id FROM users WHERE lower(email) = lower($1) AND id IS DISTINCT FROM $2 LIMIT 1",
        [email.into(), except.into()],
    ))
    .one(txn)
    .await?;
    Ok(owner.map(|o| o.id))
}
