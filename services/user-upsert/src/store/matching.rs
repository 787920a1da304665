//! R1 matching and the R3 email owner check.

use std::collections::HashSet;

use scimsync_db::entity::user;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, FromQueryResult, Statement,
};
use uuid::Uuid;

use scimsync_schema::change::SCIM_MEMBER_PREFIX;

use crate::history::fold::MemberState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    MemberId,
    ExternalId,
    Email,
    /// A SCIM-door user whose resource the IdP deleted, created again (a new SCIM id, the same
    /// externalId or userName): the same record, reactivated (R10).
    Recreated,
}

impl MatchedBy {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::MemberId => "stytch_member_id",
            Self::ExternalId => "external_id",
            Self::Email => "email",
            Self::Recreated => "scim_recreated",
        }
    }
}

/// By member key (Stytch member id or SCIM id), then IdP external id (a record not linked to a
/// member yet), then email (a non-SCIM user, to adopt), in one query; for the SCIM door last, a
/// record whose SCIM resource was deleted and is being created again under a new SCIM id, found
/// by external id or email (`$5`: the change came through the SCIM door). Locks the row for the
/// rest of the transaction. A SCIM-door holder still active is a candidate too, for the lock
/// alone: if its delete is being applied in another transaction, `FOR UPDATE` waits for that
/// commit and the outer conditions are checked again on the row as it committed.
/// R1's three ways to find the record, best first, locked. Each way is looked up by its own key
/// index and the company checked afterwards (the fence is `MATERIALIZED`): filtering by company
/// first walks every user of a company the planner has no statistics for yet, which is every
/// company during its first sync. The outer query re-checks the conditions on the locked row.
pub const MATCH: &str = "
WITH candidates AS MATERIALIZED (
    SELECT id, company_id, 0 AS rank FROM users WHERE member_key = $2
    UNION ALL
    SELECT id, company_id, 1 FROM users WHERE external_id = $3 AND member_key IS NULL
    UNION ALL
    SELECT id, company_id, 2 FROM users WHERE lower(email) = lower($4) AND NOT scim_provisioned
    UNION ALL
    SELECT id, company_id, 3 FROM users
    WHERE $5 AND (external_id = $3 OR lower(email) = lower($4))
      AND member_key LIKE 'scim:%'
)
SELECT u.* FROM candidates c JOIN users u ON u.id = c.id
WHERE c.company_id = $1
  AND (u.member_key = $2
       OR (u.external_id = $3 AND u.member_key IS NULL)
       OR (lower(u.email) = lower($4) AND NOT u.scim_provisioned)
       OR ($5 AND (u.external_id = $3 OR lower(u.email) = lower($4))
           AND u.member_key LIKE 'scim:%' AND NOT u.scim_active))
ORDER BY c.rank
LIMIT 1
FOR UPDATE OF u";

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
                member_id.starts_with(SCIM_MEMBER_PREFIX).into(),
            ],
        ))
        .one(txn)
        .await?;
    let by = found.as_ref().map(|u| {
        if u.member_key.as_deref() == Some(member_id) {
            MatchedBy::MemberId
        } else if u.external_id.is_some()
            && u.external_id == state.external_id
            && u.member_key.is_none()
        {
            MatchedBy::ExternalId
        } else if !u.scim_provisioned {
            MatchedBy::Email
        } else {
            MatchedBy::Recreated
        }
    });
    Ok((found, by))
}

/// Whether `user_id` is a SCIM-door user still active here whose resource the SCIM service no
/// longer holds: the IdP deleted it there (committed with its outbox row) and the delete is on
/// its way to this worker, maybe behind a create that takes the same email or externalId again.
pub async fn resource_deleted(txn: &DatabaseTransaction, user_id: Uuid) -> Result<bool, DbErr> {
    let Some(holder) = user::Entity::find_by_id(user_id).one(txn).await? else {
        return Ok(false);
    };
    let from_scim_door = holder
        .member_key
        .as_deref()
        .is_some_and(|k| k.starts_with(SCIM_MEMBER_PREFIX));
    let resource = holder
        .scim_id
        .as_deref()
        .and_then(|id| Uuid::parse_str(id).ok());
    let (true, true, Some(resource)) = (from_scim_door, holder.scim_active, resource) else {
        return Ok(false);
    };
    let held = txn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 AS n FROM directory_users WHERE id = $1 AND company_id = $2",
            [resource.into(), holder.company_id.into()],
        ))
        .await?;
    Ok(held.is_none())
}

