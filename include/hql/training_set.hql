-- Training step 1 of 2: the model's training set: one example per loan (label, then the features of
-- plugins/loanlake/ml/features.py), split into train and validation CSV folders for SageMaker.
--
-- Variables: DB (database), TRAINING_ROOT (this training run's folder, e.g.
-- s3://loanlake-data/ml/training/<run>), AS_OF (the last reporting month to use, YYYY-MM-01),
-- WINDOW_MONTHS (features.WINDOW_MONTHS: 24), TRAIN_PERCENT (share of loans in train, 1-99: 80).
-- Reads acquisition (acquisition.hql) and performance (performance.hql), every source period. The first
-- statement checks the variables: a malformed AS_OF, WINDOW_MONTHS or TRAIN_PERCENT fails the step
-- (ASSERT_TRUE) instead of giving an empty or skewed set.
--
-- AS_OF is passed, not derived from the data: performance rows reported after it are ignored, so a rerun of
-- a training run gives the same set after later quarters have been loaded. Censoring does not depend on it
-- (it uses each loan's last report), so a date past the data, e.g. the run's month, means "everything".
--
-- One loan, one example. A loan delivered in more than one source period (a quarterly file and a sample
-- year, or both layouts) gives one example: its acquisition row comes from the latest release (r47 before
-- legacy), then a quarterly file before a sample, then the later period, then the smallest feature values
-- (so the choice is deterministic); its performance is every reported month of every source period.
-- Loans without an acquisition row are not examples.
--
-- Label ever_90_dpd_24m. Months are counted from first_payment_date: m = 0 for the first payment month;
-- the window is m = 0 .. WINDOW_MONTHS, both ends included (24 months after the first payment). A loan is
--   1 (ever_90_dpd) when a report in the window has delinquency_months >= 3, delinquency status RA or
--     zero_balance_code 02, 03 or 09 (known at once, however short the observation);
--   0 (prepaid) otherwise, when it prepaid (zero_balance_code 01) in the window: it cannot default any
--     more;
--   0 (observed) otherwise, when it was reported at m >= WINDOW_MONTHS: the whole window was seen;
--   censored (label NULL, left out of train and validation) otherwise: still reporting but observed for
--     less than the window (last report before first payment + WINDOW_MONTHS months), no report (or no
--     first_payment_date) at all, or removed for another reason (zero_balance_code 06 repurchase, 15 or 16
--     sale, 96 defect): its outcome is unknown.
--
-- Features: the columns of features.FEATURES, in that order, from the processed acquisition columns
-- (NULL, the sentinels included, stays missing); categorical ones as features.py's codes (an unknown code
-- is missing): first_time_homebuyer N 0, Y 1; occupancy P 0, S 1, I 2; loan_purpose P 0, N 1, C 2, R 3;
-- channel R 0, B 1, C 2, T 3; property_type SF 0, PU 1, CO 2, MH 3, CP 4. Keep them equal to features.py:
-- the endpoint scores rows built by features.feature_row, and a test holds the two equal.
--
-- Split: train when PMOD(CRC32(loan_seq_no), 100) < TRAIN_PERCENT, else validation. CRC32 is the standard
-- CRC-32 of the id's UTF-8 bytes (java.util.zip.CRC32) in Hive (1.3 and later) and in Spark, so both
-- engines, and Python's zlib.crc32, put a loan in the same split; HASH() would not (Hive: String.hashCode,
-- Spark: Murmur3). A loan is in one split only, on every run.
--
-- Files, all under TRAINING_ROOT:
--   examples/    Parquet, Snappy: table training_examples, every loan with an acquisition row, censored
--                ones included: loan_seq_no, source_period (of the acquisition row used), first_payment_date,
--                observed_months (m of the last report up to AS_OF; NULL without one), split, outcome
--                (ever_90_dpd, prepaid, observed or censored), ever_90_dpd_24m, then the features typed
--                (INT; orig_interest_rate DECIMAL(6, 3), orig_upb DECIMAL(14, 2)). training_baseline.hql
--                reads it.
--   train/       the train split's labelled examples, as SageMaker's XGBoost reads CSV: UTF-8, a row a line
--   validation/  ending in \n, no header, fields separated by ',', the label first and then the features
--                in FEATURES order (len(FEATURES) + 1 fields), a missing value as an empty field; integers
--                without a decimal point, decimals without trailing zeros (6.125, 235000), as
--                features.to_csv writes them. Row order is not defined. Read every file of the folder
--                (names differ by engine: 000000_0 from Hive, part-* from Spark).
-- NULL is written as '' by NULL DEFINED AS '' (Hive) and by the table property serialization.null.format
-- = '' (Spark SQL 4 ignores the NULL DEFINED AS clause of a Hive table, and writes \N, but honours the
-- property; Hive reads both). Views training_loans, training_outcomes and training_csv_rows hold the steps.
-- Every table is dropped (external: the files stay) and created again at this run's TRAINING_ROOT, then
-- overwritten (INSERT OVERWRITE), so a rerun replaces the run's files and another run never writes into an
-- earlier run's folder. The tables are named without the run: one training run at a time per database.

