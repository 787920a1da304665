-- The direct SCIM door (SPEC §1, §7): the scim service is the SCIM protocol's system of record
-- for companies that provision straight from their identity provider. It keeps the SCIM
-- resources as the IdP sent them, with the ids it assigns and their versions, and hands each
-- change to the workers through a transactional outbox. The product's records stay the
-- workers' (R1-R17).

-- A company no longer needs a Stytch organisation: one that provisions only through the SCIM
-- door has none.
ALTER TABLE companies ALTER COLUMN stytch_organization_id DROP NOT NULL;

-- A token's last use, recorded at most once a minute per token by the scim service.
ALTER TABLE scim_tokens ADD COLUMN last_used_at timestamptz;

-- The door each event-log row came through: `stytch` (webhooks) or `scim` (the SCIM service).
ALTER TABLE scim_event_log ADD COLUMN door text NOT NULL DEFAULT 'stytch'
    CHECK (door IN ('stytch', 'scim'));

-- A user's member key: the id its door gives it. Stytch members are known by their Stytch
-- member id; a member of the SCIM door by the SCIM id this service assigned, written
-- `scim:<id>` so the two namespaces never meet. The workers' tables (stored events, group
-- memberships, manager links) key members by it.
-- A user record never has both door's ids for one member: a Stytch member's `scim_id` is its
-- IdP's id as Stytch reports it, and it has a Stytch member id, which comes first.
ALTER TABLE users ADD COLUMN member_key text GENERATED ALWAYS AS (
    COALESCE(stytch_member_id, 'scim:' || scim_id)) STORED;
CREATE UNIQUE INDEX users_company_member_key ON users (company_id, member_key)
    WHERE member_key IS NOT NULL;
CREATE INDEX users_member_key ON users (member_key) WHERE member_key IS NOT NULL;

-- SCIM resources, per company. `resource` is the resource as stored, with canonical attribute
-- names and without `id`, `meta` or (groups) `members`, which have columns and a table of
-- their own. `version` is the ETag (W/"<version>"), bumped by every change.
CREATE TABLE directory_users (
    id             uuid PRIMARY KEY,
    company_id     uuid NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    user_name      text NOT NULL,
    external_id    text,
    active         boolean NOT NULL DEFAULT true,
    resource       jsonb NOT NULL,
    version        bigint NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_modified  timestamptz NOT NULL DEFAULT now()
);
-- userName is unique per company, case-insensitively (RFC 7643 §4.1.1, SPEC §7); a lookup by
-- userName, externalId or id is an index probe however large the company.
CREATE UNIQUE INDEX directory_users_user_name ON directory_users (company_id, lower(user_name));
CREATE INDEX directory_users_external_id ON directory_users (company_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX directory_users_company ON directory_users (company_id, id);

CREATE TABLE directory_groups (
    id             uuid PRIMARY KEY,
    company_id     uuid NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    display_name   text NOT NULL,
    external_id    text,
    resource       jsonb NOT NULL,
    version        bigint NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_modified  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX directory_groups_display_name ON directory_groups (company_id, lower(display_name));
CREATE INDEX directory_groups_external_id ON directory_groups (company_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX directory_groups_company ON directory_groups (company_id, id);

CREATE TABLE directory_group_members (
    group_id    uuid NOT NULL REFERENCES directory_groups(id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES directory_users(id) ON DELETE CASCADE,
    company_id  uuid NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX directory_group_members_user ON directory_group_members (user_id);

-- The transactional outbox: a SCIM write commits its resource change and the queue message
-- for the workers in one transaction; the relay publishes each row with a publisher confirm,
-- then deletes it. A row is leased while it is being published, so replicas never publish the
-- same row at once, and a relay that died mid-publish leaves it to be published again after
-- its lease (a duplicate, which the workers tolerate), never lost.
CREATE TABLE scim_outbox (
    id              bigserial PRIMARY KEY,
    company_id      uuid NOT NULL,
    routing_key     text NOT NULL,
    event_id        text NOT NULL,
    message         bytea NOT NULL,
    -- W3C trace context of the request that wrote it, so the trace goes on into the workers.
    traceparent     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    leased_until    timestamptz,
    attempts        integer NOT NULL DEFAULT 0
);
CREATE INDEX scim_outbox_due ON scim_outbox (leased_until NULLS FIRST, id);

-- Wakes the relays of every replica when a write commits (NOTIFY is delivered at commit).
CREATE FUNCTION scim_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('scim_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER scim_outbox_notify AFTER INSERT ON scim_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION scim_outbox_notify();
