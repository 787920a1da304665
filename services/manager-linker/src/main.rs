use scimsync_platform::{shutdown, telemetry, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let _telemetry = telemetry::init("manager-linker", &settings.telemetry)?;
    scimsync_manager_linker::run(settings, shutdown::on_signal()).await
}
