//! A real browser for the console's tests: Debian's headless Chromium, driven over WebDriver
//! by chromedriver (both installed by `deploy/local/infra.sh install`), from Rust with
//! fantoccini. Each browser has a fresh profile of its own, removed when it closes, and the
//! flags that keep Chromium from reaching out to the network it does not need.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::process::{Child, Command};

use crate::wait::wait_until;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The two widths every page is looked at: a laptop and a phone.
pub const DESKTOP: u32 = 1280;
pub const PHONE: u32 = 390;

pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    pub async fn start() -> Self {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: run `deploy/local/infra.sh install` (Debian's chromium and chromium-driver)"
            );
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, which the Chromium it starts joins: dropping the browser
            // ends the whole group (see Drop), so a test that fails midway leaves none running.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let profile = std::env::temp_dir().join(format!(
            "scimsync-chromium-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&profile).expect("profile dir");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        wait_until(
            "chromedriver to answer",
            Duration::from_secs(30),
            || async {
                let r = http.get(format!("{url}/status")).send().await.ok()?;
                r.status().is_success().then_some(())
            },
        )
        .await;
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--hide-scrollbars", "--force-device-scale-factor=1",
                    format!("--window-size={DESKTOP},900"),
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&url)
            .await
            .expect("a WebDriver session");
        Self {
            client,
            driver,
            profile,
        }
    }

    /// Opens a page of the console.
    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("open page");
    }

    /// The page's text. Read by one script rather than finding the body and then asking its
    /// text: a page that loads in between (after a click) would leave a stale body behind.
    pub async fn text(&self) -> String {
        self.eval("return document.body ? document.body.innerText : '';")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the page's text holds `wanted`, reloading it between looks (the page shows
    /// what the workers did, which takes a moment).
    pub async fn wait_for_text(&self, wanted: &str) {
        wait_until(
            &format!("{wanted:?} on the page"),
            crate::app::DEADLINE,
            || async {
                let text = self.text().await;
                if text.contains(wanted) {
                    return Some(());
                }
                self.client.refresh().await.ok()?;
                None
            },
        )
        .await;
    }

    /// Fills a form field found by CSS.
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.client.find(Locator::Css(css)).await.expect(css);
        field.clear().await.ok();
        field.send_keys(value).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .expect(css)
            .click()
            .await
            .expect("click");
    }

    /// Whether anything matches `css`.
    pub async fn has(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find")
            .is_empty()
    }

    /// Runs a script in the page and returns its value.
    pub async fn eval(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, Vec::new())
            .await
            .expect("script")
    }

    /// Sizes the window to `width` and the page's height, and saves a PNG of the whole page.
    pub async fn screenshot(&self, dir: &Path, name: &str, width: u32) {
        self.client
            .set_window_size(width, 900)
            .await
            .expect("resize");
        // The window is taller than the page's viewport by the browser's own bars (about 140
        // px even headless): the viewport, which is what the screenshot shows, must get the
        // page's whole height.
        let sizes = self
            .eval(
                "return [window.outerHeight - window.innerHeight, \
                 document.documentElement.scrollHeight];",
            )
            .await;
        let bars = sizes[0].as_u64().unwrap_or(0);
        let height = sizes[1].as_u64().unwrap_or(900).clamp(600, 6000) + bars;
        self.client
            .set_window_size(width, u32::try_from(height).unwrap_or(900))
            .await
            .expect("resize");
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::create_dir_all(dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}-{width}.png")), png).expect("write screenshot");
    }

    /// The session cookie the browser holds, as `name=value`.
    pub async fn session_cookie(&self) -> String {
        let cookie = self
            .client
            .get_named_cookie("scimsync_session")
            .await
            .expect("session cookie");
        format!("{}={}", cookie.name(), cookie.value())
    }

    /// The browser's profile folder, removed when it closes.
    pub fn profile(&self) -> &Path {
        &self.profile
    }

    /// Ends the WebDriver session (Chromium quits), then the rest as any drop does.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    /// Kills chromedriver's process group, Chromium's processes included, and removes the
    /// profile. Killing chromedriver alone would leave Chromium running, orphaned, whenever a
    /// test panics before `close`.
    fn drop(&mut self) {
        if let Some(group) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{group}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
