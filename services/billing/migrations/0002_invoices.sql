-- Contracts' tariff and document, invoices, payments, and messages parked until what they need arrives.
ALTER TABLE contracts
    ADD COLUMN contract_id             uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    ADD COLUMN water_price_grosze      bigint NOT NULL DEFAULT 0,
    ADD COLUMN sewage_price_grosze     bigint NOT NULL DEFAULT 0,
    ADD COLUMN subscription_fee_grosze bigint NOT NULL DEFAULT 0,
    ADD COLUMN document                jsonb;

-- One row per invoice number (the natural key). A correcting invoice is its own row naming the
-- invoice it corrects; the corrected one is then 'corrected' and no longer counts (R7.3, R7.4).
CREATE TABLE invoices (
    number            text PRIMARY KEY,
    invoice_id        uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    customer_number   text NOT NULL,
    contract_number   text NOT NULL,
    issued_on         date NOT NULL,
    sale_date         date NOT NULL,
    due_date          date NOT NULL,
    period_from       date NOT NULL,
    period_to         date NOT NULL,
    lines             jsonb NOT NULL,
    net_grosze        bigint NOT NULL,
    vat_grosze        bigint NOT NULL,
    gross_grosze      bigint NOT NULL,
    revision          bigint NOT NULL,
    status            text NOT NULL DEFAULT 'issued'
                      CHECK (status IN ('issued', 'corrected', 'cancelled')),
    corrects          text,
    corrected_by      text,
    correction_reason text,
    cancel_reason     text,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
-- The customer's invoice list, newest first, paged by (issued_on, number): one index scan.
CREATE INDEX invoices_of_customer ON invoices (customer_number, issued_on DESC, number DESC);
CREATE INDEX invoices_correcting ON invoices (corrects) WHERE corrects IS NOT NULL;
CREATE INDEX invoices_corrected ON invoices (corrected_by) WHERE corrected_by IS NOT NULL;

CREATE TABLE payments (
    payment_id      text PRIMARY KEY,
    customer_number text NOT NULL,
    amount_grosze   bigint NOT NULL CHECK (amount_grosze > 0),
    paid_on         date NOT NULL,
    invoice_number  text,
    method          text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_of_customer ON payments (customer_number, paid_on DESC);

-- A message that names a customer (or invoice) IBOK does not know yet waits here, in arrival
-- order, and is applied when that customer (or invoice) arrives; ``awaits`` is
-- 'customer:<number>' or 'invoice:<number>'.
CREATE TABLE parked_messages (
    id        bigserial PRIMARY KEY,
    awaits    text NOT NULL,
    schema    text NOT NULL,
    body      jsonb NOT NULL,
    parked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX parked_messages_awaiting ON parked_messages (awaits, id);
