//! Direct-SCIM bearer tokens (SPEC §7, R18): random, shown once, stored only as a hash,
//! compared in constant time, several active at once for rotation, revocable at once.
//!
//! A token is `scimsync_` followed by 43 characters of URL-safe base64: 256 random bits. The
//! prefix makes a leaked token easy for secret scanners to recognise. With that much entropy a
//! single SHA-256 is the right hash (a slow password hash protects guessable secrets; this one
//! cannot be guessed), so a token is found by its hash through a unique index.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// What every token starts with.
pub const PREFIX: &str = "scimsync_";
/// Characters after [`PREFIX`]: 32 random bytes in unpadded base64.
const SECRET_CHARS: usize = 43;
/// How much of a token a listing shows: the prefix and six characters, enough to tell tokens
/// apart, far too little to use one.
const SHOWN_CHARS: usize = PREFIX.len() + 6;
/// Active tokens a company may hold at once: rotation needs two; a few more allow one per
/// IdP connection. A bound, like every input.
pub const MAX_ACTIVE: i64 = 5;
/// The longest label accepted.
pub const MAX_LABEL_CHARS: usize = 256;

/// A token just created: the only time its secret is seen.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Created {
    pub id: Uuid,
    pub token: String,
    pub label: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
}

/// A token as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, FromQueryResult)]
pub struct Listed {
    pub id: Uuid,
    pub label: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Why a token could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("label must hold at most {MAX_LABEL_CHARS} characters")]
    Label,
    #[error("the company already has {MAX_ACTIVE} active SCIM tokens; revoke one first")]
    TooMany,
    #[error("no such company")]
    NoCompany,
    #[error("database error")]
    Database(#[from] DbErr),
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether `presented` has a token's shape; anything else is refused before any lookup.
fn well_formed(presented: &str) -> bool {
    presented.len() == PREFIX.len() + SECRET_CHARS
        && presented.starts_with(PREFIX)
        && presented[PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Creates a token for the company; the returned secret is not stored anywhere.
pub async fn create(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    label: Option<&str>,
) -> Result<Created, CreateError> {
    let label = label.map(str::trim).unwrap_or_default();
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(CreateError::Label);
    }
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
    let prefix = token[..SHOWN_CHARS].to_owned();
    let id = Uuid::now_v7();
    // One statement: the company must exist and hold fewer than MAX_ACTIVE active tokens (the
    // company row is locked so two creations cannot both take the last place).
    let row = conn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "WITH company AS (SELECT id FROM companies WHERE id = $2 FOR UPDATE),
                  active AS (SELECT count(*) AS n FROM scim_tokens
                             WHERE company_id = $2 AND revoked_at IS NULL)
             INSERT INTO scim_tokens (id, company_id, label, token_hash, token_prefix)
             SELECT $1, company.id, $3, $4, $5 FROM company, active WHERE active.n < $6
             RETURNING created_at",
            [
                id.into(),
                company_id.into(),
                label.into(),
                hash(&token).into(),
                prefix.clone().into(),
                MAX_ACTIVE.into(),
            ],
        ))
        .await?;
    let Some(row) = row else {
        let exists = conn
            .query_one(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT 1 AS one FROM companies WHERE id = $1",
                [company_id.into()],
            ))
            .await?;
        return Err(match exists {
            Some(_) => CreateError::TooMany,
            None => CreateError::NoCompany,
        });
    };
    Ok(Created {
        id,
        token,
        label: label.to_owned(),
        prefix,
        created_at: row.try_get("", "created_at")?,
    })
}

/// The company's tokens, newest first, revoked ones included (with when).
pub async fn list(conn: &impl ConnectionTrait, company_id: Uuid) -> Result<Vec<Listed>, DbErr> {
    Listed::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT id, label, token_prefix AS prefix, created_at, last_used_at, revoked_at
         FROM scim_tokens WHERE company_id = $1 ORDER BY created_at DESC, id DESC",
        [company_id.into()],
    ))
    .all(conn)
    .await
}

/// Revokes a token of the company at once. `false`: no such active token in that company.
pub async fn revoke(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    id: Uuid,
) -> Result<bool, DbErr> {
    let result = conn
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE scim_tokens SET revoked_at = now()
             WHERE id = $1 AND company_id = $2 AND revoked_at IS NULL",
            [id.into(), company_id.into()],
        ))
        .await?;
    if result.rows_affected() > 0 {
        // Every scim replica forgets what it remembered about tokens (see `Authenticated`).
        conn.execute_unprepared("NOTIFY scim_tokens").await?;
    }
    Ok(result.rows_affected() > 0)
}

