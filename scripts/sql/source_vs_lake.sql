-- Federated check: the lake's silver tables against the PostgreSQL source, read
-- live through the `source` catalog. After `txlake ingest` every figure in the
-- only_in_* columns is 0 and the row counts agree.
--
-- Full rows are compared (EXCEPT both ways) on the source's columns. Trino reads
-- Delta timestamps at millisecond precision (truncated), so source timestamps
-- are truncated to milliseconds too; `txlake reconcile` compares microseconds.
WITH
src_tx AS (
    SELECT transaction_id, user_id, amount, vendor, source,
           date_trunc('millisecond', transaction_time) AS transaction_time,
           date_trunc('millisecond', updated_at) AS updated_at
    FROM source.public.transactions
),
lake_tx AS (
    SELECT transaction_id, user_id, amount, vendor, source,
           CAST(transaction_time AS timestamp(6) with time zone) AS transaction_time,
           CAST(updated_at AS timestamp(6) with time zone) AS updated_at
    FROM lakehouse.project.transactions
),
src_cu AS (
    SELECT user_id, name, age, gender, location, occupation, day_start,
           date_trunc('millisecond', updated_at) AS updated_at
    FROM source.public.customers
),
lake_cu AS (
    SELECT user_id, name, age, gender, location, occupation, day_start,
           CAST(updated_at AS timestamp(6) with time zone) AS updated_at
    FROM lakehouse.project.customers
)
SELECT 'transactions' AS table_name,
       (SELECT count(*) FROM src_tx) AS source_rows,
       (SELECT count(*) FROM lake_tx) AS lake_rows,
       (SELECT count(*) FROM (SELECT * FROM src_tx EXCEPT SELECT * FROM lake_tx)) AS only_in_source,
       (SELECT count(*) FROM (SELECT * FROM lake_tx EXCEPT SELECT * FROM src_tx)) AS only_in_lake
UNION ALL
SELECT 'customers',
       (SELECT count(*) FROM src_cu),
       (SELECT count(*) FROM lake_cu),
       (SELECT count(*) FROM (SELECT * FROM src_cu EXCEPT SELECT * FROM lake_cu)),
       (SELECT count(*) FROM (SELECT * FROM lake_cu EXCEPT SELECT * FROM src_cu));
