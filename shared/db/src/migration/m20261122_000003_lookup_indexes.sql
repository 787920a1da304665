-- Lookups of a user by an identity provider key (manager values, R13; matching, R1) go through
-- an index led by the key, not by the company. A company's first sync is the case that matters:
-- before ANALYZE has seen the new company, the planner believes it has one row and, given an
-- index led by company_id, walks every user of the company for each lookup, which makes a
-- first sync quadratic. The workers' queries look the key up first and filter on the company
-- afterwards, so these indexes serve both the global and the per-company lookups.
DROP INDEX IF EXISTS users_company_external;
DROP INDEX IF EXISTS users_company_scim_id;
CREATE INDEX IF NOT EXISTS users_external_company ON users (external_id, company_id) WHERE external_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS users_scim_id_company ON users (scim_id, company_id) WHERE scim_id IS NOT NULL;
-- Pending manager links by the value they wait for, for the same reason.
DROP INDEX IF EXISTS manager_links_awaiting;
DROP INDEX IF EXISTS manager_links_pending;
CREATE INDEX IF NOT EXISTS manager_links_awaiting_value ON manager_links (manager_value, company_id) WHERE status = 'pending';
