-- Reconciliation: the period's published rows.
SELECT COUNT(*) AS published_rows
FROM acquisition
WHERE source_period = %(period)s;
