//! Default groups are recognised by display name, case-insensitively; names are configurable.

use scimsync_platform::settings::GroupSettings;

#[derive(Debug, Clone)]
pub struct DefaultGroups {
    admin: String,
    full_access: String,
}

impl From<&GroupSettings> for DefaultGroups {
    fn from(settings: &GroupSettings) -> Self {
        Self {
            admin: settings.admin_group.trim().to_lowercase(),
            full_access: settings.full_access_group.trim().to_lowercase(),
        }
    }
}

impl DefaultGroups {
    /// `default_admin`, `default_full_access` or `custom`.
    pub fn kind(&self, display_name: Option<&str>) -> &'static str {
        match display_name.map(|n| n.trim().to_lowercase()) {
            Some(n) if n == self.admin => "default_admin",
            Some(n) if n == self.full_access => "default_full_access",
            _ => "custom",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_groups_match_case_insensitively() {
        let names = DefaultGroups::from(&GroupSettings {
            admin_group: "SkillsdbGlobalAdmins".into(),
            full_access_group: "SkillsdbFullAccess".into(),
        });
        assert_eq!(names.kind(Some("skillsdbglobaladmins")), "default_admin");
        assert_eq!(
            names.kind(Some(" SKILLSDBFULLACCESS ")),
            "default_full_access"
        );
        assert_eq!(names.kind(Some("Engineering")), "custom");
        assert_eq!(names.kind(None), "custom");
    }
}
