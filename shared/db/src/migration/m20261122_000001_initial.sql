-- The whole domain of SPEC §2, so later features add behaviour, not tables.

CREATE TABLE companies (
    id                      uuid PRIMARY KEY,
    name                    text NOT NULL,
    stytch_organization_id  text NOT NULL UNIQUE,
    allowed_email_domains   text[] NOT NULL DEFAULT '{}',
    last_scim_sync_at       timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now()
);

-- Direct SCIM bearer tokens: only a hash is stored; two may be active during rotation.
CREATE TABLE scim_tokens (
    id            uuid PRIMARY KEY,
    company_id    uuid NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    label         text NOT NULL,
    token_hash    bytea NOT NULL UNIQUE,
    token_prefix  text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
CREATE INDEX scim_tokens_company ON scim_tokens (company_id) WHERE revoked_at IS NULL;

CREATE TABLE users (
    id                      uuid PRIMARY KEY,
    company_id              uuid NOT NULL REFERENCES companies(id),
    email                   text NOT NULL,
    first_name              text NOT NULL DEFAULT '',
    last_name               text NOT NULL DEFAULT '',
    active                  boolean NOT NULL DEFAULT true,
    deactivated_at          timestamptz,
    street_address          text,
    region                  text,
    postal_code             text,
    business_phone          text,
    mobile_phone            text,
    fax_phone               text,
    employee_number         text,
    manager_id              uuid REFERENCES users(id) ON DELETE SET NULL,
    permission_level        text NOT NULL DEFAULT 'basic'
                            CHECK (permission_level IN ('admin', 'full_access', 'manager', 'basic')),
    stytch_member_id        text,
    stytch_organization_id  text,
    external_id             text,
    scim_id                 text,
    scim_provisioned        boolean NOT NULL DEFAULT false,
    date_added              timestamptz NOT NULL DEFAULT now(),
    -- Timestamp of the newest member event folded into this row (R17).
    scim_version            timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
-- R3: one user per email across the instance, case-insensitively.
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));
CREATE UNIQUE INDEX users_company_member ON users (company_id, stytch_member_id)
    WHERE stytch_member_id IS NOT NULL;
CREATE INDEX users_member ON users (stytch_member_id) WHERE stytch_member_id IS NOT NULL;
CREATE INDEX users_company_external ON users (company_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX users_company_scim_id ON users (company_id, scim_id) WHERE scim_id IS NOT NULL;
CREATE INDEX users_manager ON users (manager_id) WHERE manager_id IS NOT NULL;
CREATE INDEX users_company_id ON users (company_id, id);

-- Every member event, kept so that a member's state is always the fold of its events in
-- timestamp order, whatever order they arrived in (R17).
CREATE TABLE member_events (
    event_id          text PRIMARY KEY,
    stytch_member_id  text NOT NULL,
    organization_id   text,
    event_timestamp   timestamptz NOT NULL,
    action            text NOT NULL,
    member            jsonb,
    received_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX member_events_member ON member_events (stytch_member_id, event_timestamp);

-- Org schema (R6): created on first sight per company, then attached to users.
CREATE TABLE org_schema_entries (
    id          uuid PRIMARY KEY,
    company_id  uuid NOT NULL REFERENCES companies(id),
    kind        text NOT NULL CHECK (kind IN ('job_title', 'country', 'city', 'department', 'division')),
    value       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (company_id, kind, value)
);

CREATE TABLE user_org_attributes (
    user_id   uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind      text NOT NULL,
    entry_id  uuid NOT NULL REFERENCES org_schema_entries(id),
    PRIMARY KEY (user_id, kind)
);

CREATE TABLE scim_groups (
    id                uuid PRIMARY KEY,
    company_id        uuid NOT NULL REFERENCES companies(id),
    idp_group_id      text NOT NULL,
    display_name      text,
    kind              text NOT NULL DEFAULT 'custom'
                      CHECK (kind IN ('default_admin', 'default_full_access', 'custom')),
    permission_level  text CHECK (permission_level IN ('admin', 'full_access', 'manager', 'basic')),
    deleted           boolean NOT NULL DEFAULT false,
    deleted_at        timestamptz,
    -- Timestamp of the newest group event applied.
    version           timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (company_id, idp_group_id)
);

-- Memberships keyed by IdP ids, so they can arrive before their group or their user; a row
-- with present = false is a tombstone that stops an older "add" from resurrecting it.
CREATE TABLE scim_group_memberships (
    company_id        uuid NOT NULL REFERENCES companies(id),
    idp_group_id      text NOT NULL,
    stytch_member_id  text NOT NULL,
    present           boolean NOT NULL,
    version           timestamptz NOT NULL,
    PRIMARY KEY (company_id, idp_group_id, stytch_member_id)
);
CREATE INDEX scim_group_memberships_member ON scim_group_memberships (company_id, stytch_member_id);

CREATE TABLE career_automations (
    id          uuid PRIMARY KEY,
    company_id  uuid NOT NULL REFERENCES companies(id),
    group_id    uuid NOT NULL REFERENCES scim_groups(id) ON DELETE CASCADE,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX career_automations_group ON career_automations (group_id);

-- Manager links (R13-R15): the manager value last seen from SCIM and where it stands.
CREATE TABLE manager_links (
    user_id          uuid PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    company_id       uuid NOT NULL REFERENCES companies(id),
    manager_value    text NOT NULL,
    event_timestamp  timestamptz NOT NULL,
    status           text NOT NULL
                     CHECK (status IN ('pending', 'linked', 'cleared_locally', 'skipped_circular', 'not_found')),
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX manager_links_pending ON manager_links (company_id, manager_value) WHERE status = 'pending';

-- The audit trail admins read (R16): one row per event per concern.
CREATE TABLE scim_event_log (
    id                bigserial PRIMARY KEY,
    company_id        uuid REFERENCES companies(id),
    received_at       timestamptz NOT NULL,
    event_id          text NOT NULL,
    event_type        text NOT NULL,
    concern           text NOT NULL,
    user_id           uuid,
    stytch_member_id  text,
    outcome           text NOT NULL,
    detail            jsonb NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, concern)
);
CREATE INDEX scim_event_log_company ON scim_event_log (company_id, id DESC);
CREATE INDEX scim_event_log_company_outcome ON scim_event_log (company_id, outcome, id DESC);
CREATE INDEX scim_event_log_company_user ON scim_event_log (company_id, user_id, id DESC);
-- Rows logged before their company was known (a delete for a member never seen yet).
CREATE INDEX scim_event_log_orphans ON scim_event_log (stytch_member_id) WHERE company_id IS NULL;

-- Idempotency keys: an event id a concern has fully applied.
CREATE TABLE processed_events (
    event_id      text NOT NULL,
    concern       text NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, concern)
);
