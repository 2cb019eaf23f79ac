-- Recipients, the IBOK inbox, terms versions, announcements and fan-out jobs (issue 7).

-- Who an email goes to: notify's own projection of the customers' verified contact data and
-- consents, built from auth.customer-contact-changed events (newest revision wins, R15/R16).
CREATE TABLE recipients (
    customer_number   text PRIMARY KEY,
    account_id        uuid NOT NULL UNIQUE,
    email             text NOT NULL,
    language          text NOT NULL DEFAULT 'pl' CHECK (language IN ('pl', 'en')),
    marketing_consent boolean NOT NULL DEFAULT false,
    revision          int NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Accounts erased after retention (R14): a late contact event never brings them back.
CREATE TABLE erased_accounts (
    account_id uuid PRIMARY KEY,
    erased_at  timestamptz NOT NULL DEFAULT now()
);

-- Whose email this is, so erasure can blank it (R14); and its priority: a personal email
-- (0: a verification link, a complaint outcome) goes before the emails of a fan-out to every
-- customer (1), so a password reset never waits behind 100,000 terms notices.
ALTER TABLE emails ADD COLUMN customer_number text, ADD COLUMN account_id uuid,
    ADD COLUMN priority smallint NOT NULL DEFAULT 0;
DROP INDEX emails_due;
CREATE INDEX emails_due ON emails (priority, next_attempt_at) WHERE status = 'pending';
CREATE INDEX emails_of_customer ON emails (customer_number) WHERE customer_number IS NOT NULL;
CREATE INDEX emails_of_account ON emails (account_id) WHERE account_id IS NOT NULL;
ALTER TABLE emails DROP CONSTRAINT emails_status_check,
    ADD CONSTRAINT emails_status_check CHECK (status IN ('pending', 'sent', 'failed', 'cancelled'));
CREATE INDEX email_deliveries_of_email ON email_deliveries (email_id);

-- The IBOK inbox (R10, R11, R15): plain text, newest first, unread until the customer reads it.
CREATE TABLE inbox_messages (
    id              uuid PRIMARY KEY,
    customer_number text NOT NULL,
    kind            text NOT NULL,
    title           text NOT NULL,
    body            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    read_at         timestamptz
);
CREATE INDEX inbox_newest ON inbox_messages (customer_number, created_at DESC, id DESC);
CREATE INDEX inbox_unread ON inbox_messages (customer_number) WHERE read_at IS NULL;

-- R11: every version of the terms stays readable; the one in force is the latest effective.
CREATE TABLE terms_versions (
    version      int PRIMARY KEY,
    text         text NOT NULL,
    effective_on date NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    published_by text NOT NULL
);
CREATE INDEX terms_in_force ON terms_versions (effective_on DESC, version DESC);

-- R15: commercial information as staff wrote it, once.
CREATE TABLE announcements (
    id         uuid PRIMARY KEY,
    subject    text NOT NULL,
    body       text NOT NULL,
    sent_by    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A message to every recipient, sent in keyset batches; ``after_customer`` is the cursor,
-- moved in the same transaction as the batch's inbox rows and emails, so a restarted job
-- continues where the last committed batch ended.
CREATE TABLE fanout_jobs (
    id              uuid PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('terms', 'announcement')),
    terms_version   int REFERENCES terms_versions (version),
    announcement_id uuid REFERENCES announcements (id),
    status          text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done')),
    after_customer  text,
    total           int NOT NULL,
    done            int NOT NULL DEFAULT 0,
    emails          int NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX fanout_jobs_running ON fanout_jobs (created_at) WHERE status = 'running';
