-- The operational source schema that Debezium captures (see README, "Source schema").
-- Idempotent: `txlake stack up` and the compose init container run it on every start.
-- Only the keys and the foreign key are enforced: other tools write to these tables too.

CREATE TABLE IF NOT EXISTS customers (
    user_id     text PRIMARY KEY,
    name        text,
    age         integer,
    gender      text,
    location    text,
    occupation  text,
    day_start   date,
    updated_at  timestamptz
);

CREATE TABLE IF NOT EXISTS transactions (
    transaction_id   text PRIMARY KEY,
    user_id          text REFERENCES customers (user_id),
    amount           numeric(12, 2),
    vendor           text,
    source           text,
    transaction_time timestamptz,
    updated_at       timestamptz
);

-- Ingest writes a row here and waits for its change event: once it arrives,
-- Kafka holds every change committed before it (a watermark, not a sleep).
CREATE TABLE IF NOT EXISTS txlake_watermark (
    id          text PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Debezium needs the old row on UPDATE and DELETE.
ALTER TABLE customers REPLICA IDENTITY FULL;
ALTER TABLE transactions REPLICA IDENTITY FULL;
ALTER TABLE txlake_watermark REPLICA IDENTITY FULL;

CREATE INDEX IF NOT EXISTS transactions_user_id_idx ON transactions (user_id);
CREATE INDEX IF NOT EXISTS transactions_time_idx ON transactions (transaction_time);
