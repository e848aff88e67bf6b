-- Step 4 of 6: the processed acquisition (origination) table: good origination lines of the period, typed,
-- both layouts in one schema.
--
-- Variables: DB (database), PROCESSED_ROOT (e.g. s3://loanlake-data/processed), PERIOD (2017Q1 or 2017).
-- Reads the view origination_checked (quarantine.hql) and keeps the lines whose reason is NULL.
--
-- Conversions: numbers to INT or DECIMAL; YYYYMM dates to the first day of the month; strings trimmed, ''
-- to NULL; "not available" sentinels to NULL: credit_score and vantagescore_4 9999 (the code stays in
-- *_code, as 9999 also means a score outside 300-850), mi_pct 999, num_units 99, orig_cltv, orig_ltv and
-- orig_dti 999, num_borrowers 99, property_type 99, property_valuation_method 9, and the flag value 9 of
-- first_time_homebuyer_flag, occupancy_status, channel, loan_purpose, program_indicator and
-- mi_cancellation_indicator (whose 7, "not applicable", is kept). Legacy-only columns (servicer_name,
-- mi_cancellation_indicator) are NULL for Release 47 rows, vantagescore_4 is NULL for legacy rows;
-- source_layout says which layout a row came from.
--
-- Partitions: (source_period, orig_year, orig_quarter). The origination year and quarter come from the
-- loan id (F17Q1... -> 2017, 1; a 2-digit year from 90 on is 19xx), which names the quarter Freddie Mac
-- files the loan under; the first payment date is usually a month or two later and may fall in the next
-- quarter. source_period (the raw file's period) leads, so a quarterly file and a sample year holding
-- loans of the same quarter never overwrite each other, and a rerun of a period replaces exactly the
-- partitions that period wrote (dynamic INSERT OVERWRITE), leaving other periods untouched. Each
-- partition is written by one task, sorted by loan id. Parquet, Snappy. The static source_period keeps
-- the insert valid in Hive's default strict dynamic-partition mode.

CREATE EXTERNAL TABLE IF NOT EXISTS ${DB}.acquisition (
    loan_seq_no STRING COMMENT 'loan sequence number, e.g. F17Q10000001',
    credit_score INT COMMENT 'FICO score; NULL when not available',
    credit_score_code STRING COMMENT '9999 where credit_score is NULL (not available or outside 300-850)',
    first_payment_date DATE,
    first_time_homebuyer_flag STRING COMMENT 'Y, N; NULL when not available',
    maturity_date DATE,
    msa STRING COMMENT 'metropolitan statistical area code; NULL outside an MSA',
    mi_pct INT COMMENT 'mortgage insurance percent, 0 = none; NULL when not available',
    num_units INT,
    occupancy_status STRING COMMENT 'P, I, S',
    orig_cltv INT,
    orig_dti INT,
    orig_upb DECIMAL(14, 2),
    orig_ltv INT,
    orig_interest_rate DECIMAL(6, 3),
    channel STRING COMMENT 'R, B, C, T',
    ppm_flag STRING,
    amortization_type STRING,
    property_state STRING,
    property_type STRING COMMENT 'SF, CO, PU, MH, CP',
    postal_code STRING,
    loan_purpose STRING COMMENT 'P, C, N, R',
    orig_loan_term INT,
    num_borrowers INT,
    seller_name STRING,
    servicer_name STRING COMMENT 'legacy layout only (Release 47 reports it in performance)',
    super_conforming_flag STRING,
    pre_harp_loan_seq_no STRING,
    program_indicator STRING COMMENT 'H, F, R',
    harp_indicator STRING,
    property_valuation_method INT COMMENT '1-4',
    interest_only_indicator STRING,
    mi_cancellation_indicator STRING COMMENT 'legacy layout only: Y, N, 7 (not applicable)',
    vantagescore_4 INT COMMENT 'Release 47 only; NULL when not available',
    vantagescore_4_code STRING COMMENT '9999 where vantagescore_4 is NULL in a Release 47 row',
    source_layout STRING COMMENT 'legacy or r47'
)
COMMENT 'Freddie Mac loan origination records, typed, both layouts'
PARTITIONED BY (
    source_period STRING COMMENT 'period of the raw file: 2017Q1, or 2017 for a sample',
    orig_year INT COMMENT 'origination year, from the loan id',
    orig_quarter INT COMMENT 'origination quarter, from the loan id'
)
STORED AS PARQUET
LOCATION '${PROCESSED_ROOT}/acquisition'
TBLPROPERTIES ('parquet.compression' = 'SNAPPY');

INSERT OVERWRITE TABLE ${DB}.acquisition PARTITION (source_period = '${PERIOD}', orig_year, orig_quarter)
SELECT
    c.loan_seq_no,
    CAST(NULLIF(c.credit_score, '9999') AS INT) AS credit_score,
    CASE WHEN c.credit_score = '9999' THEN c.credit_score END AS credit_score_code,
    CAST(
        CONCAT(SUBSTR(c.first_payment_date, 1, 4), '-', SUBSTR(c.first_payment_date, 5, 2), '-01') AS DATE
    ) AS first_payment_date,
    NULLIF(c.first_time_homebuyer_flag, '9') AS first_time_homebuyer_flag,
    CAST(CONCAT(SUBSTR(c.maturity_date, 1, 4), '-', SUBSTR(c.maturity_date, 5, 2), '-01') AS DATE) AS maturity_date,
    c.msa,
    CAST(NULLIF(c.mi_pct, '999') AS INT) AS mi_pct,
    CAST(NULLIF(c.num_units, '99') AS INT) AS num_units,
    NULLIF(c.occupancy_status, '9') AS occupancy_status,
    CAST(NULLIF(c.orig_cltv, '999') AS INT) AS orig_cltv,
    CAST(NULLIF(c.orig_dti, '999') AS INT) AS orig_dti,
    CAST(c.orig_upb AS DECIMAL(14, 2)) AS orig_upb,
    CAST(NULLIF(c.orig_ltv, '999') AS INT) AS orig_ltv,
    CAST(c.orig_interest_rate AS DECIMAL(6, 3)) AS orig_interest_rate,
    NULLIF(c.channel, '9') AS channel,
    c.ppm_flag,
    c.amortization_type,
    c.property_state,
    NULLIF(c.property_type, '99') AS property_type,
    c.postal_code,
    NULLIF(c.loan_purpose, '9') AS loan_purpose,
    CAST(c.orig_loan_term AS INT) AS orig_loan_term,
    CAST(NULLIF(c.num_borrowers, '99') AS INT) AS num_borrowers,
    c.seller_name,
    c.servicer_name,
    c.super_conforming_flag,
    c.pre_harp_loan_seq_no,
    NULLIF(c.program_indicator, '9') AS program_indicator,
    c.harp_indicator,
    CAST(NULLIF(c.property_valuation_method, '9') AS INT) AS property_valuation_method,
    c.interest_only_indicator,
    NULLIF(c.mi_cancellation_indicator, '9') AS mi_cancellation_indicator,
    CAST(NULLIF(c.vantagescore_4, '9999') AS INT) AS vantagescore_4,
    CASE WHEN c.vantagescore_4 = '9999' THEN c.vantagescore_4 END AS vantagescore_4_code,
    c.source_layout,
    CAST(SUBSTR(c.loan_seq_no, 2, 2) AS INT)
    + CASE WHEN CAST(SUBSTR(c.loan_seq_no, 2, 2) AS INT) >= 90 THEN 1900 ELSE 2000 END AS orig_year,
    CAST(SUBSTR(c.loan_seq_no, 5, 1) AS INT) AS orig_quarter
FROM ${DB}.origination_checked AS c
WHERE c.period = '${PERIOD}' AND c.reason IS NULL
DISTRIBUTE BY orig_year, orig_quarter
SORT BY orig_year, orig_quarter, loan_seq_no;
