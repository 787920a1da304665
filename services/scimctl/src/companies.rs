//! `scimctl companies add|list`: register a tenant, by its Stytch organization id if it
//! provisions through Stytch.

use clap::Subcommand;
use scimsync_db::audit::Change;
use scimsync_db::entity::company;
use scimsync_platform::Settings;
use scimsync_schema::company::Registration;
use sea_orm::{ActiveModelTrait, EntityTrait, QueryOrder, Set, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use crate::audit::Operator;

#[derive(Subcommand)]
pub enum Command {
    /// Register a company.
    Add {
        #[arg(long)]
        name: String,
        /// The company's Stytch organization id (webhooks are matched on it); leave it out for
        /// a company that provisions only through the SCIM door.
        #[arg(long = "stytch-organization-id", alias = "org")]
        stytch_organization_id: Option<String>,
        /// Allowed email domain (repeat for several); none means any domain.
        #[arg(long = "allowed-email-domain", alias = "domain")]
        allowed_email_domains: Vec<String>,
    },
    /// List companies.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(settings: &Settings, operator: &Operator, command: Command) -> anyhow::Result<()> {
    let db = scimsync_db::connect(&settings.database).await?;
    match command {
        Command::Add {
            name,
            stytch_organization_id,
            allowed_email_domains,
        } => {
            let valid = Registration::validate(
                &name,
                stytch_organization_id.as_deref(),
                &allowed_email_domains,
            )
            .map_err(|refused| {
                let flag = match refused.field {
                    "allowed_email_domains" => "allowed-email-domain",
                    "stytch_organization_id" => "stytch-organization-id",
                    other => other,
                };
                anyhow::anyhow!("--{flag}: {}", refused.message)
            })?;
            let org = valid.stytch_organization_id.clone().unwrap_or_default();
            let row = company::ActiveModel {
                id: Set(Uuid::now_v7()),
                name: Set(valid.name),
                stytch_organization_id: Set(valid.stytch_organization_id),
                allowed_email_domains: Set(valid.allowed_email_domains),
                last_scim_sync_at: Set(None),
                created_at: Set(chrono::Utc::now()),
            };
            let txn = db.begin().await?;
            let created = match row.insert(&txn).await {
                Ok(created) => created,
                Err(error) if scimsync_db::errors::unique_violation(&error).is_some() => {
                    anyhow::bail!(
                        "a company with Stytch organization id {org:?} is already registered"
                    )
                }
                Err(error) => return Err(error.into()),
            };
            let change = Change {
                action: "company.register",
                company_id: Some(created.id),
                target: Some(created.id.to_string()),
                before: None,
                after: Some(json!({
                    "name": created.name,
                    "stytch_organization_id": created.stytch_organization_id,
                    "allowed_email_domains": created.allowed_email_domains,
                })),
            };
            operator.record(&txn, change).await?;
            txn.commit().await?;
            println!("{}", created.id);
        }
        Command::List { json } => {
            let rows = company::Entity::find()
                .order_by_asc(company::Column::CreatedAt)
                .all(&db)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<38} {:<32} {:<24} LAST SCIM SYNC",
                    "ID", "STYTCH ORGANIZATION", "NAME"
                );
                for c in rows {
                    let sync = c
                        .last_scim_sync_at
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| "never".into());
                    println!(
                        "{:<38} {:<32} {:<24} {}",
                        c.id,
                        c.stytch_organization_id.as_deref().unwrap_or("-"),
                        c.name,
                        sync
                    );
                }
            }
        }
    }
    Ok(())
}
