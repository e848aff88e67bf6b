-- Step 2 of 6: external text tables over the raw files the ingest lands, one per layout and kind, and
-- their partitions.
--
-- Variables: DB (database), RAW_ROOT (e.g. s3://loanlake-data/raw).
--
-- Files land at <RAW_ROOT>/<layout>/<kind>/period=<PERIOD>/<member>.txt (layout: legacy or r47; kind:
-- origination or performance). Each table reads every line as ONE string column (the default field
-- delimiter, Ctrl-A, never occurs in the data), so the next script can count fields, keep the original
-- line and give a reason for every rejected line.
--
-- Partitions: MSCK REPAIR registers every period=<P> folder present (the period in hand included), which
-- is what ALTER TABLE ... ADD IF NOT EXISTS PARTITION (period = '<P>') would do for one period; sqlfluff's
-- Hive dialect cannot parse ALTER TABLE ... PARTITION. A layout without files for a period has no
-- partition for it and reads as empty. Tables are created once: a new RAW_ROOT needs a new database.

CREATE EXTERNAL TABLE IF NOT EXISTS ${DB}.raw_legacy_origination (
    line STRING COMMENT 'one line of the file, as read'
)
COMMENT 'Legacy layout (Release 46 and earlier) origination files, 32 fields a line'
PARTITIONED BY (period STRING COMMENT 'source file period: 2017Q1, or 2017 for a sample')
ROW FORMAT DELIMITED
STORED AS TEXTFILE
LOCATION '${RAW_ROOT}/legacy/origination';

CREATE EXTERNAL TABLE IF NOT EXISTS ${DB}.raw_r47_origination (
    line STRING COMMENT 'one line of the file, as read'
)
COMMENT 'Release 47 layout origination files, 31 fields a line'
PARTITIONED BY (period STRING COMMENT 'source file period: 2017Q1, or 2017 for a sample')
ROW FORMAT DELIMITED
STORED AS TEXTFILE
LOCATION '${RAW_ROOT}/r47/origination';

CREATE EXTERNAL TABLE IF NOT EXISTS ${DB}.raw_legacy_performance (
    line STRING COMMENT 'one line of the file, as read'
)
COMMENT 'Legacy layout (Release 46 and earlier) monthly performance files, 32 fields a line'
PARTITIONED BY (period STRING COMMENT 'source file period: 2017Q1, or 2017 for a sample')
ROW FORMAT DELIMITED
STORED AS TEXTFILE
LOCATION '${RAW_ROOT}/legacy/performance';

CREATE EXTERNAL TABLE IF NOT EXISTS ${DB}.raw_r47_performance (
    line STRING COMMENT 'one line of the file, as read'
)
COMMENT 'Release 47 layout monthly performance files, 35 fields a line'
PARTITIONED BY (period STRING COMMENT 'source file period: 2017Q1, or 2017 for a sample')
ROW FORMAT DELIMITED
STORED AS TEXTFILE
LOCATION '${RAW_ROOT}/r47/performance';

MSCK REPAIR TABLE ${DB}.raw_legacy_origination;

MSCK REPAIR TABLE ${DB}.raw_r47_origination;

MSCK REPAIR TABLE ${DB}.raw_legacy_performance;

MSCK REPAIR TABLE ${DB}.raw_r47_performance;
