use scimsync_platform::{shutdown, telemetry, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let _telemetry = telemetry::init("user-upsert", &settings.telemetry)?;
    scimsync_user_upsert::run(settings, shutdown::on_signal()).await
}
