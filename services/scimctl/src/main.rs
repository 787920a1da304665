use std::process::ExitCode;

use clap::Parser;
use scimsync_platform::Settings;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = scimctl::Cli::parse();
    let result = match (
        Settings::load(),
        scimctl::audit::Operator::resolve(cli.actor.as_deref()),
    ) {
        (Ok(settings), Ok(operator)) => scimctl::run(&settings, &operator, cli.command).await,
        (Err(error), _) => Err(error.into()),
        (_, Err(error)) => Err(error),
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
