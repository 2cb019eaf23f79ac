-- Customer accounts, their emailed tokens and their sessions.
CREATE TABLE accounts (
    id                uuid PRIMARY KEY,
    login             text NOT NULL,
    login_key         text NOT NULL UNIQUE,
    customer_number   text NOT NULL UNIQUE,
    customer_name     text NOT NULL,
    email             text NOT NULL,
    email_verified_at timestamptz,
    language          text NOT NULL DEFAULT 'pl',
    password_hash     text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE email_tokens (
    token_digest bytea PRIMARY KEY,
    account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose      text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    email        text NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);

CREATE TABLE sessions (
    token_digest   bytea PRIMARY KEY,
    account_id     uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    client_address text NOT NULL DEFAULT '',
    user_agent     text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_by_account ON sessions (account_id);
