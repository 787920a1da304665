use scimsync_platform::{shutdown, telemetry, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let _telemetry = telemetry::init("scim", &settings.telemetry)?;
    let listener = tokio::net::TcpListener::bind(&settings.scim.listen).await?;
    scimsync_scim::run(settings, listener, shutdown::on_signal()).await
}
