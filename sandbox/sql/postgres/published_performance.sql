-- Demo summary: rows published to the sandbox's Redshift, per source period.
SELECT
    source_period,
    COUNT(*) AS published_rows
FROM loanlake.performance
GROUP BY source_period
ORDER BY source_period;
