-- Time travel on the change log (bronze): the table's versions, then the
-- change events per operation as the first ingest left them (version 1)
-- next to now. `FOR TIMESTAMP AS OF TIMESTAMP '2026-11-20 12:00:00 UTC'`
-- reads the table as it was at an instant instead.
SELECT version, timestamp, operation, operation_parameters
FROM lakehouse.project."transactions_changelog$history"
ORDER BY version DESC
LIMIT 10;

SELECT 'version 1' AS as_of, op, count(*) AS events
FROM lakehouse.project.transactions_changelog FOR VERSION AS OF 1
GROUP BY op
UNION ALL
SELECT 'latest', op, count(*)
FROM lakehouse.project.transactions_changelog
GROUP BY op
ORDER BY as_of, op;
