-- processed_events was created for idempotency keys, but nothing ever wrote or read it:
-- user-upsert's idempotency rests on member_events (keyed by event id), the other workers'
-- on their own timestamps, and the event log's (event_id, concern) key keeps each log row
-- once. An empty table that looks load-bearing misleads whoever reads the schema.
DROP TABLE IF EXISTS processed_events;
