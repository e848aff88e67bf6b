-- Demo summary: rows published to the sandbox's RDS MySQL, per source period.
SELECT
    source_period,
    COUNT(*) AS published_rows
FROM acquisition
GROUP BY source_period
ORDER BY source_period;
