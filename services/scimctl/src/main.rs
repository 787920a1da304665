//! `scimctl`: the operator CLI. Migrations, company registration and the broker topology.

mod companies;
mod webhook;

use clap::{Parser, Subcommand};
use scimsync_platform::amqp::topology::{definitions, full_plan};
use scimsync_platform::Settings;

#[derive(Parser)]
#[command(name = "scimctl", version, about = "Operate a scimsync deployment")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending database migrations.
    Migrate,
    /// Register and list companies (tenants).
    #[command(subcommand)]
    Companies(companies::Command),
    /// Send signed webhooks to ingest.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// The RabbitMQ topology.
    #[command(subcommand)]
    Topology(TopologyCommand),
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Sign a JSON file the way Svix does and POST it to ingest.
    Send(webhook::Send),
}

#[derive(Subcommand)]
enum TopologyCommand {
    /// Print the topology as a RabbitMQ definitions file (exchanges, queues, bindings).
    Export {
        /// Virtual host to write into the definitions.
        #[arg(long, default_value = "/")]
        vhost: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load()?;
    match cli.command {
        Command::Migrate => {
            let db = scimsync_db::connect(&settings.database).await?;
            scimsync_db::migrate(&db).await?;
            println!("migrations applied");
        }
        Command::Companies(command) => companies::run(&settings, command).await?,
        Command::Webhook(WebhookCommand::Send(args)) => webhook::send(&settings, args).await?,
        Command::Topology(TopologyCommand::Export { vhost }) => {
            let plan = full_plan(settings.amqp.delivery_limit);
            println!(
                "{}",
                serde_json::to_string_pretty(&definitions(&plan, &vhost))?
            );
        }
    }
    Ok(())
}
