-- Warehouse step: the period's processed acquisitions as text files for Sqoop to export to RDS MySQL.
--
-- Variables: DB (database), EXPORT_ROOT (e.g. s3://loanlake-data/export), PERIOD (2017Q1 or 2017).
-- Reads acquisition (acquisition.hql).
--
-- Files: <EXPORT_ROOT>/acquisition/period=<PERIOD>/, the format plugins/loanlake/emr/sqoop.py tells Sqoop:
-- fields separated by \001 (^A), lines ending in \n, NULL written as \N, no escaping, columns in the
-- order of the MySQL table acquisition_staging (include/sql/mysql/create_tables.sql). The separator
-- cannot occur in the values: a text value holding \001, \n or \r fails this step (ASSERT_TRUE, the
-- error quotes the problem) rather than shift fields or split a row in MySQL, and so does a value that is
-- exactly \N, which would arrive as NULL. Everything else arrives as it is: spaces (leading and trailing
-- too), pipes, quotes, backslashes; an empty string stays empty and only NULL becomes \N. (acquisition.hql
-- trims its strings and turns '' into NULL, so the processed table holds neither.) Text rather than the
-- Parquet files: Sqoop exports Parquet only through Kite datasets, and a delimited text export with a
-- fixed NULL marker is what it reads reliably. The period's partition is overwritten on each run.

CREATE EXTERNAL TABLE IF NOT EXISTS ${DB}.acquisition_export (
    source_period STRING,
    loan_seq_no STRING,
    orig_year INT,
    orig_quarter INT,
    credit_score INT,
    credit_score_code STRING,
    first_payment_date DATE,
    first_time_homebuyer_flag STRING,
    maturity_date DATE,
    msa STRING,
    mi_pct INT,
    num_units INT,
    occupancy_status STRING,
    orig_cltv INT,
    orig_dti INT,
    orig_upb DECIMAL(14, 2),
    orig_ltv INT,
    orig_interest_rate DECIMAL(6, 3),
    channel STRING,
    ppm_flag STRING,
    amortization_type STRING,
    property_state STRING,
    property_type STRING,
    postal_code STRING,
    loan_purpose STRING,
    orig_loan_term INT,
    num_borrowers INT,
    seller_name STRING,
    servicer_name STRING,
    super_conforming_flag STRING,
    pre_harp_loan_seq_no STRING,
    program_indicator STRING,
    harp_indicator STRING,
    property_valuation_method INT,
    interest_only_indicator STRING,
    mi_cancellation_indicator STRING,
    vantagescore_4 INT,
    vantagescore_4_code STRING,
    source_layout STRING
)
COMMENT 'One period of acquisition, as Sqoop exports it to RDS MySQL'
PARTITIONED BY (period STRING COMMENT 'source file period: 2017Q1, or 2017 for a sample')
ROW FORMAT DELIMITED
FIELDS TERMINATED BY '\001'
LINES TERMINATED BY '\n'
NULL DEFINED AS '\\N'
STORED AS TEXTFILE
LOCATION '${EXPORT_ROOT}/acquisition';

INSERT OVERWRITE TABLE ${DB}.acquisition_export PARTITION (period = '${PERIOD}')
SELECT
    a.source_period,
    a.loan_seq_no,
    a.orig_year,
    a.orig_quarter,
    a.credit_score,
    a.credit_score_code,
    a.first_payment_date,
    a.first_time_homebuyer_flag,
    a.maturity_date,
    a.msa,
    a.mi_pct,
    a.num_units,
    a.occupancy_status,
    a.orig_cltv,
    a.orig_dti,
    a.orig_upb,
    a.orig_ltv,
    a.orig_interest_rate,
    a.channel,
    a.ppm_flag,
    a.amortization_type,
    a.property_state,
    a.property_type,
    a.postal_code,
    a.loan_purpose,
    a.orig_loan_term,
    a.num_borrowers,
    a.seller_name,
    a.servicer_name,
    a.super_conforming_flag,
    a.pre_harp_loan_seq_no,
    a.program_indicator,
    a.harp_indicator,
    a.property_valuation_method,
    a.interest_only_indicator,
    a.mi_cancellation_indicator,
    a.vantagescore_4,
    a.vantagescore_4_code,
    a.source_layout
FROM ${DB}.acquisition AS a
WHERE
    a.source_period = '${PERIOD}'
    AND ASSERT_TRUE(
        -- the literal is there for the error message (Spark's quotes the condition; Hive's only says
        -- "ASSERT_TRUE(): assertion failed.")
        'a text value holds \\001, \\n or \\r or is exactly \\N: the export format cannot carry it' IS NOT NULL
        AND CONCAT_WS(
            '',
            a.source_period,
            a.loan_seq_no,
            a.credit_score_code,
            a.first_time_homebuyer_flag,
            a.msa,
            a.occupancy_status,
            a.channel,
            a.ppm_flag,
            a.amortization_type,
            a.property_state,
            a.property_type,
            a.postal_code,
            a.loan_purpose,
            a.seller_name,
            a.servicer_name,
            a.super_conforming_flag,
            a.pre_harp_loan_seq_no,
            a.program_indicator,
            a.harp_indicator,
            a.interest_only_indicator,
            a.mi_cancellation_indicator,
            a.vantagescore_4_code,
            a.source_layout
        ) NOT RLIKE '[\\x01\\n\\r]'
        AND CONCAT_WS(
            '\001',
            a.source_period,
            a.loan_seq_no,
            a.credit_score_code,
            a.first_time_homebuyer_flag,
            a.msa,
            a.occupancy_status,
            a.channel,
            a.ppm_flag,
            a.amortization_type,
            a.property_state,
            a.property_type,
            a.postal_code,
            a.loan_purpose,
            a.seller_name,
            a.servicer_name,
            a.super_conforming_flag,
            a.pre_harp_loan_seq_no,
            a.program_indicator,
            a.harp_indicator,
            a.interest_only_indicator,
            a.mi_cancellation_indicator,
            a.vantagescore_4_code,
            a.source_layout
        ) NOT RLIKE '(^|\\x01)\\\\N(\\x01|$)'
    ) IS NULL;
