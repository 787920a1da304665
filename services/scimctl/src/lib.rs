//! `scimctl`: the operator CLI. Migrations, company registration, SCIM tokens, signed test
//! webhooks, the broker topology, dead-letter queues and the event log's retention. Its changes
//! are recorded in the audit trail as the operator's (`audit`). A library with a thin `main`, so
//! tests drive the same code in-process.

pub mod audit;
pub mod companies;
pub mod dlq;
pub mod event_log;
pub mod scim_tokens;
pub mod webhook;

use std::io::IsTerminal;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use scimsync_platform::amqp::topology::{definitions, full_plan};
use scimsync_platform::Settings;

#[derive(Parser)]
#[command(name = "scimctl", version, about = "Operate a scimsync deployment")]
pub struct Cli {
    /// Who runs this, as the audit trail records a change (default: login@host).
    #[arg(long, global = true, env = "SCIMCTL_ACTOR")]
    pub actor: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Apply pending database migrations.
    Migrate,
    /// Register and list companies (tenants).
    #[command(subcommand)]
    Companies(companies::Command),
    /// A company's SCIM bearer tokens: create, list, revoke.
    #[command(subcommand)]
    ScimTokens(scim_tokens::Command),
    /// Send signed webhooks to ingest.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// The RabbitMQ topology.
    #[command(subcommand)]
    Topology(TopologyCommand),
    /// Dead-letter queues: list, show, replay, purge.
    #[command(subcommand)]
    Dlq(dlq::Command),
    /// The SCIM event log: prune rows past their retention.
    #[command(subcommand)]
    EventLog(event_log::Command),
}

#[derive(Subcommand)]
pub enum WebhookCommand {
    /// Sign a JSON file the way Svix does and POST it to ingest.
    Send(webhook::Send),
}

#[derive(Subcommand)]
pub enum TopologyCommand {
    /// Print the topology as a RabbitMQ definitions file (exchanges, queues, bindings).
    Export {
        /// Virtual host to write into the definitions.
        #[arg(long, default_value = "/")]
        vhost: String,
    },
}

/// Runs `command`; a change it makes is recorded in the audit trail as `operator`'s.
pub async fn run(
    settings: &Settings,
    operator: &audit::Operator,
    command: Command,
) -> anyhow::Result<()> {
    match command {
        Command::Migrate => {
            let db = scimsync_db::connect(&settings.database).await?;
            scimsync_db::migrate(&db).await?;
            println!("migrations applied");
        }
        Command::Companies(command) => companies::run(settings, operator, command).await?,
        Command::ScimTokens(command) => scim_tokens::run(settings, operator, command).await?,
        Command::Webhook(WebhookCommand::Send(args)) => webhook::send(settings, args).await?,
        Command::Topology(TopologyCommand::Export { vhost }) => {
            let plan = full_plan(settings.amqp.delivery_limit);
            println!(
                "{}",
                serde_json::to_string_pretty(&definitions(&plan, &vhost))?
            );
        }
        Command::Dlq(command) => dlq::run(settings, operator, command).await?,
        Command::EventLog(command) => event_log::run(settings, operator, command).await?,
    }
    Ok(())
}

/// A progress bar of `len` steps drawn with `template` (indicatif's), shown only to a person
/// watching: scripts and logs get the command's summary line alone.
pub(crate) fn progress_bar(len: u64, template: &str) -> ProgressBar {
    if !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
