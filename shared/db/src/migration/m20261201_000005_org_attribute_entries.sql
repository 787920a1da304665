-- user_org_attributes.entry_id references org_schema_entries without an index of its own, so
-- deleting an entry checked that foreign key by reading every user's attributes, once per
-- deleted entry. Deleting a company's entries (the benchmark's clean-up after each run) took
-- 100 s on a database of a few hundred thousand users.
CREATE INDEX IF NOT EXISTS user_org_attributes_entry ON user_org_attributes (entry_id);
