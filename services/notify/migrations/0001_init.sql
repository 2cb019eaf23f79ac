-- The email outbox: one row per email, sent by the mail sender, with its delivery log.
CREATE TABLE emails (
    id              uuid PRIMARY KEY,
    recipient       text NOT NULL,
    subject         text NOT NULL,
    body_text       text NOT NULL,
    body_html       text NOT NULL,
    template        text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX emails_due ON emails (next_attempt_at) WHERE status = 'pending';

CREATE TABLE email_deliveries (
    id         bigserial PRIMARY KEY,
    email_id   uuid NOT NULL REFERENCES emails (id),
    attempt    int NOT NULL,
    outcome    text NOT NULL CHECK (outcome IN ('sent', 'retry', 'failed')),
    smtp_code  int,
    detail     text NOT NULL DEFAULT '',
    at         timestamptz NOT NULL DEFAULT now()
);
