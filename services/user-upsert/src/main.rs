use scimsync_platform::{shutdown, telemetry, Settings};

// One thread: the worker waits on PostgreSQL and RabbitMQ round trips, and handing every
// reply between runtime threads cost more CPU (context switches) than the work itself.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let _telemetry = telemetry::init("user-upsert", &settings.telemetry)?;
    scimsync_user_upsert::run(settings, shutdown::on_signal()).await
}
