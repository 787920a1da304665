//! Versioned migrations, run by `scimctl migrate` (or the Kubernetes migration Job), never by
//! every replica at start-up.

// async_trait expands these signatures itself and needs the elided form.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(Initial), Box::new(Groups), Box::new(LookupIndexes)]
    }
}

struct Initial;

impl MigrationName for Initial {
    fn name(&self) -> &str {
        "m20261122_000001_initial"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Initial {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(include_str!("m20261122_000001_initial.sql"))
            .await?;
        Ok(())
    }
}

struct Groups;

impl MigrationName for Groups {
    fn name(&self) -> &str {
        "m20261122_000002_groups"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Groups {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(include_str!("m20261122_000002_groups.sql"))
            .await?;
        Ok(())
    }
}

struct LookupIndexes;

impl MigrationName for LookupIndexes {
    fn name(&self) -> &str {
        "m20261122_000003_lookup_indexes"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for LookupIndexes {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(include_str!("m20261122_000003_lookup_indexes.sql"))
            .await?;
        Ok(())
    }
}
