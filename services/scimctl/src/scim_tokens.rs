//! `scimctl scim-tokens create|list|revoke`: a company's SCIM bearer tokens from a shell, the
//! same as the admin API's `/api/v1/companies/{id}/scim/tokens`.

use clap::Subcommand;
use scimsync_db::scim_tokens;
use scimsync_platform::Settings;
use sea_orm::TransactionTrait;
use uuid::Uuid;

use crate::audit::Operator;

#[derive(Subcommand)]
pub enum Command {
    /// Create a token; it is printed once and stored only as a hash.
    Create {
        /// The company's id (`scimctl companies list`).
        #[arg(long)]
        company: Uuid,
        /// What the token is for, e.g. "Entra production".
        #[arg(long)]
        label: Option<String>,
    },
    /// List a company's tokens: prefix, created, last used, revoked.
    List {
        #[arg(long)]
        company: Uuid,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token at once.
    Revoke {
        #[arg(long)]
        company: Uuid,
        /// The token's id (from `list`).
        #[arg(long)]
        id: Uuid,
    },
}

pub async fn run(settings: &Settings, operator: &Operator, command: Command) -> anyhow::Result<()> {
    let db = scimsync_db::connect(&settings.database).await?;
    match command {
        Command::Create { company, label } => {
            let txn = db.begin().await?;
            let created =
                scim_tokens::create_recorded(&txn, operator.who(), company, label.as_deref())
                    .await?;
            txn.commit().await?;
            eprintln!(
                "token {} created for company {company}; it is shown once, copy it now:",
                created.id
            );
            println!("{}", created.token);
        }
        Command::List { company, json } => {
            let tokens = scim_tokens::list(&db, company).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
            } else {
                let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
                    t.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into())
                };
                println!(
                    "{:<38} {:<16} {:<26} {:<26} {:<26} LABEL",
                    "ID", "PREFIX", "CREATED", "LAST USED", "REVOKED"
                );
                for t in tokens {
                    println!(
                        "{:<38} {:<16} {:<26} {:<26} {:<26} {}",
                        t.id,
                        t.prefix,
                        t.created_at.to_rfc3339(),
                        time(t.last_used_at),
                        time(t.revoked_at),
                        t.label
                    );
                }
            }
        }
        Command::Revoke { company, id } => {
            let txn = db.begin().await?;
            if !scim_tokens::revoke_recorded(&txn, operator.who(), company, id).await? {
                anyhow::bail!("company {company} has no active SCIM token {id}");
            }
            txn.commit().await?;
            println!("revoked {id}");
        }
    }
    Ok(())
}
