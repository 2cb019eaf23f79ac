-- Maintenance mode (R6): one row, the current state; its history is in the audit trail.
CREATE TABLE maintenance (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    on_now       boolean NOT NULL DEFAULT false,
    message      text NOT NULL DEFAULT '',
    message_en   text NOT NULL DEFAULT '',
    expected_end timestamptz,
    revision     bigint NOT NULL DEFAULT 0,
    changed_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO maintenance (singleton) VALUES (true);
