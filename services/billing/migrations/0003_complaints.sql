-- Complaints (R10) and their threads of messages (R12). ``request_id`` is the command's
-- idempotency key: a retried command finds the row it made and answers the same.
CREATE TABLE complaints (
    complaint_id        uuid PRIMARY KEY,
    request_id          uuid NOT NULL UNIQUE,
    customer_number     text NOT NULL,
    channel             text NOT NULL CHECK (channel IN ('ibok', 'phone', 'letter')),
    received_on         date NOT NULL,
    due_on              date NOT NULL,
    subject             text NOT NULL,
    description         text NOT NULL,
    expected_resolution text NOT NULL,
    invoice_number      text,
    reading_id          uuid,
    status              text NOT NULL DEFAULT 'filed'
                        CHECK (status IN ('filed', 'waiting_for_customer', 'settled')),
    outcome             text CHECK (outcome IN ('accepted', 'rejected')),
    outcome_text        text,
    settled_on          date,
    settled_by          uuid,
    filed_by            uuid,
    filed_at            timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'settled') = (outcome IS NOT NULL))
);
-- The customer's list, newest first, paged by (filed_at, complaint_id).
CREATE INDEX complaints_of_customer ON complaints (customer_number, filed_at DESC, complaint_id DESC);
-- The staff list, oldest deadline first, paged by (due_on, filed_at, complaint_id).
CREATE INDEX complaints_by_deadline ON complaints (due_on, filed_at, complaint_id);

CREATE TABLE complaint_messages (
    message_id    uuid PRIMARY KEY,
    request_id    uuid NOT NULL UNIQUE,
    complaint_id  uuid NOT NULL REFERENCES complaints (complaint_id),
    author        text NOT NULL CHECK (author IN ('customer', 'staff')),
    kind          text NOT NULL CHECK (kind IN ('question', 'answer')),
    staff_id      uuid,
    body          text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- R12: a hidden message stays here for the audit, with who hid it, when and why.
    hidden_at     timestamptz,
    hidden_by     uuid,
    hidden_reason text
);
CREATE INDEX complaint_messages_of_complaint ON complaint_messages (complaint_id, created_at);
