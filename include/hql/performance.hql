-- Step 5 of 6: the processed performance table: good monthly performance lines of the period, typed, both
-- layouts in one schema.
--
-- Variables: DB (database), PROCESSED_ROOT (e.g. s3://loanlake-data/processed), PERIOD (2017Q1 or 2017).
-- Reads the view performance_checked (quarantine.hql) and keeps the lines whose reason is NULL.
--
-- Conversions: numbers to INT or DECIMAL, YYYYMM dates to the first day of the month, strings trimmed
-- ('' -> NULL), eltv 999 and mi_cancellation_indicator 9 to NULL. Columns carry the legacy field names;
-- Release 47 only columns (mi_cancellation_indicator, servicer_name, bankruptcy_cramdown_costs) are NULL
-- for legacy rows.
--
-- Delinquency status, reported as months missed ('0', '1', ... in legacy files, '00', '01', ... in
-- Release 47), 'RA' (REO acquisition) or 'XX' (unknown):
--   delinquency_status      normalised to two digits ('00', '01', ..., '10', ...), or 'RA' / 'XX'
--   delinquency_months      the months missed as INT; NULL for RA, XX and blank
--   is_reo_acquisition      TRUE for RA
--   delinquency_status_raw  the code as the file reported it
--
-- Signs: the Release 47 convention for every row: expenses (expenses, legal_costs,
-- maintenance_preservation_costs, taxes_insurance, misc_expenses) and actual_loss positive, recoveries
-- (mi_recoveries, non_mi_recoveries) negative. Legacy files report these eight with the opposite sign, so
-- they are negated; net_sales_proceeds, delinquent_accrued_interest and zero_balance_removal_upb are
-- positive in both layouts and kept. net_sales_proceeds C or U (covered, unknown) goes to
-- net_sales_proceeds_code with net_sales_proceeds NULL. zero_balance_code stays a string ('01', '09', ...).
--
-- Partitions: (source_period, reporting_quarter). The raw period is the source file's (the loans'
-- origination quarter, or a sample year) while its rows span many reporting quarters, so source_period
-- leads: a rerun of period P overwrites exactly the reporting quarters P's file holds (dynamic INSERT
-- OVERWRITE) and never a row another source period wrote; reporting_quarter ('2017Q2', from
-- monthly_reporting_period) under it prunes by reporting time. A rerun with a file that reports fewer
-- quarters than before leaves the missing quarters' old partitions in place (Freddie Mac files only
-- grow; drop source_period=P first if one ever shrinks). Each partition is written by one task, rows
-- ordered by loan id and reporting month. Parquet, Snappy. The static source_period keeps the insert
-- valid in Hive's default strict dynamic-partition mode.

CREATE EXTERNAL TABLE IF NOT EXISTS ${DB}.performance (
    loan_seq_no STRING,
    monthly_reporting_period DATE,
    current_actual_upb DECIMAL(14, 2),
    delinquency_status STRING COMMENT '00, 01, ... (months missed, two digits at least), RA or XX',
    delinquency_months INT COMMENT 'months missed; NULL for RA, XX and blank',
    is_reo_acquisition BOOLEAN COMMENT 'delinquency status RA',
    delinquency_status_raw STRING COMMENT 'delinquency status as reported',
    loan_age INT,
    remaining_months_to_maturity INT,
    defect_settlement_date DATE,
    modification_flag STRING,
    zero_balance_code STRING COMMENT '01 prepaid, 02, 03, 06, 09 REO, 15, 16, 96',
    zero_balance_effective_date DATE,
    current_interest_rate DECIMAL(6, 3),
    current_non_interest_bearing_upb DECIMAL(14, 2),
    ddlpi DATE COMMENT 'due date of last paid installment',
    mi_recoveries DECIMAL(14, 2) COMMENT 'negative (Release 47 sign convention)',
    net_sales_proceeds DECIMAL(14, 2),
    net_sales_proceeds_code STRING COMMENT 'C or U where net_sales_proceeds is not an amount',
    non_mi_recoveries DECIMAL(14, 2) COMMENT 'negative (Release 47 sign convention)',
    expenses DECIMAL(14, 2) COMMENT 'positive (Release 47 sign convention)',
    legal_costs DECIMAL(14, 2) COMMENT 'positive',
    maintenance_preservation_costs DECIMAL(14, 2) COMMENT 'positive',
    taxes_insurance DECIMAL(14, 2) COMMENT 'positive',
    misc_expenses DECIMAL(14, 2) COMMENT 'positive',
    actual_loss DECIMAL(14, 2) COMMENT 'positive for a loss (Release 47 sign convention)',
    modification_cost DECIMAL(14, 2),
    step_modification_flag STRING,
    payment_deferral STRING,
    eltv INT COMMENT 'estimated current LTV; NULL when not available',
    zero_balance_removal_upb DECIMAL(14, 2),
    delinquent_accrued_interest DECIMAL(14, 2),
    delinquency_due_to_disaster STRING,
    borrower_assistance_status STRING,
    current_month_modification_cost DECIMAL(14, 2),
    interest_bearing_upb DECIMAL(14, 2),
    mi_cancellation_indicator STRING COMMENT 'Release 47 only',
    servicer_name STRING COMMENT 'Release 47 only',
    bankruptcy_cramdown_costs DECIMAL(14, 2) COMMENT 'Release 47 only',
    source_layout STRING COMMENT 'legacy or r47'
)
COMMENT 'Freddie Mac monthly loan performance records, typed, both layouts'
PARTITIONED BY (
    source_period STRING COMMENT 'period of the raw file: 2017Q1, or 2017 for a sample',
    reporting_quarter STRING COMMENT 'quarter of monthly_reporting_period, e.g. 2017Q2'
)
STORED AS PARQUET
LOCATION '${PROCESSED_ROOT}/performance'
TBLPROPERTIES ('parquet.compression' = 'SNAPPY');