SELECT ASSERT_TRUE(
    '${AS_OF}' RLIKE '^[0-9]{4}-(0[1-9]|1[0-2])-01$'
    AND '${WINDOW_MONTHS}' RLIKE '^[1-9][0-9]{0,2}$'
    AND '${TRAIN_PERCENT}' RLIKE '^[1-9][0-9]?$'
) AS variables_checked;

DROP VIEW IF EXISTS ${DB}.training_loans;

-- One acquisition row per loan, its features mapped to the model's values.
CREATE VIEW ${DB}.training_loans AS
SELECT
    r.loan_seq_no,
    r.source_period,
    r.first_payment_date,
    r.credit_score,
    r.orig_ltv,
    r.orig_cltv,
    r.orig_dti,
    r.orig_interest_rate,
    r.orig_upb,
    r.orig_loan_term,
    r.mi_pct,
    r.num_borrowers,
    r.num_units,
    CASE r.first_time_homebuyer_flag WHEN 'N' THEN 0 WHEN 'Y' THEN 1 END AS first_time_homebuyer,
    CASE r.occupancy_status WHEN 'P' THEN 0 WHEN 'S' THEN 1 WHEN 'I' THEN 2 END AS occupancy,
    CASE r.loan_purpose WHEN 'P' THEN 0 WHEN 'N' THEN 1 WHEN 'C' THEN 2 WHEN 'R' THEN 3 END AS loan_purpose,
    CASE r.channel WHEN 'R' THEN 0 WHEN 'B' THEN 1 WHEN 'C' THEN 2 WHEN 'T' THEN 3 END AS channel,
    CASE r.property_type WHEN 'SF' THEN 0 WHEN 'PU' THEN 1 WHEN 'CO' THEN 2 WHEN 'MH' THEN 3 WHEN 'CP' THEN 4 END
        AS property_type
FROM (
    SELECT
        a.*,
        ROW_NUMBER() OVER (
            PARTITION BY a.loan_seq_no
            ORDER BY
                a.source_layout DESC,
                LENGTH(a.source_period) DESC,
                a.source_period DESC,
                a.first_payment_date ASC,
                a.credit_score ASC,
                a.orig_ltv ASC,
                a.orig_cltv ASC,
                a.orig_dti ASC,
                a.orig_interest_rate ASC,
                a.orig_upb ASC,
                a.orig_loan_term ASC,
                a.mi_pct ASC,
                a.num_borrowers ASC,
                a.num_units ASC,
                a.first_time_homebuyer_flag ASC,
                a.occupancy_status ASC,
                a.loan_purpose ASC,
                a.channel ASC,
                a.property_type ASC
        ) AS copy_rank
    FROM ${DB}.acquisition AS a
) AS r
WHERE r.copy_rank = 1;

DROP TABLE IF EXISTS ${DB}.training_examples;

