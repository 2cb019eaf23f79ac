-- The second factor: TOTP (RFC 6238) with recovery codes, for customers (optional) and staff
-- (mandatory). A row belongs to an account or to a staff user, never both.

CREATE TABLE totp_factors (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id   uuid UNIQUE REFERENCES accounts (id) ON DELETE CASCADE,
    staff_id     uuid UNIQUE REFERENCES staff_users (id) ON DELETE CASCADE,
    -- base32; needed in clear to compute codes, so readable only by the auth service's role.
    secret       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- NULL while enrolling: the factor counts only once a code from it was typed back.
    confirmed_at timestamptz,
    -- RFC 6238 5.2: a code is accepted once; the last accepted time step, codes at or before it fail.
    last_step    bigint NOT NULL DEFAULT 0,
    -- Made by `make run` for its demo admin: only such a key's code is printed (`ibok totp-code`).
    demo         boolean NOT NULL DEFAULT false,
    CHECK ((account_id IS NULL) <> (staff_id IS NULL))
);

-- Single-use recovery codes (120 bits each), kept as SHA-256 digests only.
CREATE TABLE recovery_codes (
    factor_id uuid NOT NULL REFERENCES totp_factors (id) ON DELETE CASCADE,
    digest    bytea NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (factor_id, digest)
);

-- A login whose password was right and whose second factor is still due: a short-lived,
-- single-use challenge (token kept as a digest); `enrol` for staff who have no factor yet.
CREATE TABLE mfa_challenges (
    token_digest   bytea PRIMARY KEY,
    account_id     uuid REFERENCES accounts (id) ON DELETE CASCADE,
    staff_id       uuid REFERENCES staff_users (id) ON DELETE CASCADE,
    purpose        text NOT NULL CHECK (purpose IN ('verify', 'enrol')),
    client_address text NOT NULL DEFAULT '',
    user_agent     text NOT NULL DEFAULT '',
    attempts       integer NOT NULL DEFAULT 0,
    expires_at     timestamptz NOT NULL,
    CHECK ((account_id IS NULL) <> (staff_id IS NULL))
);
CREATE INDEX mfa_challenges_by_expiry ON mfa_challenges (expires_at);

-- Wrong second-factor codes count in the login throttle (R4) like wrong passwords.
ALTER TABLE login_failures DROP CONSTRAINT login_failures_kind_check;
ALTER TABLE login_failures
    ADD CONSTRAINT login_failures_kind_check CHECK (kind IN ('password', 'captcha', 'second_factor'));
