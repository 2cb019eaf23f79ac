-- Accounts and security: captcha, login throttling, session ids, blocks, staff, contact data,
-- password reset and the audit trail.

-- A non-secret id per session, so a customer can list and end sessions without seeing tokens.
ALTER TABLE sessions ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE;

-- R15, R16: contact data and consent; a new email waits in pending_email until verified.
ALTER TABLE accounts
    ADD COLUMN phone                  text,
    ADD COLUMN correspondence_address jsonb,
    ADD COLUMN marketing_consent      boolean NOT NULL DEFAULT false,
    ADD COLUMN pending_email          text,
    ADD COLUMN contact_revision       integer NOT NULL DEFAULT 0,
    ADD COLUMN password_changed_at    timestamptz;

ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_purpose_check;
ALTER TABLE email_tokens
    ADD CONSTRAINT email_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'change_email', 'reset_password'));
ALTER TABLE email_tokens ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX email_tokens_by_account ON email_tokens (account_id, purpose, created_at);

-- R4: image captcha challenges; only a digest of the answer is kept.
CREATE TABLE captcha_challenges (
    id            uuid PRIMARY KEY,
    answer_digest bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz
);
CREATE INDEX captcha_challenges_by_expiry ON captcha_challenges (expires_at);

-- R4: a login (known or not, so nothing is revealed) whose next attempt needs a captcha.
CREATE TABLE login_guards (
    scope                  text NOT NULL CHECK (scope IN ('customer', 'staff')),
    login_key              text NOT NULL,
    captcha_required_since timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, login_key)
);

-- R4: failed attempts, counted in a sliding window per login and per client address.
CREATE TABLE login_failures (
    id             bigserial PRIMARY KEY,
    scope          text NOT NULL CHECK (scope IN ('customer', 'staff')),
    login_key      text NOT NULL,
    client_address text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('password', 'captcha')),
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_by_login ON login_failures (scope, login_key, at);
CREATE INDEX login_failures_by_address ON login_failures (client_address, at);

-- Staff accounts with roles; their sessions are kept apart from customers' sessions.
CREATE TABLE staff_users (
    id            uuid PRIMARY KEY,
    login         text NOT NULL,
    login_key     text NOT NULL UNIQUE,
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('care', 'admin')),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    uuid REFERENCES staff_users (id),
    disabled_at   timestamptz
);

CREATE TABLE staff_sessions (
    token_digest   bytea PRIMARY KEY,
    id             uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    staff_id       uuid NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    client_address text NOT NULL DEFAULT '',
    user_agent     text NOT NULL DEFAULT ''
);
CREATE INDEX staff_sessions_by_staff ON staff_sessions (staff_id);

-- R5: blocks. blocked_until is the last Warsaw calendar day of a temporary block; NULL is
-- permanent. The identity check is recorded by kind only: the number is never stored.
CREATE TABLE blocks (
    id                uuid PRIMARY KEY,
    account_id        uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    reason            text NOT NULL,
    blocked_until     date,
    identity_check    text NOT NULL CHECK (identity_check IN ('pesel', 'nip', 'id_card', 'passport')),
    identity_verified boolean NOT NULL CHECK (identity_verified),
    blocked_by        uuid NOT NULL REFERENCES staff_users (id),
    blocked_at        timestamptz NOT NULL DEFAULT now(),
    lifted_at         timestamptz,
    lifted_by         uuid REFERENCES staff_users (id),
    lift_reason       text
);
CREATE UNIQUE INDEX blocks_one_open_per_account ON blocks (account_id) WHERE lifted_at IS NULL;

-- Who did what, when and from where. No foreign keys: the trail outlives what it mentions.
CREATE TABLE audit_trail (
    id             bigserial PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    action         text NOT NULL,
    actor_kind     text NOT NULL CHECK (actor_kind IN ('customer', 'staff', 'anonymous', 'system')),
    actor_id       uuid,
    account_id     uuid,
    staff_id       uuid,
    client_address text NOT NULL DEFAULT '',
    detail         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_trail_by_account ON audit_trail (account_id, id) WHERE account_id IS NOT NULL;
CREATE INDEX audit_trail_by_staff ON audit_trail (staff_id, id) WHERE staff_id IS NOT NULL;
