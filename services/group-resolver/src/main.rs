use scimsync_platform::{shutdown, telemetry, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let _telemetry = telemetry::init("group-resolver", &settings.telemetry)?;
    scimsync_group_resolver::run(settings, shutdown::on_signal()).await
}
