-- Water meters per premises and customer, as the billing system sends them.
CREATE TABLE meters (
    serial               text PRIMARY KEY,
    premises_id          text NOT NULL,
    customer_number      text NOT NULL,
    diameter_mm          int NOT NULL,
    installed_on         date NOT NULL,
    legalization_expires date NOT NULL,
    removed_on           date,
    revision             bigint NOT NULL,
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX meters_by_customer ON meters (customer_number);
