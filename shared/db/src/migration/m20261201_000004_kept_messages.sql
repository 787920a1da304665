-- A link left pending keeps the message of the event that set its value, and manager-linker's
-- sweep looks at pending links again from the database. The message is what the sweep
-- dead-letters (manager_not_found, R13) once the age limit passes; before, every pending link
-- parked its message on the broker's delay tiers for that, one message per link, almost all of
-- them returning only to find their link settled long before by a wake-up.
ALTER TABLE manager_links ADD COLUMN IF NOT EXISTS message jsonb;
-- The sweep takes the pending links it last looked at longest ago.
CREATE INDEX IF NOT EXISTS manager_links_pending_since ON manager_links (updated_at) WHERE status = 'pending';
