-- The admin console: who changed what (the audit trail of people's changes) and who is signed in.

-- Every change a person made through the admin API or the console: company registered or
-- edited, SCIM token created or revoked, group level set, career automation attached or
-- detached, manager cleared, user edited, dead letters replayed or purged. `actor` is the
-- admin token's name, never the token; `before` and `after` hold the changed values, never a
-- secret (a SCIM token appears by its id, label and prefix).
CREATE TABLE admin_audit (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    role        text NOT NULL CHECK (role IN ('operator', 'viewer')),
    via         text NOT NULL CHECK (via IN ('api', 'console')),
    action      text NOT NULL,
    company_id  uuid REFERENCES companies(id) ON DELETE SET NULL,
    target      text,
    before      jsonb,
    after       jsonb
);
-- Newest first, whole trail or one company's, walked by (at, id).
CREATE INDEX admin_audit_by_time ON admin_audit (at DESC, id DESC);
CREATE INDEX admin_audit_by_company ON admin_audit (company_id, at DESC, id DESC);

-- Console sessions, kept server-side so that signing out (or removing a token from the
-- settings) ends them at once on every replica. The cookie holds a random id; only its SHA-256
-- is stored, so a copy of this table signs nobody in.
CREATE TABLE admin_sessions (
    id_hash     bytea PRIMARY KEY,
    token_name  text NOT NULL,
    csrf_token  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);
