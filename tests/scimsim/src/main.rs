use std::process::ExitCode;

use clap::Parser;
use scimsync_platform::Settings;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = scimsim::Cli::parse();
    let result = match Settings::load() {
        Ok(settings) => scimsim::run(&settings, cli.command).await,
        Err(error) => Err(error.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!(
                "error: {}",
                scimsync_platform::report::chain(error.as_ref())
            );
            ExitCode::FAILURE
        }
    }
}
