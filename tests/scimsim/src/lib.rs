//! `scimsim`: plays identity providers provisioning an organisation through scimsync (Stytch's
//! webhooks, or the SCIM door as Entra does), checks the product against the generated truth,
//! and benchmarks the running system. A tool for `make demo`, `make drill`, `make bench` and
//! the tests, kept out of the operator CLI that ships in the image.

pub mod bench;
pub mod simulate;

use clap::{Parser, Subcommand};
use scimsync_platform::Settings;

#[derive(Parser)]
#[command(
    name = "scimsim",
    version,
    about = "Simulate identity providers against scimsync; benchmark it"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Simulate an identity provider syncing a generated organisation; check the result.
    Simulate(simulate::Args),
    /// Measure throughput, latency, time to converge and memory against the running system.
    Bench(bench::Args),
}

pub async fn run(settings: &Settings, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Simulate(args) => simulate::run(settings, args).await,
        Command::Bench(args) => bench::run(settings, args).await,
    }
}
