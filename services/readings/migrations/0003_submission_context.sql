-- The row types of the one query that gathers what a customer's reading is checked against
-- (R1, R8): the premises' contracts with the date their billing is settled through, and the
-- readings that count, compactly (store.submission_context).
CREATE TYPE premises_contract AS (
    contract_number       text,
    status                text,
    start_date            date,
    end_date              date,
    billing_period_months int,
    settled_through       date
);
CREATE TYPE counting_reading AS (
    id      uuid,
    serial  text,
    value   numeric(12, 3),
    read_on date,
    source  text
);
