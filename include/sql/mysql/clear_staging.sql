-- Before Sqoop exports a period: the staging table holds none of its rows (a failed export may have left
-- some).
DELETE FROM acquisition_staging
WHERE source_period = %(period)s;
