-- Step 6 of 6: quality metrics of the period, one row per raw table, as a plain delimited text table that
-- Airflow reads straight from S3 (no HiveServer2).
--
-- Variables: DB (database), QUALITY_ROOT (e.g. s3://loanlake-data/quality), PERIOD (2017Q1 or 2017).
-- Reads checked_lines (quarantine.hql), quarantine, acquisition and performance.
--
-- Files: every file under <QUALITY_ROOT>/quality_metrics/period=<PERIOD>/ (read them all and skip empty
-- ones: names differ by engine, e.g. 000000_0 from Hive, part-*.c000 from Spark). UTF-8 text, one row a
-- line ending in \n, fields separated by ',', no header, no quoting (no value holds a comma), no NULLs
-- (absent counts are 0). Columns, in order:
--    1 source_table       raw table: raw_legacy_origination, raw_r47_origination, raw_legacy_performance,
--                         raw_r47_performance (all four, every period, zeros where no file came)
--    2 target_table       acquisition or performance
--    3 source_files       raw files read
--    4 rows_read          lines read, empty ones included
--    5 rows_kept          rows the period wrote to target_table from this raw table
--    6 rows_quarantined   lines the period wrote to quarantine from this raw table
--    7 empty_line         rows_quarantined by reason, in the order quarantine.hql checks them
--    8 wrong_field_count
--    9 unparsable_number
--   10 impossible_date
--   11 unknown_code
--   12 null_keys          kept rows without their key (acquisition: loan_seq_no; performance:
--                         loan_seq_no or monthly_reporting_period)
--   13 duplicate_keys     acquisition: kept rows whose loan_seq_no another acquisition row of the period
--                         has too (from either layout); 0 for performance
-- rows_read = rows_kept + rows_quarantined holds for every row; a difference means lost or duplicated
-- rows. The period's partition is overwritten on each run.

CREATE EXTERNAL TABLE IF NOT EXISTS ${DB}.quality_metrics (
    source_table STRING COMMENT 'raw table',
    target_table STRING COMMENT 'processed table the raw table feeds',
    source_files BIGINT COMMENT 'raw files read',
    rows_read BIGINT COMMENT 'lines read, empty ones included',
    rows_kept BIGINT COMMENT 'rows written to target_table',
    rows_quarantined BIGINT COMMENT 'lines written to quarantine',
    empty_line BIGINT COMMENT 'quarantined: empty line',
    wrong_field_count BIGINT COMMENT 'quarantined: wrong field count',
    unparsable_number BIGINT COMMENT 'quarantined: unparsable number',
    impossible_date BIGINT COMMENT 'quarantined: impossible date',
    unknown_code BIGINT COMMENT 'quarantined: unknown code',
    null_keys BIGINT COMMENT 'kept rows without their key',
    duplicate_keys BIGINT COMMENT 'kept acquisition rows sharing their loan id with another row of the period'
)
COMMENT 'Rows read, kept and quarantined per raw table and period'
PARTITIONED BY (period STRING COMMENT 'source file period: 2017Q1, or 2017 for a sample')
ROW FORMAT DELIMITED
FIELDS TERMINATED BY ','
LINES TERMINATED BY '\n'
STORED AS TEXTFILE
LOCATION '${QUALITY_ROOT}/quality_metrics';

INSERT OVERWRITE TABLE ${DB}.quality_metrics PARTITION (period = '${PERIOD}')
SELECT
    f.source_table,
    f.target_table,
    SUM(f.source_files) AS source_files,
    SUM(f.rows_read) AS rows_read,
    SUM(f.rows_kept) AS rows_kept,
    SUM(f.rows_quarantined) AS rows_quarantined,
    SUM(f.empty_line) AS empty_line,
    SUM(f.wrong_field_count) AS wrong_field_count,
    SUM(f.unparsable_number) AS unparsable_number,
    SUM(f.impossible_date) AS impossible_date,
    SUM(f.unknown_code) AS unknown_code,
    SUM(f.null_keys) AS null_keys,
    SUM(f.duplicate_keys) AS duplicate_keys
FROM (
    SELECT
        'raw_legacy_origination' AS source_table,
        'acquisition' AS target_table,
        CAST(0 AS BIGINT) AS source_files,
        CAST(0 AS BIGINT) AS rows_read,
        CAST(0 AS BIGINT) AS rows_kept,
        CAST(0 AS BIGINT) AS rows_quarantined,
        CAST(0 AS BIGINT) AS empty_line,
        CAST(0 AS BIGINT) AS wrong_field_count,
        CAST(0 AS BIGINT) AS unparsable_number,
        CAST(0 AS BIGINT) AS impossible_date,
        CAST(0 AS BIGINT) AS unknown_code,
        CAST(0 AS BIGINT) AS null_keys,
        CAST(0 AS BIGINT) AS duplicate_keys
    UNION ALL
    SELECT
        'raw_r47_origination' AS source_table,
        'acquisition' AS target_table,
        CAST(0 AS BIGINT) AS source_files,
        CAST(0 AS BIGINT) AS rows_read,
        CAST(0 AS BIGINT) AS rows_kept,
        CAST(0 AS BIGINT) AS rows_quarantined,
        CAST(0 AS BIGINT) AS empty_line,
        CAST(0 AS BIGINT) AS wrong_field_count,
        CAST(0 AS BIGINT) AS unparsable_number,
        CAST(0 AS BIGINT) AS impossible_date,
        CAST(0 AS BIGINT) AS unknown_code,
        CAST(0 AS BIGINT) AS null_keys,
        CAST(0 AS BIGINT) AS duplicate_keys
    UNION ALL
    SELECT
        'raw_legacy_performance' AS source_table,
        'performance' AS target_table,
        CAST(0 AS BIGINT) AS source_files,
        CAST(0 AS BIGINT) AS rows_read,
        CAST(0 AS BIGINT) AS rows_kept,
        CAST(0 AS BIGINT) AS rows_quarantined,
        CAST(0 AS BIGINT) AS empty_line,
        CAST(0 AS BIGINT) AS wrong_field_count,
        CAST(0 AS BIGINT) AS unparsable_number,
        CAST(0 AS BIGINT) AS impossible_date,
        CAST(0 AS BIGINT) AS unknown_code,
        CAST(0 AS BIGINT) AS null_keys,
        CAST(0 AS BIGINT) AS duplicate_keys
    UNION ALL
    SELECT
        'raw_r47_performance' AS source_table,
        'performance' AS target_table,
        CAST(0 AS BIGINT) AS source_files,
        CAST(0 AS BIGINT) AS rows_read,
        CAST(0 AS BIGINT) AS rows_kept,
        CAST(0 AS BIGINT) AS rows_quarantined,
        CAST(0 AS BIGINT) AS empty_line,
        CAST(0 AS BIGINT) AS wrong_field_count,
        CAST(0 AS BIGINT) AS unparsable_number,
        CAST(0 AS BIGINT) AS impossible_date,
        CAST(0 AS BIGINT) AS unknown_code,
        CAST(0 AS BIGINT) AS null_keys,
        CAST(0 AS BIGINT) AS duplicate_keys
    UNION ALL
    SELECT
        c.source_table,
        CASE WHEN c.source_table LIKE '%origination' THEN 'acquisition' ELSE 'performance' END AS target_table,
        COUNT(DISTINCT c.source_file) AS source_files,
        COUNT(*) AS rows_read,
        CAST(0 AS BIGINT) AS rows_kept,
        CAST(0 AS BIGINT) AS rows_quarantined,
        CAST(0 AS BIGINT) AS empty_line,
        CAST(0 AS BIGINT) AS wrong_field_count,
        CAST(0 AS BIGINT) AS unparsable_number,
        CAST(0 AS BIGINT) AS impossible_date,
        CAST(0 AS BIGINT) AS unknown_code,
        CAST(0 AS BIGINT) AS null_keys,
        CAST(0 AS BIGINT) AS duplicate_keys
    FROM ${DB}.checked_lines AS c
    WHERE c.period = '${PERIOD}'
    GROUP BY c.source_table
    UNION ALL
    SELECT
        q.source_table,
        CASE WHEN q.source_table LIKE '%origination' THEN 'acquisition' ELSE 'performance' END AS target_table,
        CAST(0 AS BIGINT) AS source_files,
        CAST(0 AS BIGINT) AS rows_read,
        CAST(0 AS BIGINT) AS rows_kept,
        COUNT(*) AS rows_quarantined,
        SUM(CASE WHEN q.reason = 'empty line' THEN 1 ELSE 0 END) AS empty_line,
        SUM(CASE WHEN q.reason = 'wrong field count' THEN 1 ELSE 0 END) AS wrong_field_count,
        SUM(CASE WHEN q.reason = 'unparsable number' THEN 1 ELSE 0 END) AS unparsable_number,
        SUM(CASE WHEN q.reason = 'impossible date' THEN 1 ELSE 0 END) AS impossible_date,
        SUM(CASE WHEN q.reason = 'unknown code' THEN 1 ELSE 0 END) AS unknown_code,
        CAST(0 AS BIGINT) AS null_keys,
        CAST(0 AS BIGINT) AS duplicate_keys
    FROM ${DB}.quarantine AS q
    WHERE q.period = '${PERIOD}'
    GROUP BY q.source_table
    UNION ALL
    SELECT
        CONCAT('raw_', a.source_layout, '_origination') AS source_table,
        'acquisition' AS target_table,
        CAST(0 AS BIGINT) AS source_files,
        CAST(0 AS BIGINT) AS rows_read,
        COUNT(*) AS rows_kept,
        CAST(0 AS BIGINT) AS rows_quarantined,
        CAST(0 AS BIGINT) AS empty_line,
        CAST(0 AS BIGINT) AS wrong_field_count,
        CAST(0 AS BIGINT) AS unparsable_number,
        CAST(0 AS BIGINT) AS impossible_date,
        CAST(0 AS BIGINT) AS unknown_code,
        SUM(CASE WHEN a.loan_seq_no IS NULL THEN 1 ELSE 0 END) AS null_keys,
        SUM(CASE WHEN a.loan_copies > 1 THEN 1 ELSE 0 END) AS duplicate_keys
    FROM (
        SELECT
            k.source_layout,
            k.loan_seq_no,
            COUNT(*) OVER (PARTITION BY k.loan_seq_no) AS loan_copies
        FROM ${DB}.acquisition AS k
        WHERE k.source_period = '${PERIOD}'
    ) AS a
    GROUP BY a.source_layout
    UNION ALL
    SELECT
        CONCAT('raw_', p.source_layout, '_performance') AS source_table,
        'performance' AS target_table,
        CAST(0 AS BIGINT) AS source_files,
        CAST(0 AS BIGINT) AS rows_read,
        COUNT(*) AS rows_kept,
        CAST(0 AS BIGINT) AS rows_quarantined,
        CAST(0 AS BIGINT) AS empty_line,
        CAST(0 AS BIGINT) AS wrong_field_count,
        CAST(0 AS BIGINT) AS unparsable_number,
        CAST(0 AS BIGINT) AS impossible_date,
        CAST(0 AS BIGINT) AS unknown_code,
        SUM(
            CASE WHEN p.loan_seq_no IS NULL OR p.monthly_reporting_period IS NULL THEN 1 ELSE 0 END
        ) AS null_keys,
        CAST(0 AS BIGINT) AS duplicate_keys
    FROM ${DB}.performance AS p
    WHERE p.source_period = '${PERIOD}'
    GROUP BY p.source_layout
) AS f
GROUP BY f.source_table, f.target_table;
