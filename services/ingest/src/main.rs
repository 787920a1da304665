use scimsync_platform::{shutdown, telemetry, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let _telemetry = telemetry::init("ingest", &settings.telemetry)?;
    let listener = tokio::net::TcpListener::bind(&settings.ingest.listen).await?;
    scimsync_ingest::run(settings, listener, shutdown::on_signal()).await
}
