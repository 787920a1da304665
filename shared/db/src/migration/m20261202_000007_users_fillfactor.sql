-- A user record is written several times in its first seconds: created by user-upsert, then its
-- activity and level refreshed by user-upsert and group-resolver, its manager set by
-- manager-linker, its manager's level refreshed. Of these only the manager is an indexed column,
-- so the refreshes can be heap-only updates (HOT), which write no index entry, when the record's
-- page has room for the new version. With pages filled to the brim by the inserts, about 3,800
-- of the 14,000 updates of a 5,000-member first sync were HOT, and each of the others wrote an
-- entry into all eight of the table's indexes. Inserts now leave 40% of each page free; then
-- about 8,200 are (docs/benchmarks.md, "Room for the updates"). Pages written before this keep
-- their rows as they are until vacuum frees room in them.
ALTER TABLE users SET (fillfactor = 60);
