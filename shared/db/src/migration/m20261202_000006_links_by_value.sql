-- manager-linker finds the pending links a new user completes by the value they wait for. That
-- lookup used a partial index (status = 'pending'), and so was exposed to the planner's view of
-- how many links are pending. In a first sync that view is stale: the last ANALYZE saw none, so
-- every partial index on 'pending' looked empty, and the planner read all pending links (through
-- the smaller manager_links_pending_since) once per batch. The lookup now goes through an index
-- on the value alone and checks the status afterwards, which no statistic can turn into a walk.
CREATE INDEX IF NOT EXISTS manager_links_by_value ON manager_links (manager_value, company_id);
DROP INDEX IF EXISTS manager_links_awaiting_value;
