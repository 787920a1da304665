//! Why a message was dead-lettered (SPEC A3, A6): the `x-dead-letter-reason` header the workers
//! set, the `reason` label of the dead-letter metric, and what `scimctl dlq` lists and filters
//! by. The strings are the ones in dead-letter queues since the first release.

use crate::names::names;

names! {
    /// A dead letter's reason.
    pub enum DeadLetterReason {
        /// Not a scimsync queue message at all.
        Undecodable = "undecodable",
        /// A message of ours whose event breaks the wire contract (checked again past the queue).
        SchemaViolation = "schema_violation",
        /// A message kind the worker does not handle.
        UnexpectedMessage = "unexpected_message",
        /// An event type the worker's queue should not have been bound to.
        UnexpectedEventType = "unexpected_event_type",
        /// R2: no company is registered for the event's organisation (replay once it is).
        UnknownOrganization = "unknown_organization",
        /// The event cannot be applied as sent (it names no member).
        InvalidEvent = "invalid_event",
        /// PostgreSQL refused one of the event's values.
        UnstorableValue = "unstorable_value",
        /// R13: no user matched the manager value within the age limit.
        ManagerNotFound = "manager_not_found",
        /// Transient failures went on past `worker.retry_max_age_secs`.
        RetriesExhausted = "retries_exhausted",
        /// Set by RabbitMQ, not by a worker: the message crashed its handler more often than the
        /// quorum queue's delivery limit.
        DeliveryLimit = "delivery_limit",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_keep_the_strings_in_dead_letter_queues() {
        assert_eq!(
            DeadLetterReason::UnknownOrganization.as_str(),
            "unknown_organization"
        );
        assert_eq!(
            DeadLetterReason::parse("manager_not_found"),
            Some(DeadLetterReason::ManagerNotFound)
        );
        assert_eq!(DeadLetterReason::DeliveryLimit.as_str(), "delivery_limit");
    }
}
