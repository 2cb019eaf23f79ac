-- R14: a customer whose retention ended keeps only their number and kind here (name, address
-- and identity digests are blanked), with when it happened and at which of the billing
-- system's revisions: a replayed older message never brings the data back, a newer revision
-- (the billing system still sends the customer) makes them due again at the next run.
ALTER TABLE customers
    ADD COLUMN erased_at       timestamptz,
    ADD COLUMN erased_revision bigint;