/// A token that authenticated, and the company it speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authenticated {
    pub token_id: Uuid,
    pub company_id: Uuid,
}

#[derive(Debug, FromQueryResult)]
struct TokenRow {
    id: Uuid,
    company_id: Uuid,
    token_hash: Vec<u8>,
}

/// The active token `presented` is, if any. A malformed, unknown or revoked token gives
/// `None`, the same for all three.
pub async fn authenticate(
    conn: &impl ConnectionTrait,
    presented: &str,
) -> Result<Option<Authenticated>, DbErr> {
    if !well_formed(presented) {
        return Ok(None);
    }
    let wanted = hash(presented);
    let row = TokenRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT id, company_id, token_hash FROM scim_tokens
         WHERE token_hash = $1 AND revoked_at IS NULL",
        [wanted.clone().into()],
    ))
    .one(conn)
    .await?;
    // The index found it by its hash; the hash is compared again in constant time so no code
    // path of ours depends on how much of it matched.
    Ok(row
        .filter(|r| bool::from(r.token_hash.ct_eq(&wanted)))
        .map(|r| Authenticated {
            token_id: r.id,
            company_id: r.company_id,
        }))
}

/// Records that tokens were used just now.
pub async fn touch(conn: &impl ConnectionTrait, token_ids: &[Uuid]) -> Result<(), DbErr> {
    if token_ids.is_empty() {
        return Ok(());
    }
    conn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE scim_tokens SET last_used_at = now() WHERE id = ANY($1)",
        [token_ids.to_vec().into()],
    ))
    .await?;
    Ok(())
}

/// Creates a token and records who did in the audit trail, by its id, label and prefix (never
/// the secret), both on `txn`, the caller's transaction: the admin API, the console and
/// scimctl create tokens through here.
pub async fn create_recorded(
    txn: &impl ConnectionTrait,
    who: crate::audit::Who<'_>,
    company_id: Uuid,
    label: Option<&str>,
) -> Result<Created, CreateError> {
    let created = create(txn, company_id, label).await?;
    let change = crate::audit::Change {
        action: "scim_token.create",
        company_id: Some(company_id),
        target: Some(created.id.to_string()),
        before: None,
        after: Some(
            serde_json::json!({ "id": created.id, "label": created.label, "prefix": created.prefix }),
        ),
    };
    crate::audit::record(txn, who, change).await?;
    Ok(created)
}

/// Revokes an active token and records who did, on `txn`; false if the company has no such
/// active token (nothing is recorded then).
pub async fn revoke_recorded(
    txn: &impl ConnectionTrait,
    who: crate::audit::Who<'_>,
    company_id: Uuid,
    id: Uuid,
) -> Result<bool, DbErr> {
    let active = list(txn, company_id)
        .await?
        .into_iter()
        .find(|t| t.id == id && t.revoked_at.is_none());
    let Some(listed) = active else {
        return Ok(false);
    };
    if !revoke(txn, company_id, id).await? {
        return Ok(false);
    }
    let change = crate::audit::Change {
        action: "scim_token.revoke",
        company_id: Some(company_id),
        target: Some(id.to_string()),
        before: Some(
            serde_json::json!({ "id": listed.id, "label": listed.label, "prefix": listed.prefix }),
        ),
        after: Some(serde_json::json!({ "revoked": true, "prefix": listed.prefix })),
    };
    crate::audit::record(txn, who, change).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_token_shaped_strings_are_looked_up() {
        let good = format!("{PREFIX}{}", "A".repeat(SECRET_CHARS));
        assert!(well_formed(&good));
        assert!(!well_formed(&good[..good.len() - 1]));
        assert!(!well_formed(&format!("{good}A")));
        assert!(!well_formed(&good.replacen(PREFIX, "scimsinc_", 1)));
        assert!(!well_formed(&format!(
            "{PREFIX}{}!",
            "A".repeat(SECRET_CHARS - 1)
        )));
        assert!(!well_formed(""));
        // Multi-byte characters cannot slice a prefix in two.
        assert!(!well_formed(&format!(
            "{PREFIX}{}é",
            "A".repeat(SECRET_CHARS - 2)
        )));
    }

    #[test]
    fn the_hash_is_sha256_of_the_whole_token() {
        let token = format!("{PREFIX}{}", "b".repeat(SECRET_CHARS));
        assert_eq!(hash(&token).len(), 32);
        assert_ne!(hash(&token), hash(&token.replace('b', "c")));
    }
}
