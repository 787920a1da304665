-- Every key belongs to a tenant (SPEC §7). A member's stored history was keyed by the member id
-- alone, so a company sending a member id another company uses folded the other company's
-- events into its own user (and could change that user with an older event of its own), and an
-- event id one company used made another company's event with the same id a "duplicate".
-- From here on a member's history, its fold and its duplicate check are per company.

ALTER TABLE member_events ADD COLUMN company_id uuid REFERENCES companies(id) ON DELETE CASCADE;
UPDATE member_events e SET company_id = c.id
FROM companies c
WHERE c.stytch_organization_id = e.organization_id;
-- Events that name no organisation (a Stytch DELETE carries no body) belong to the company
-- whose events hold the same member id.
UPDATE member_events e SET company_id = h.company_id
FROM (SELECT DISTINCT ON (stytch_member_id) stytch_member_id, company_id
      FROM member_events WHERE company_id IS NOT NULL
      ORDER BY stytch_member_id, event_timestamp) h
WHERE e.company_id IS NULL AND e.stytch_member_id = h.stytch_member_id;

-- An event that names no organisation, for a member no company holds yet: kept until the first
-- event that names the member's company claims it (moves it into member_events), so a delete
-- that arrives before its create still ends the member deactivated, as in timestamp order.
CREATE TABLE unclaimed_member_events (
    stytch_member_id  text NOT NULL,
    event_id          text NOT NULL,
    event_timestamp   timestamptz NOT NULL,
    action            text NOT NULL,
    member            jsonb,
    received_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stytch_member_id, event_id)
);
INSERT INTO unclaimed_member_events (stytch_member_id, event_id, event_timestamp, action, member, received_at)
SELECT stytch_member_id, event_id, event_timestamp, action, member, received_at
FROM member_events WHERE company_id IS NULL;
DELETE FROM member_events WHERE company_id IS NULL;

ALTER TABLE member_events ALTER COLUMN company_id SET NOT NULL;
ALTER TABLE member_events DROP CONSTRAINT member_events_pkey;
ALTER TABLE member_events ADD PRIMARY KEY (company_id, event_id);
-- A member's history, looked up by the member id first (see migration 000003 for why the key
-- leads, not the company).
DROP INDEX IF EXISTS member_events_member;
CREATE INDEX member_events_member ON member_events (stytch_member_id, company_id, event_timestamp);

-- One row per event per concern per company: another company's event with the same id is its
-- own event. A row logged before its company was known (NULL) still counts once.
ALTER TABLE scim_event_log DROP CONSTRAINT scim_event_log_event_id_concern_key;
CREATE UNIQUE INDEX scim_event_log_company_event ON scim_event_log (company_id, event_id, concern) NULLS NOT DISTINCT;

-- The users a row changed besides its subject (a group deleted, a level set): the event log
-- filtered by a user finds every row that changed that user.
ALTER TABLE scim_event_log ADD COLUMN user_ids uuid[] NOT NULL DEFAULT '{}';
CREATE INDEX scim_event_log_user_ids ON scim_event_log USING gin (user_ids) WHERE user_ids <> '{}';
