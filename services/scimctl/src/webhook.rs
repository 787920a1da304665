//! `scimctl webhook send`: signs a JSON file the way Svix does and posts it to ingest. For
//! trying the system by hand and for scripted checks.

use std::path::PathBuf;

use clap::Args;
use scimsync_platform::Settings;
use secrecy::ExposeSecret;

#[derive(Args)]
pub struct Send {
    /// The webhook body (a Stytch event as JSON).
    pub file: PathBuf,
    /// Where ingest listens.
    #[arg(long, default_value = "http://127.0.0.1:8080/webhooks/stytch")]
    pub url: String,
    /// Signing secret; defaults to the first of SCIMSYNC__INGEST__WEBHOOK_SECRETS.
    #[arg(long, env = "SCIMSYNC_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Svix message id; a fresh one by default.
    #[arg(long)]
    pub svix_id: Option<String>,
    /// Replace `event_id` and `timestamp` with fresh values, so the file can be sent again.
    #[arg(long)]
    pub fresh: bool,
}

pub async fn send(settings: &Settings, args: Send) -> anyhow::Result<()> {
    let raw = std::fs::read(&args.file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
    let body = if args.fresh {
        let mut value: serde_json::Value = serde_json::from_slice(&raw)?;
        let now = chrono::Utc::now();
        value["event_id"] = format!("event-{}", uuid::Uuid::new_v4()).into();
        value["timestamp"] = now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string().into();
        serde_json::to_vec(&value)?
    } else {
        raw
    };
    let secret = match args.secret {
        Some(secret) => secret,
        None => settings
            .ingest
            .secrets()
            .first()
            .map(|s| s.expose_secret().to_owned())
            .ok_or_else(|| anyhow::anyhow!("no signing secret configured"))?,
    };
    let id = args
        .svix_id
        .unwrap_or_else(|| format!("msg_{}", uuid::Uuid::new_v4().simple()));
    let timestamp = chrono::Utc::now().timestamp();
    let signature = scimsync_platform::svix::sign(&secret, &id, timestamp, &body)
        .ok_or_else(|| anyhow::anyhow!("the secret is not a valid whsec_ secret"))?;
    let response = reqwest::Client::new()
        .post(&args.url)
        .header("svix-id", &id)
        .header("svix-timestamp", timestamp.to_string())
        .header("svix-signature", signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    let status = response.status();
    println!("{status} {}", response.text().await.unwrap_or_default());
    anyhow::ensure!(status.is_success(), "ingest refused the webhook");
    Ok(())
}
