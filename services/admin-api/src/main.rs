use scimsync_platform::{shutdown, telemetry, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let _telemetry = telemetry::init("admin-api", &settings.telemetry)?;
    let listener = tokio::net::TcpListener::bind(&settings.admin.listen).await?;
    scimsync_admin_api::run(settings, listener, shutdown::on_signal()).await
}
