-- Meter exchanges, the contract projection (R1), settled invoices (what is billed), readings
-- with source and status (R8), and the legalizacja reminders already sent (R7.6).
ALTER TABLE meters
    ADD COLUMN contract_number        text,
    ADD COLUMN is_main                boolean NOT NULL DEFAULT true,
    ADD COLUMN previous_serial        text,
    ADD COLUMN previous_final_reading numeric(12, 3),
    ADD COLUMN initial_reading        numeric(12, 3),
    ADD COLUMN exchanged_on           date;
CREATE INDEX meters_by_premises ON meters (premises_id);

CREATE TABLE contracts (
    contract_number       text PRIMARY KEY,
    customer_number       text NOT NULL,
    premises_id           text NOT NULL,
    premises_address      jsonb NOT NULL,
    start_date            date NOT NULL,
    end_date              date,
    status                text NOT NULL CHECK (status IN ('active', 'ended', 'suspended')),
    billing_period_months int NOT NULL,
    revision              bigint NOT NULL,
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contracts_by_customer ON contracts (customer_number, premises_id);

-- Invoices that settle a period (issued after it ended); a customer reading dated within a
-- settled period can no longer be added or replaced.
CREATE TABLE settled_invoices (
    invoice_number  text PRIMARY KEY,
    contract_number text,
    period_to       date,
    cancelled       boolean NOT NULL DEFAULT false
);
CREATE INDEX settled_invoices_by_contract ON settled_invoices (contract_number);

CREATE TABLE readings (
    id                uuid PRIMARY KEY,
    serial            text NOT NULL,
    -- The meter's customer when the reading was taken; NULL until the meter is known.
    customer_number   text,
    value             numeric(12, 3) NOT NULL CHECK (value >= 0),
    read_on           date NOT NULL,
    source            text NOT NULL
                      CHECK (source IN ('customer', 'inspector', 'estimate', 'meter_exchange')),
    -- The billing system's id of a control reading, or the exchange it comes from.
    external_id       text UNIQUE,
    revision          int NOT NULL DEFAULT 1,
    status            text NOT NULL DEFAULT 'accepted'
                      CHECK (status IN ('accepted', 'pending_review', 'rejected')),
    flagged           boolean NOT NULL DEFAULT false,
    previous_value    numeric(12, 3),
    previous_read_on  date,
    baseline_daily_m3 numeric(14, 3),
    review_reason     text,
    reviewed_by       text,
    reviewed_at       timestamptz,
    submitted_at      timestamptz NOT NULL DEFAULT now()
);
-- R8: one customer reading per meter per day (a second one replaces the first).
CREATE UNIQUE INDEX readings_one_customer_reading_a_day
    ON readings (serial, read_on) WHERE source = 'customer';
CREATE INDEX readings_by_meter ON readings (serial, read_on);
CREATE INDEX readings_history ON readings (customer_number, read_on DESC, id DESC);
CREATE INDEX readings_flagged ON readings (submitted_at, id) WHERE flagged;

CREATE TABLE legalization_reminders (
    serial          text NOT NULL,
    customer_number text NOT NULL,
    expires_on      date NOT NULL,
    days_before     int NOT NULL,
    sent_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (serial, customer_number, expires_on, days_before)
);
