//! manager-linker's own settings (the `[manager]` section): how long a manager value may wait
//! for its manager (R13) and how often the sweep looks again. They live with the service that
//! reads them, and keep their names: `SCIMSYNC__MANAGER__...` in the environment, `[manager]` in
//! the settings file.

use std::time::Duration;

use scimsync_platform::settings::{Settings, SettingsError};
use serde::Deserialize;

/// The section's defaults, each documented there.
pub const DEFAULTS: &str = include_str!("defaults.toml");

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ManagerSettings {
    pub max_pending_age_secs: u64,
    pub pending_retry_secs: u64,
}

impl ManagerSettings {
    /// The section as `settings` was loaded: these defaults, then the file, then the environment.
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        settings.section("manager", DEFAULTS)
    }

    pub fn max_pending_age(&self) -> Duration {
        Duration::from_secs(self.max_pending_age_secs)
    }

    pub fn pending_retry(&self) -> Duration {
        Duration::from_secs(self.pending_retry_secs)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> ManagerSettings {
        let vars = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let settings = Settings::load_from(vars).expect("valid settings");
        ManagerSettings::from_settings(&settings).expect("valid manager settings")
    }

    #[test]
    fn the_defaults_wait_seven_days_and_sweep_every_two_minutes() {
        assert_eq!(
            load(&[]),
            ManagerSettings {
                max_pending_age_secs: 604_800,
                pending_retry_secs: 120,
            }
        );
    }

    #[test]
    fn the_environment_keeps_its_scimsync_manager_names() {
        let got = load(&[
            ("SCIMSYNC__MANAGER__MAX_PENDING_AGE_SECS", "60"),
            ("SCIMSYNC__MANAGER__PENDING_RETRY_SECS", "7"),
        ]);
        assert_eq!(got.max_pending_age(), Duration::from_secs(60));
        assert_eq!(got.pending_retry(), Duration::from_secs(7));
    }

    #[test]
    fn a_value_of_the_wrong_type_is_refused() {
        let vars = [("SCIMSYNC__MANAGER__PENDING_RETRY_SECS", "soon")]
            .map(|(k, v)| (k.to_string(), v.to_string()));
        let settings = Settings::load_from(vars).expect("the shared sections are valid");
        assert!(ManagerSettings::from_settings(&settings).is_err());
    }
}