CREATE EXTERNAL TABLE ${DB}.training_examples (
    loan_seq_no STRING,
    source_period STRING COMMENT 'source period of the acquisition row used',
    first_payment_date DATE,
    observed_months INT COMMENT 'months from first_payment_date to the last report up to AS_OF',
    split STRING COMMENT 'train or validation',
    outcome STRING COMMENT 'ever_90_dpd, prepaid, observed or censored',
    ever_90_dpd_24m INT COMMENT 'the label: 1, 0; NULL when censored',
    credit_score INT,
    orig_ltv INT,
    orig_cltv INT,
    orig_dti INT,
    orig_interest_rate DECIMAL(6, 3),
    orig_upb DECIMAL(14, 2),
    orig_loan_term INT,
    mi_pct INT,
    num_borrowers INT,
    num_units INT,
    first_time_homebuyer INT COMMENT 'N 0, Y 1',
    occupancy INT COMMENT 'P 0, S 1, I 2',
    loan_purpose INT COMMENT 'P 0, N 1, C 2, R 3',
    channel INT COMMENT 'R 0, B 1, C 2, T 3',
    property_type INT COMMENT 'SF 0, PU 1, CO 2, MH 3, CP 4'
)
COMMENT 'One example per loan: label (NULL when censored), split and model features'
STORED AS PARQUET
LOCATION '${TRAINING_ROOT}/examples'
TBLPROPERTIES ('parquet.compression' = 'SNAPPY');

DROP VIEW IF EXISTS ${DB}.training_outcomes;

-- Per loan, from its reports up to AS_OF: a default event in the window, a prepayment in the window, and the
-- month number of the last report.
CREATE VIEW ${DB}.training_outcomes AS
SELECT
    m.loan_seq_no,
    MAX(
        CASE
            WHEN
                m.month_number BETWEEN 0 AND CAST('${WINDOW_MONTHS}' AS INT)
                AND (m.delinquency_months >= 3 OR m.is_reo_acquisition OR m.zero_balance_code IN ('02', '03', '09'))
                THEN 1
            ELSE 0
        END
    ) AS defaulted,
    MAX(
        CASE
            WHEN m.month_number BETWEEN 0 AND CAST('${WINDOW_MONTHS}' AS INT) AND m.zero_balance_code = '01' THEN 1
            ELSE 0
        END
    ) AS prepaid,
    MAX(m.month_number) AS observed_months
FROM (
    SELECT
        p.loan_seq_no,
        p.delinquency_months,
        p.is_reo_acquisition,
        p.zero_balance_code,
        (YEAR(p.monthly_reporting_period) - YEAR(f.first_payment_date)) * 12
        + MONTH(p.monthly_reporting_period) - MONTH(f.first_payment_date) AS month_number
    FROM ${DB}.performance AS p
    INNER JOIN ${DB}.training_loans AS f ON p.loan_seq_no = f.loan_seq_no
    WHERE p.monthly_reporting_period <= CAST('${AS_OF}' AS DATE)
) AS m
GROUP BY m.loan_seq_no;

INSERT OVERWRITE TABLE ${DB}.training_examples
SELECT
    l.loan_seq_no,
    l.source_period,
    l.first_payment_date,
    o.observed_months,
    CASE WHEN PMOD(CRC32(l.loan_seq_no), 100) < CAST('${TRAIN_PERCENT}' AS INT) THEN 'train' ELSE 'validation' END
        AS split,
    CASE
        WHEN o.defaulted = 1 THEN 'ever_90_dpd'
        WHEN o.prepaid = 1 THEN 'prepaid'
        WHEN o.observed_months >= CAST('${WINDOW_MONTHS}' AS INT) THEN 'observed'
        ELSE 'censored'
    END AS outcome,
    CASE
        WHEN o.defaulted = 1 THEN 1
        WHEN o.prepaid = 1 OR o.observed_months >= CAST('${WINDOW_MONTHS}' AS INT) THEN 0
    END AS ever_90_dpd_24m,
    l.credit_score,
    l.orig_ltv,
    l.orig_cltv,
    l.orig_dti,
    l.orig_interest_rate,
    l.orig_upb,
    l.orig_loan_term,
    l.mi_pct,
    l.num_borrowers,
    l.num_units,
    l.first_time_homebuyer,
    l.occupancy,
    l.loan_purpose,
    l.channel,
    l.property_type
FROM ${DB}.training_loans AS l
LEFT JOIN ${DB}.training_outcomes AS o ON l.loan_seq_no = o.loan_seq_no;

