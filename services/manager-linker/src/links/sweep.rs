//! The sweep's transaction: pending links looked at again from the database, given up past
//! the age limit with their kept message dead-lettered (the loop is `crate::sweep`).

use scimsync_db::access;
use scimsync_db::entity::manager_link;
use scimsync_platform::amqp::{dead_letter_kept, Publisher};
use scimsync_schema::DeadLetterReason;
use sea_orm::{DatabaseTransaction, TransactionTrait};

use super::settle::key;
use super::{stored, waiting, Key};
use super::{Attempt, By, Linker};
use uuid::Uuid;

impl Linker<'_> {
    /// One look at up to `limit` pending links last looked at before `before`, in one
    /// transaction: settled if both their ends exist now (an announcement was missed), given up
    /// past the age limit (their kept message dead-lettered with reason `manager_not_found`,
    /// confirmed before the commit), the others marked as looked at now.
    pub async fn sweep(
        &self,
        publisher: &Publisher,
        before: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> anyhow::Result<Swept> {
        let due = waiting::due(self.db, before, limit).await?;
        if due.is_empty() {
            return Ok(Swept::default());
        }
        let txn = self.db.begin().await?;
        let mut managers = Vec::new();
        match self
            .sweep_within(&txn, publisher, &due, before, &mut managers)
            .await
        {
            Ok(mut swept) => {
                txn.commit().await?;
                self.refresh_managers(&managers).await;
                swept.due = due.len();
                Ok(swept)
            }
            Err(error) => {
                let _ = txn.rollback().await;
                Err(error)
            }
        }
    }

    async fn sweep_within(
        &self,
        txn: &DatabaseTransaction,
        publisher: &Publisher,
        due: &[Key],
        before: chrono::DateTime<chrono::Utc>,
        managers: &mut Vec<Uuid>,
    ) -> anyhow::Result<Swept> {
        access::lock_concern_of(txn, crate::CONCERN, due).await?;
        let mut locked = stored::links_for_update(txn, due).await?;
        // Another replica's sweep, or an event, may have got there first.
        let links: Vec<manager_link::Model> = due
            .iter()
            .filter_map(|key| locked.remove(key))
            .filter(|l| l.status == "pending" && l.updated_at < before)
            .map(|mut l| {
                l.updated_at = self.now;
                l
            })
            .collect();
        let expired: Vec<Key> = links
            .iter()
            .filter(|l| self.expired(l))
            .map(|l| key(l.company_id, &l.stytch_member_id))
            .collect();
        let kept = waiting::kept(txn, &expired).await?;
        let attempts = self
            .settle_all(
                txn,
                links.iter().map(|l| (l.clone(), By::Sweep)).collect(),
                true,
                managers,
            )
            .await?;
        let mut swept = Swept::default();
        for (link, attempt) in links.iter().zip(&attempts) {
            match attempt {
                Attempt::Pending { .. } => {}
                Attempt::GaveUp { .. } => {
                    swept.given_up += 1;
                    let detail = format!(
                        "no user of the company matched manager value {:?} within {:?}",
                        link.manager_value, self.max_pending_age
                    );
                    match kept.get(&key(link.company_id, &link.stytch_member_id)) {
                        Some(message) => {
                            dead_letter_kept(
                                publisher,
                                crate::CONCERN.queue().name,
                                message.as_kept(),
                                DeadLetterReason::ManagerNotFound,
                                &detail,
                            )
                            .await?;
                        }
                        None => tracing::warn!(
                            event_id = %link.event_id, %detail,
                            "gave up on a link that kept no message: nothing to dead-letter"
                        ),
                    }
                }
                _ => swept.settled += 1,
            }
        }
        Ok(swept)
    }
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Pending links due for a look.
    pub due: usize,
    /// Linked, or skipped as circular, now.
    pub settled: usize,
    /// Past the age limit: dead-lettered.
    pub given_up: usize,
}