#[derive(Debug, FromQueryResult)]
struct Owner {
    id: Uuid,
    company_id: Uuid,
}

/// R3: another user (any company) holding this email, case-insensitively, and its company.
pub async fn email_owner(
    txn: &DatabaseTransaction,
    email: &str,
    except: Option<Uuid>,
) -> Result<Option<(Uuid, Uuid)>, DbErr> {
    let owner = Owner::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT id, company_id FROM users
         WHERE lower(email) = lower($1) AND id IS DISTINCT FROM $2 LIMIT 1",
        [email.into(), except.into()],
    ))
    .one(txn)
    .await?;
    Ok(owner.map(|o| (o.id, o.company_id)))
}

/// Which of a batch's keys some user holds: member ids (`$1`), external ids (`$2`) and emails
/// (`$3`, case-insensitively), each by its own index.
pub const HELD: &str = "
SELECT 'member' AS kind, k AS key FROM unnest($1::text[]) AS k
WHERE EXISTS (SELECT 1 FROM users WHERE member_key = k)
UNION ALL
SELECT 'external', k FROM unnest($2::text[]) AS k
WHERE EXISTS (SELECT 1 FROM users WHERE external_id = k)
UNION ALL
SELECT 'email', k FROM unnest($3::text[]) AS k
WHERE EXISTS (SELECT 1 FROM users WHERE lower(email) = lower(k))";

#[derive(Debug, FromQueryResult)]
struct HeldKey {
    kind: String,
    key: String,
}

/// A batch's keys no user held when its transaction looked (under the members' locks), less
/// the emails the batch has written since. An event whose member id, external id and email are
/// all unheld matches nobody (R1) and its email has no owner (R3): both lookups are skipped,
/// which in a first sync is almost every event. A concurrent writer of the same email is
/// stopped by the unique email index, as it is after the lookups.
#[derive(Debug, Default)]
pub struct Unheld {
    members: HashSet<String>,
    external_ids: HashSet<String>,
    emails: HashSet<String>,
}

impl Unheld {
    /// One statement for the whole batch: `keys` are each event's member id, external id and
    /// email.
    pub async fn find(
        txn: &DatabaseTransaction,
        keys: &[(String, Option<String>, Option<String>)],
    ) -> Result<Self, DbErr> {
        let mut unheld = Self::default();
        for (member, external, email) in keys {
            unheld.members.insert(member.clone());
            unheld.external_ids.extend(external.clone());
            unheld.emails.extend(email.clone());
        }
        let sorted = |set: &HashSet<String>| -> Vec<String> {
            let mut v: Vec<String> = set.iter().cloned().collect();
            v.sort();
            v
        };
        let held = HeldKey::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            HELD,
            [
                sorted(&unheld.members).into(),
                sorted(&unheld.external_ids).into(),
                sorted(&unheld.emails).into(),
            ],
        ))
        .all(txn)
        .await?;
        for HeldKey { kind, key } in held {
            match kind.as_str() {
                "member" => unheld.members.remove(&key),
                "external" => unheld.external_ids.remove(&key),
                _ => unheld.emails.remove(&key),
            };
        }
        Ok(unheld)
    }

    /// Whether the member's record is known not to exist and its email to be free.
    pub fn covers(&self, member_id: &str, state: &MemberState) -> bool {
        self.members.contains(member_id)
            && state
                .external_id
                .as_ref()
                .is_none_or(|e| self.external_ids.contains(e))
            && state
                .email
                .as_ref()
                .is_some_and(|e| self.emails.contains(e))
    }

    /// The batch wrote this email: it is held from now on (in any case). A later event of the
    /// batch with it then looks for its owner and is rejected as a duplicate, rather than
    /// reaching the unique index, which would stop the batch and run it again.
    pub fn take(&mut self, email: &str) {
        let lower = email.to_lowercase();
        self.emails.retain(|e| e.to_lowercase() != lower);
    }
}
