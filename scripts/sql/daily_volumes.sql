-- Daily volumes (UTC days) per channel over the last 30 days of data in the lake:
-- transactions, amount, average amount, active users.
SELECT
    date(t.transaction_time AT TIME ZONE 'UTC') AS day,
    t.source AS channel,
    count(*) AS transactions,
    sum(t.amount) AS total_amount,
    round(avg(t.amount), 2) AS avg_amount,
    count(DISTINCT t.user_id) AS active_users
FROM lakehouse.project.transactions AS t
WHERE t.transaction_time >= (SELECT max(transaction_time) FROM lakehouse.project.transactions)
                            - INTERVAL '30' DAY
GROUP BY 1, 2
ORDER BY day DESC, channel;
