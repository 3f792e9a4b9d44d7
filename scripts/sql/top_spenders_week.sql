-- Top 10 spenders of the week (Monday 00:00 UTC onwards) that holds the newest
-- transaction in the lake: current state, deleted transactions excluded.
-- Run: trino --server http://127.0.0.1:8080 -f scripts/sql/top_spenders_week.sql
WITH week AS (
    SELECT date_trunc('week', max(transaction_time) AT TIME ZONE 'UTC') AS week_start
    FROM lakehouse.project.transactions
)
SELECT
    t.user_id,
    c.name,
    count(*) AS transactions,
    sum(t.amount) AS total_amount,
    count(DISTINCT t.vendor) AS vendors,
    week.week_start
FROM lakehouse.project.transactions AS t
CROSS JOIN week
LEFT JOIN lakehouse.project.customers AS c ON c.user_id = t.user_id
WHERE t.transaction_time >= week.week_start
  AND t.transaction_time < week.week_start + INTERVAL '7' DAY
GROUP BY t.user_id, c.name, week.week_start
ORDER BY total_amount DESC, t.user_id
LIMIT 10;
