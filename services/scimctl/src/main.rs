use std::process::ExitCode;

use clap::Parser;
use scimsync_platform::Settings;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = scimctl::Cli::parse();
    let result = match Settings::load() {
        Ok(settings) => scimctl::run(&settings, cli.command).await,
        Err(error) => Err(error.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The cause chain on one line, for an operator; no backtrace dump.
            eprintln!(
                "error: {}",
                scimsync_platform::report::chain(error.as_ref())
            );
            ExitCode::FAILURE
        }
    }
}
