//! Who a scimctl change is recorded as in the audit trail (`admin_audit`, `via: cli`), next to
//! the admin API's and the console's changes: `companies add`, `scim-tokens create|revoke`,
//! `dlq replay|purge` and `event-log prune`. Reads change nothing and are not recorded.
//!
//! The operator is `--actor` (or `SCIMCTL_ACTOR`), else the login name and the host it ran on,
//! e.g. `alice@bastion-1`: scimctl holds the database's and the broker's credentials, so it acts
//! with the operator role.

use anyhow::Context;
use scimsync_db::audit::{Change, Via, Who};
use scimsync_platform::settings::AdminRole;
use sea_orm::ConnectionTrait;

/// The longest operator name kept, in characters.
pub const MAX_ACTOR_CHARS: usize = 128;

/// The person (or job) running scimctl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    name: String,
}

impl Operator {
    /// `given` (from `--actor` or `SCIMCTL_ACTOR`) when there is one, checked; else the login
    /// name and the host.
    pub fn resolve(given: Option<&str>) -> anyhow::Result<Self> {
        match given {
            Some(name) => Self::named(name),
            None => Ok(Self {
                name: format!("{}@{}", login_name(), host_name()),
            }),
        }
    }

    /// An operator by an explicit name: 1 to [`MAX_ACTOR_CHARS`] characters, no control
    /// characters, nothing around it.
    pub fn named(name: &str) -> anyhow::Result<Self> {
        let trimmed = name.trim();
        anyhow::ensure!(
            !trimmed.is_empty(),
            "--actor (SCIMCTL_ACTOR) must name who runs scimctl"
        );
        anyhow::ensure!(
            trimmed.chars().count() <= MAX_ACTOR_CHARS,
            "--actor (SCIMCTL_ACTOR) is longer than {MAX_ACTOR_CHARS} characters"
        );
        anyhow::ensure!(
            !trimmed.chars().any(char::is_control),
            "--actor (SCIMCTL_ACTOR) must not hold control characters"
        );
        Ok(Self {
            name: trimmed.to_owned(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// As the audit trail records this operator's changes.
    pub fn who(&self) -> Who<'_> {
        Who {
            name: &self.name,
            role: AdminRole::Operator,
            via: Via::Cli,
        }
    }

    /// Records `change` as this operator's, on `conn` (the change's transaction where it has
    /// one).
    pub async fn record(
        &self,
        conn: &impl ConnectionTrait,
        change: Change<'_>,
    ) -> anyhow::Result<()> {
        let action = change.action;
        scimsync_db::audit::record(conn, self.who(), change)
            .await
            .with_context(|| format!("recording {action} in the audit trail"))
    }
}

/// The login name: the one sudo was run by, else the session's, else the process's user as
/// /etc/passwd names it (a container's exec has no session), else `uid-N`.
fn login_name() -> String {
    ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .map(|name| clean(&name))
        .find(|name| !name.is_empty())
        .or_else(user_of_process)
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The effective user of this process, by name when /etc/passwd has it.
fn user_of_process() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .to_owned();
    let named = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|entry| {
                let mut fields = entry.split(':');
                let name = fields.next()?;
                (fields.nth(1)? == uid).then(|| clean(name))
            })
        });
    Some(
        named
            .filter(|n| !n.is_empty())
            .unwrap_or(format!("uid-{uid}")),
    )
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| clean(&name))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// At most 60 characters of `text` with no control characters or spaces.
fn clean(text: &str) -> String {
    text.trim()
        .chars()
        .filter(|c| !c.is_control() && !c.is_whitespace())
        .take(60)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_name_is_trimmed_and_bounded() {
        assert_eq!(
            Operator::named("  alice ").map(|o| o.name).ok(),
            Some("alice".into())
        );
        assert!(Operator::named("   ").is_err());
        assert!(Operator::named(&"a".repeat(MAX_ACTOR_CHARS + 1)).is_err());
        assert!(Operator::named(&"a".repeat(MAX_ACTOR_CHARS)).is_ok());
        assert!(Operator::named("eve\nforged line").is_err());
    }

    #[test]
    fn the_process_user_is_named_from_passwd() {
        let name = user_of_process().unwrap_or_default();
        // Whoever runs the suite (root in CI, a person on a laptop) is in /etc/passwd.
        assert!(!name.is_empty() && !name.starts_with("uid-"), "{name:?}");
    }

    #[test]
    fn without_a_name_the_login_and_host_are_used() {
        let operator = Operator::resolve(None).map(|o| o.name).unwrap_or_default();
        let (login, host) = operator.split_once('@').unwrap_or_default();
        assert!(!login.is_empty() && !host.is_empty(), "{operator:?}");
        assert!(operator.chars().count() <= MAX_ACTOR_CHARS, "{operator:?}");
    }
}
