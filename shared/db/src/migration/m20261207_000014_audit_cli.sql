-- The operator CLI's changes join the audit trail: `scimctl companies add`, `scim-tokens
-- create|revoke`, `dlq replay|purge` and `event-log prune` are recorded like the admin API's and
-- the console's, through a third face, `cli`.
ALTER TABLE admin_audit DROP CONSTRAINT admin_audit_via_check;
ALTER TABLE admin_audit ADD CONSTRAINT admin_audit_via_check CHECK (via IN ('api', 'console', 'cli'));
