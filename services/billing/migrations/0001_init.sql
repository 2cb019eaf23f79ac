-- Customers and contracts as the billing system sends them, and the sync state (R9).
CREATE TABLE customers (
    customer_number text PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('person', 'company')),
    name            text NOT NULL,
    address         jsonb NOT NULL,
    identity_checks jsonb NOT NULL,
    revision        bigint NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

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
CREATE INDEX contracts_by_customer ON contracts (customer_number);

CREATE TABLE sync_state (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    as_of        timestamptz NOT NULL,
    completed_at timestamptz NOT NULL DEFAULT now()
);
