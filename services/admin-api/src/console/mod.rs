//! The console: the admin API for people, as server-rendered pages at `/`.
//!
//! Pages are HTML rendered from maud templates compiled into the binary, with one stylesheet
//! and one small script embedded too ([`assets`]): nothing is fetched from elsewhere, and
//! every page works without the script (it only adds a copy button). Every answer carries a
//! strict Content-Security-Policy ([`headers`]). Every page and asset needs a session
//! ([`session`]), every form its session's CSRF token, and only operators change anything
//! ([`guard`]); the sign-in form is the one page open to all.

pub mod assets;
pub mod audit;
pub mod chart;
pub mod companies;
pub mod company;
pub mod dead_letters;
pub mod events;
pub mod failure;
pub mod groups;
pub mod guard;
pub mod headers;
pub mod layout;
pub mod session;
pub mod sign_in;
pub mod users;

use axum::response::Redirect;
use axum::routing::{get, post};
use axum::{middleware, Router};
use scimsync_platform::Settings;

use crate::SharedState;

/// Whether the console's cookies carry `Secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecureCookies {
    /// When the request came over TLS, as the proxy in front says (`X-Forwarded-Proto`).
    Auto,
    Always,
    Never,
}

/// The console's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub session_ttl: std::time::Duration,
    pub secure_cookies: SecureCookies,
    /// Where identity providers reach the SCIM door: `<scim public url>/scim/v2`; `None` when
    /// no public URL is set and the SCIM service listens on every interface (in a container),
    /// an address that names no host anyone could reach.
    pub scim_tenant_url: Option<String>,
}

impl Config {
    pub fn from_settings(settings: &Settings) -> Self {
        let public = settings.scim.public_url.trim().trim_end_matches('/');
        let base = if !public.is_empty() {
            Some(public.to_owned())
        } else {
            // Local development: the SCIM service's own address, when it names a host.
            match settings.scim.listen.parse::<std::net::SocketAddr>() {
                Ok(address) if address.ip().is_unspecified() => None,
                _ => Some(format!("http://{}", settings.scim.listen)),
            }
        };
        Self {
            session_ttl: std::time::Duration::from_secs(settings.admin.session_ttl_secs),
            secure_cookies: match settings.admin.secure_cookies.as_str() {
                "always" => SecureCookies::Always,
                "never" => SecureCookies::Never,
                _ => SecureCookies::Auto,
            },
            scim_tenant_url: base.map(|base| format!("{base}/scim/v2")),
        }
    }

    pub fn session_ttl_secs(&self) -> i64 {
        i64::try_from(self.session_ttl.as_secs()).unwrap_or(i64::MAX)
    }
}

/// Every console route. Only `/sign-in` is open; the rest pass [`guard::require_session`].
pub fn router(state: SharedState) -> Router<SharedState> {
    let guarded = Router::new()
        .route("/", get(|| async { Redirect::to("/companies") }))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/assets/{name}", get(assets::serve))
        .route("/companies", get(companies::page).post(companies::register))
        .route(
            "/companies/{company_id}",
            get(company::page).post(company::edit),
        )
        .route(
            "/companies/{company_id}/tokens",
            post(company::create_token),
        )
        .route(
            "/companies/{company_id}/tokens/{token_id}/revoke",
            post(company::revoke_token),
        )
        .route("/companies/{company_id}/users", get(users::list))
        .route("/companies/{company_id}/users/{user_id}", get(users::page))
        .route(
            "/companies/{company_id}/users/{user_id}/clear-manager",
            post(users::clear_manager),
        )
        .route("/companies/{company_id}/groups", get(groups::page))
        .route(
            "/companies/{company_id}/groups/{group_id}/level",
            post(groups::set_level),
        )
        .route(
            "/companies/{company_id}/groups/{group_id}/automations",
            post(groups::add_automation),
        )
        .route(
            "/companies/{company_id}/groups/{group_id}/automations/{automation_id}/delete",
            post(groups::delete_automation),
        )
        .route("/companies/{company_id}/events", get(events::page))
        .route("/audit", get(audit::page))
        .route("/dead-letters", get(dead_letters::page))
        .route("/dead-letters/show", get(dead_letters::show))
        .route("/dead-letters/replay", post(dead_letters::replay))
        .route("/dead-letters/purge", post(dead_letters::purge))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::require_session,
        ));
    Router::new()
        .route("/sign-in", get(sign_in::form).post(sign_in::sign_in))
        .merge(guarded)
        .layer(middleware::from_fn(headers::secure_page))
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Config::from_settings(&Settings::load_from(vars).expect("settings"))
    }

    #[test]
    fn the_tenant_url_is_the_public_url_or_a_listen_address_a_browser_can_reach() {
        assert_eq!(
            config(&[("SCIMSYNC__SCIM__PUBLIC_URL", "https://scim.example.com/")]).scim_tenant_url,
            Some("https://scim.example.com/scim/v2".to_owned())
        );
        assert_eq!(
            config(&[("SCIMSYNC__SCIM__LISTEN", "127.0.0.1:8082")]).scim_tenant_url,
            Some("http://127.0.0.1:8082/scim/v2".to_owned())
        );
        // In a container the service listens on every interface: that address names no host
        // an identity provider could reach, so the console says to set the public URL instead.
        for listen in ["0.0.0.0:8082", "[::]:8082"] {
            assert_eq!(
                config(&[("SCIMSYNC__SCIM__LISTEN", listen)]).scim_tenant_url,
                None,
                "{listen}"
            );
        }
    }
}