INSERT OVERWRITE TABLE ${DB}.performance PARTITION (source_period = '${PERIOD}', reporting_quarter)
SELECT
    c.loan_seq_no,
    CAST(
        CONCAT(SUBSTR(c.monthly_reporting_period, 1, 4), '-', SUBSTR(c.monthly_reporting_period, 5, 2), '-01') AS DATE
    ) AS monthly_reporting_period,
    CAST(c.current_actual_upb AS DECIMAL(14, 2)) AS current_actual_upb,
    CASE
        WHEN c.current_delinquency_status RLIKE '^[0-9]$' THEN CONCAT('0', c.current_delinquency_status)
        ELSE c.current_delinquency_status
    END AS delinquency_status,
    CASE
        WHEN c.current_delinquency_status RLIKE '^[0-9]+$' THEN CAST(c.current_delinquency_status AS INT)
    END AS delinquency_months,
    COALESCE(c.current_delinquency_status = 'RA', FALSE) AS is_reo_acquisition,
    c.current_delinquency_status AS delinquency_status_raw,
    CAST(c.loan_age AS INT) AS loan_age,
    CAST(c.remaining_months_to_maturity AS INT) AS remaining_months_to_maturity,
    CAST(
        CONCAT(SUBSTR(c.defect_settlement_date, 1, 4), '-', SUBSTR(c.defect_settlement_date, 5, 2), '-01') AS DATE
    ) AS defect_settlement_date,
    c.modification_flag,
    c.zero_balance_code,
    CAST(
        CONCAT(
            SUBSTR(c.zero_balance_effective_date, 1, 4), '-', SUBSTR(c.zero_balance_effective_date, 5, 2), '-01'
        ) AS DATE
    ) AS zero_balance_effective_date,
    CAST(c.current_interest_rate AS DECIMAL(6, 3)) AS current_interest_rate,
    CAST(c.current_non_interest_bearing_upb AS DECIMAL(14, 2)) AS current_non_interest_bearing_upb,
    CAST(CONCAT(SUBSTR(c.ddlpi, 1, 4), '-', SUBSTR(c.ddlpi, 5, 2), '-01') AS DATE) AS ddlpi,
    CAST(c.sign * CAST(c.mi_recoveries AS DECIMAL(14, 2)) AS DECIMAL(14, 2)) AS mi_recoveries,
    CASE
        WHEN c.net_sales_proceeds NOT IN ('C', 'U') THEN CAST(c.net_sales_proceeds AS DECIMAL(14, 2))
    END AS net_sales_proceeds,
    CASE WHEN c.net_sales_proceeds IN ('C', 'U') THEN c.net_sales_proceeds END AS net_sales_proceeds_code,
    CAST(c.sign * CAST(c.non_mi_recoveries AS DECIMAL(14, 2)) AS DECIMAL(14, 2)) AS non_mi_recoveries,
    CAST(c.sign * CAST(c.expenses AS DECIMAL(14, 2)) AS DECIMAL(14, 2)) AS expenses,
    CAST(c.sign * CAST(c.legal_costs AS DECIMAL(14, 2)) AS DECIMAL(14, 2)) AS legal_costs,
    CAST(
        c.sign * CAST(c.maintenance_preservation_costs AS DECIMAL(14, 2)) AS DECIMAL(14, 2)
    ) AS maintenance_preservation_costs,
    CAST(c.sign * CAST(c.taxes_insurance AS DECIMAL(14, 2)) AS DECIMAL(14, 2)) AS taxes_insurance,
    CAST(c.sign * CAST(c.misc_expenses AS DECIMAL(14, 2)) AS DECIMAL(14, 2)) AS misc_expenses,
    CAST(c.sign * CAST(c.actual_loss AS DECIMAL(14, 2)) AS DECIMAL(14, 2)) AS actual_loss,
    CAST(c.modification_cost AS DECIMAL(14, 2)) AS modification_cost,
    c.step_modification_flag,
    c.payment_deferral,
    CAST(NULLIF(c.eltv, '999') AS INT) AS eltv,
    CAST(c.zero_balance_removal_upb AS DECIMAL(14, 2)) AS zero_balance_removal_upb,
    CAST(c.delinquent_accrued_interest AS DECIMAL(14, 2)) AS delinquent_accrued_interest,
    c.delinquency_due_to_disaster,
    c.borrower_assistance_status,
    CAST(c.current_month_modification_cost AS DECIMAL(14, 2)) AS current_month_modification_cost,
    CAST(c.interest_bearing_upb AS DECIMAL(14, 2)) AS interest_bearing_upb,
    NULLIF(c.mi_cancellation_indicator, '9') AS mi_cancellation_indicator,
    c.servicer_name,
    CAST(c.bankruptcy_cramdown_costs AS DECIMAL(14, 2)) AS bankruptcy_cramdown_costs,
    c.source_layout,
    CONCAT(
        SUBSTR(c.monthly_reporting_period, 1, 4),
        'Q',
        CAST(CEIL(CAST(SUBSTR(c.monthly_reporting_period, 5, 2) AS INT) / 3) AS STRING)
    ) AS reporting_quarter
FROM (
    SELECT
        p.*,
        CASE WHEN p.source_layout = 'legacy' THEN -1 ELSE 1 END AS sign
    FROM ${DB}.performance_checked AS p
    WHERE p.period = '${PERIOD}' AND p.reason IS NULL
) AS c
DISTRIBUTE BY reporting_quarter
SORT BY reporting_quarter, loan_seq_no, monthly_reporting_period;
