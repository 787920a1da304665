//! AMQP header names we set. Dead-letter headers are ours (not the broker's `x-death`), so an
//! operator can read why a message failed without knowing RabbitMQ internals.

pub const EVENT_ID: &str = "x-event-id";
pub const EVENT_TYPE: &str = "x-event-type";
pub const ORGANIZATION_ID: &str = "x-organization-id";
/// The company a SCIM-door message belongs to, by its id (the SCIM door knows companies by id;
/// a company of that door may have no Stytch organization).
pub const COMPANY_ID: &str = "x-company-id";
/// How many times a handler has seen this message (1 on first delivery).
pub const ATTEMPTS: &str = "x-attempts";
/// When the first attempt failed transiently (RFC 3339); bounds the retry age.
pub const FIRST_FAILED_AT: &str = "x-first-failed-at";

pub const DL_REASON: &str = "x-dead-letter-reason";
pub const DL_DETAIL: &str = "x-dead-letter-detail";
pub const DL_FAILED_AT: &str = "x-dead-letter-failed-at";
pub const DL_ORIGINAL_EXCHANGE: &str = "x-original-exchange";
pub const DL_ORIGINAL_ROUTING_KEY: &str = "x-original-routing-key";
pub const DL_QUEUE: &str = "x-dead-letter-queue";
/// Set by `scimctl dlq replay` on the copy it puts back to work (RFC 3339).
pub const REPLAYED_AT: &str = "x-replayed-at";