DROP VIEW IF EXISTS ${DB}.training_csv_rows;

-- The labelled examples as the CSV files hold them, with their split.
CREATE VIEW ${DB}.training_csv_rows AS
SELECT
    e.split,
    e.ever_90_dpd_24m,
    e.credit_score,
    e.orig_ltv,
    e.orig_cltv,
    e.orig_dti,
    REGEXP_REPLACE(CAST(e.orig_interest_rate AS STRING), '([.][0-9]*[1-9])0+$|[.]0+$', '$1') AS orig_interest_rate,
    REGEXP_REPLACE(CAST(e.orig_upb AS STRING), '([.][0-9]*[1-9])0+$|[.]0+$', '$1') AS orig_upb,
    e.orig_loan_term,
    e.mi_pct,
    e.num_borrowers,
    e.num_units,
    e.first_time_homebuyer,
    e.occupancy,
    e.loan_purpose,
    e.channel,
    e.property_type
FROM ${DB}.training_examples AS e
WHERE e.ever_90_dpd_24m IS NOT NULL;

DROP TABLE IF EXISTS ${DB}.training_train;

CREATE EXTERNAL TABLE ${DB}.training_train (
    ever_90_dpd_24m INT COMMENT 'the label',
    credit_score INT,
    orig_ltv INT,
    orig_cltv INT,
    orig_dti INT,
    orig_interest_rate STRING COMMENT 'a decimal without trailing zeros',
    orig_upb STRING COMMENT 'a decimal without trailing zeros',
    orig_loan_term INT,
    mi_pct INT,
    num_borrowers INT,
    num_units INT,
    first_time_homebuyer INT,
    occupancy INT,
    loan_purpose INT,
    channel INT,
    property_type INT
)
COMMENT 'Train split as CSV for SageMaker XGBoost: label first, no header, empty field for missing'
ROW FORMAT DELIMITED
FIELDS TERMINATED BY ','
LINES TERMINATED BY '\n'
NULL DEFINED AS ''
STORED AS TEXTFILE
LOCATION '${TRAINING_ROOT}/train'
TBLPROPERTIES ('serialization.null.format' = '');

DROP TABLE IF EXISTS ${DB}.training_validation;

CREATE EXTERNAL TABLE ${DB}.training_validation (
    ever_90_dpd_24m INT COMMENT 'the label',
    credit_score INT,
    orig_ltv INT,
    orig_cltv INT,
    orig_dti INT,
    orig_interest_rate STRING COMMENT 'a decimal without trailing zeros',
    orig_upb STRING COMMENT 'a decimal without trailing zeros',
    orig_loan_term INT,
    mi_pct INT,
    num_borrowers INT,
    num_units INT,
    first_time_homebuyer INT,
    occupancy INT,
    loan_purpose INT,
    channel INT,
    property_type INT
)
COMMENT 'Validation split as CSV for SageMaker XGBoost: label first, no header, empty field for missing'
ROW FORMAT DELIMITED
FIELDS TERMINATED BY ','
LINES TERMINATED BY '\n'
NULL DEFINED AS ''
STORED AS TEXTFILE
LOCATION '${TRAINING_ROOT}/validation'
TBLPROPERTIES ('serialization.null.format' = '');

FROM ${DB}.training_csv_rows AS c
INSERT OVERWRITE TABLE ${DB}.training_train
SELECT
    ever_90_dpd_24m,
    credit_score,
    orig_ltv,
    orig_cltv,
    orig_dti,
    orig_interest_rate,
    orig_upb,
    orig_loan_term,
    mi_pct,
    num_borrowers,
    num_units,
    first_time_homebuyer,
    occupancy,
    loan_purpose,
    channel,
    property_type
WHERE split = 'train'
INSERT OVERWRITE TABLE ${DB}.training_validation
SELECT
    ever_90_dpd_24m,
    credit_score,
    orig_ltv,
    orig_cltv,
    orig_dti,
    orig_interest_rate,
    orig_upb,
    orig_loan_term,
    mi_pct,
    num_borrowers,
    num_units,
    first_time_homebuyer,
    occupancy,
    loan_purpose,
    channel,
    property_type
WHERE split = 'validation';
