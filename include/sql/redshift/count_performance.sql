-- Reconciliation: the period's published rows.
SELECT COUNT(*) AS published_rows
FROM ${SCHEMA}.performance
WHERE source_period = '${PERIOD}';
