//! One sea-orm entity per table.

pub mod career_automation;
pub mod company;
pub mod manager_link;
pub mod member_event;
pub mod member_group_list;
pub mod org_schema_entry;
pub mod scim_event_log;
pub mod scim_group;
pub mod scim_group_membership;
pub mod scim_token;
pub mod unclaimed_member_event;
pub mod user;
pub mod user_org_attribute;
