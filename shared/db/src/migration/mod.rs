//! Versioned migrations, run by `scimctl migrate` (or the Kubernetes migration Job), never by
//! every replica at start-up.

// async_trait expands these signatures itself and needs the elided form.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(Initial),
            Box::new(Groups),
            Box::new(LookupIndexes),
            Box::new(KeptMessages),
            Box::new(OrgAttributeEntries),
            Box::new(LinksByValue),
            Box::new(UsersFillfactor),
            Box::new(EventLogByTime),
            Box::new(DropProcessedEvents),
            Box::new(TenantKeys),
            Box::new(EventLogByReceiveTime),
            Box::new(ScimDirectory),
            Box::new(Console),
            Box::new(AuditCli),
        ]
    }
}

/// A migration that is one SQL file of this folder, named after it.
macro_rules! sql_migration {
    ($ty:ident, $name:literal) => {
        struct $ty;

        impl MigrationName for $ty {
            fn name(&self) -> &str {
                $name
            }
        }

        #[sea_orm_migration::async_trait::async_trait]
        impl MigrationTrait for $ty {
            async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
                manager
                    .get_connection()
                    .execute_unprepared(include_str!(concat!($name, ".sql")))
                    .await?;
                Ok(())
            }
        }
    };
}

sql_migration!(Initial, "m20261122_000001_initial");
sql_migration!(Groups, "m20261122_000002_groups");
sql_migration!(LookupIndexes, "m20261122_000003_lookup_indexes");
sql_migration!(KeptMessages, "m20261201_000004_kept_messages");
sql_migration!(
    OrgAttributeEntries,
    "m20261201_000005_org_attribute_entries"
);
sql_migration!(LinksByValue, "m20261202_000006_links_by_value");
sql_migration!(UsersFillfactor, "m20261202_000007_users_fillfactor");
sql_migration!(EventLogByTime, "m20261204_000008_event_log_by_time");
sql_migration!(
    DropProcessedEvents,
    "m20261204_000009_drop_processed_events"
);
sql_migration!(TenantKeys, "m20261207_000010_tenant_keys");
sql_migration!(
    EventLogByReceiveTime,
    "m20261207_000011_event_log_by_receive_time"
);
sql_migration!(ScimDirectory, "m20261207_000012_scim_directory");
sql_migration!(Console, "m20261207_000013_console");
sql_migration!(AuditCli, "m20261207_000014_audit_cli");
