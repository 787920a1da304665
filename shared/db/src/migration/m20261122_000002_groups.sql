-- Activity has two owners: the member's own events (scim_active, folded by user-upsert) and its
-- group memberships (groups_lost_at, derived by group-resolver: R9 c/d). `active` is the
-- combination, recomputed by whichever worker changes an input.
ALTER TABLE users
    ADD COLUMN scim_active boolean NOT NULL DEFAULT true,
    ADD COLUMN scim_deactivated_at timestamptz,
    ADD COLUMN groups_lost_at timestamptz;

-- The newest full-state group list seen in a member event: a membership event older than it
-- cannot re-add a group the list no longer names (R17).
CREATE TABLE member_group_lists (
    company_id        uuid NOT NULL REFERENCES companies(id),
    stytch_member_id  text NOT NULL,
    version           timestamptz NOT NULL,
    group_ids         text[] NOT NULL,
    PRIMARY KEY (company_id, stytch_member_id)
);

-- Manager links are keyed by member, not user: a report's manager value often arrives before
-- the report's own record (and before the manager's). The table from the first migration was
-- never written to.
DROP TABLE manager_links;
CREATE TABLE manager_links (
    company_id        uuid NOT NULL REFERENCES companies(id),
    stytch_member_id  text NOT NULL,
    -- The manager value last seen from SCIM (R15: a local clear sticks until it changes).
    manager_value     text NOT NULL,
    event_timestamp   timestamptz NOT NULL,
    -- The event that brought this value: its event-log row is updated when the link resolves.
    event_id          text NOT NULL,
    event_type        text NOT NULL,
    received_at       timestamptz NOT NULL,
    status            text NOT NULL
                      CHECK (status IN ('pending', 'linked', 'cleared_locally', 'skipped_circular', 'not_found')),
    first_seen_at     timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (company_id, stytch_member_id)
);
CREATE INDEX manager_links_awaiting ON manager_links (company_id, manager_value) WHERE status = 'pending';
