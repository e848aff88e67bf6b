-- Step 3 of 6: check every raw line of the period; lines that fail go to the quarantine table with a reason.
--
-- Variables: DB (database), QUARANTINE_ROOT (e.g. s3://loanlake-data/quarantine), PERIOD (2017Q1 or 2017).
--
-- The views origination_checked and performance_checked are the single definition of a good line: they
-- clean each line (a leading UTF-8 byte order mark and a trailing carriage return are removed), split it
-- on '|', name the fields of both layouts (NULL where a layout has no such field; trimmed; '' -> NULL)
-- and give the first reason that applies, or NULL for a good line. acquisition.hql and performance.hql
-- load the lines whose reason is NULL, so kept + quarantined = read, exactly.
--
-- Reasons, checked in this order (a line gets the first that applies):
--   'empty line'        nothing but spaces; counted, never dropped silently
--   'wrong field count' fields <> the layout of the folder the file sits in (legacy: 32 and 32; r47: 31 and
--                       35 for origination and performance), so a 31-field line under legacy/ is a legacy
--                       line that lost a field, not a Release 47 line
--   'unparsable number' a numeric field that is not a number (net_sales_proceeds may also be C or U)
--   'impossible date'   a YYYYMM field with a month outside 01-12 or not six digits; a missing first
--                       payment, maturity or reporting month too
--   'unknown code'      a loan id not shaped like F17Q10000001, or a coded field outside its documented
--                       values (flags, property type, delinquency status, zero balance code, ...)
-- Generator defects: wrong_field_count, non_numeric_number, impossible_date and empty_line are quarantined
-- as the reasons of the same names; crlf_endings, trailing_spaces and utf8_bom are cleaned and kept.
--
-- Line numbers are 1-based and count empty lines. BLOCK__OFFSET__INSIDE__FILE orders a file's lines; to
-- avoid sorting a whole file in one task, lines are numbered within 64 MiB chunks of a file and the chunk
-- gets the count of the lines before it.
--
-- The quarantine table (Parquet, Snappy) is partitioned by source table and period, and each of the four
-- partitions of the period is overwritten, even with no rows, so a rerun leaves no stale lines behind.

DROP VIEW IF EXISTS ${DB}.origination_checked;

-- Origination lines of both layouts, fields by name (NULL where a layout lacks one), with their reason.
CREATE VIEW ${DB}.origination_checked AS
SELECT
    n.*,
    CASE
        WHEN TRIM(n.clean_line) = '' THEN 'empty line'
        WHEN n.field_count != n.expected_field_count THEN 'wrong field count'
        WHEN
            n.credit_score NOT RLIKE '^-?[0-9]+$'
            OR n.mi_pct NOT RLIKE '^-?[0-9]+$'
            OR n.num_units NOT RLIKE '^-?[0-9]+$'
            OR n.orig_cltv NOT RLIKE '^-?[0-9]+$'
            OR n.orig_dti NOT RLIKE '^-?[0-9]+$'
            OR n.orig_ltv NOT RLIKE '^-?[0-9]+$'
            OR n.orig_loan_term NOT RLIKE '^-?[0-9]+$'
            OR n.num_borrowers NOT RLIKE '^-?[0-9]+$'
            OR n.vantagescore_4 NOT RLIKE '^-?[0-9]+$'
            OR n.orig_upb NOT RLIKE '^-?[0-9]*[.]?[0-9]+$'
            OR n.orig_interest_rate NOT RLIKE '^-?[0-9]*[.]?[0-9]+$'
            THEN 'unparsable number'
        WHEN
            COALESCE(n.first_payment_date, '') NOT RLIKE '^[0-9]{4}(0[1-9]|1[0-2])$'
            OR COALESCE(n.maturity_date, '') NOT RLIKE '^[0-9]{4}(0[1-9]|1[0-2])$'
            THEN 'impossible date'
        WHEN
            COALESCE(n.loan_seq_no, '') NOT RLIKE '^[A-Z][0-9]{2}Q[1-4][0-9]{7}$'
            OR n.first_time_homebuyer_flag NOT IN ('Y', 'N', '9')
            OR n.occupancy_status NOT IN ('P', 'I', 'S', '9')
            OR n.channel NOT IN ('R', 'B', 'C', 'T', '9')
            OR n.ppm_flag NOT IN ('Y', 'N')
            OR n.amortization_type NOT IN ('FRM', 'ARM')
            OR n.property_state NOT RLIKE '^[A-Z]{2}$'
            OR n.property_type NOT IN ('SF', 'CO', 'PU', 'MH', 'CP', '99')
            OR n.msa NOT RLIKE '^[0-9]{5}$'
            OR n.postal_code NOT RLIKE '^[0-9]{5}$'
            OR n.loan_purpose NOT IN ('P', 'C', 'N', 'R', '9')
            OR n.super_conforming_flag != 'Y'
            OR n.program_indicator NOT IN ('H', 'F', 'R', '9')
            OR n.harp_indicator != 'Y'
            OR n.property_valuation_method NOT IN ('1', '2', '3', '4', '9')
            OR n.interest_only_indicator NOT IN ('Y', 'N')
            OR n.mi_cancellation_indicator NOT IN ('Y', 'N', '7', '9')
            THEN 'unknown code'
    END AS reason
FROM (
    SELECT
        'raw_legacy_origination' AS source_table,
        'legacy' AS source_layout,
        c.period,
        c.source_file,
        c.line_position,
        c.line,
        c.clean_line,
        LENGTH(c.clean_line) - LENGTH(REGEXP_REPLACE(c.clean_line, '[|]', '')) + 1 AS field_count,
        32 AS expected_field_count,
        NULLIF(TRIM(c.f[0]), '') AS credit_score,
        NULLIF(TRIM(c.f[1]), '') AS first_payment_date,
        NULLIF(TRIM(c.f[2]), '') AS first_time_homebuyer_flag,
        NULLIF(TRIM(c.f[3]), '') AS maturity_date,
        NULLIF(TRIM(c.f[4]), '') AS msa,
        NULLIF(TRIM(c.f[5]), '') AS mi_pct,
        NULLIF(TRIM(c.f[6]), '') AS num_units,
        NULLIF(TRIM(c.f[7]), '') AS occupancy_status,
        NULLIF(TRIM(c.f[8]), '') AS orig_cltv,
        NULLIF(TRIM(c.f[9]), '') AS orig_dti,
        NULLIF(TRIM(c.f[10]), '') AS orig_upb,
        NULLIF(TRIM(c.f[11]), '') AS orig_ltv,
        NULLIF(TRIM(c.f[12]), '') AS orig_interest_rate,
        NULLIF(TRIM(c.f[13]), '') AS channel,
        NULLIF(TRIM(c.f[14]), '') AS ppm_flag,
        NULLIF(TRIM(c.f[15]), '') AS amortization_type,
        NULLIF(TRIM(c.f[16]), '') AS property_state,
        NULLIF(TRIM(c.f[17]), '') AS property_type,
        NULLIF(TRIM(c.f[18]), '') AS postal_code,
        NULLIF(TRIM(c.f[19]), '') AS loan_seq_no,
        NULLIF(TRIM(c.f[20]), '') AS loan_purpose,
        NULLIF(TRIM(c.f[21]), '') AS orig_loan_term,
        NULLIF(TRIM(c.f[22]), '') AS num_borrowers,
        NULLIF(TRIM(c.f[23]), '') AS seller_name,
        NULLIF(TRIM(c.f[24]), '') AS servicer_name,
        NULLIF(TRIM(c.f[25]), '') AS super_conforming_flag,
        NULLIF(TRIM(c.f[26]), '') AS pre_harp_loan_seq_no,
        NULLIF(TRIM(c.f[27]), '') AS program_indicator,
        NULLIF(TRIM(c.f[28]), '') AS harp_indicator,
        NULLIF(TRIM(c.f[29]), '') AS property_valuation_method,
        NULLIF(TRIM(c.f[30]), '') AS interest_only_indicator,
        NULLIF(TRIM(c.f[31]), '') AS mi_cancellation_indicator,
        CAST(NULL AS STRING) AS vantagescore_4
    FROM (
        SELECT
            r.period,
            input__file__name AS source_file,
            block__offset__inside__file AS line_position,
            r.line,
            REGEXP_REPLACE(COALESCE(r.line, ''), '^\\uFEFF|\\r$', '') AS clean_line,
            SPLIT(REGEXP_REPLACE(COALESCE(r.line, ''), '^\\uFEFF|\\r$', ''), '[|]') AS f
        FROM ${DB}.raw_legacy_origination AS r
    ) AS c
    UNION ALL
    SELECT
        'raw_r47_origination' AS source_table,
        'r47' AS source_layout,
        c.period,
        c.source_file,
        c.line_position,
        c.line,
        c.clean_line,
        LENGTH(c.clean_line) - LENGTH(REGEXP_REPLACE(c.clean_line, '[|]', '')) + 1 AS field_count,
        31 AS expected_field_count,
        NULLIF(TRIM(c.f[0]), '') AS credit_score,
        NULLIF(TRIM(c.f[1]), '') AS first_payment_date,
        NULLIF(TRIM(c.f[2]), '') AS first_time_homebuyer_flag,
        NULLIF(TRIM(c.f[3]), '') AS maturity_date,
        NULLIF(TRIM(c.f[4]), '') AS msa,
        NULLIF(TRIM(c.f[5]), '') AS mi_pct,
        NULLIF(TRIM(c.f[6]), '') AS num_units,
        NULLIF(TRIM(c.f[7]), '') AS occupancy_status,
        NULLIF(TRIM(c.f[8]), '') AS orig_cltv,
        NULLIF(TRIM(c.f[9]), '') AS orig_dti,
        NULLIF(TRIM(c.f[10]), '') AS orig_upb,
        NULLIF(TRIM(c.f[11]), '') AS orig_ltv,
        NULLIF(TRIM(c.f[12]), '') AS orig_interest_rate,
        NULLIF(TRIM(c.f[13]), '') AS channel,
        NULLIF(TRIM(c.f[14]), '') AS ppm_flag,
        NULLIF(TRIM(c.f[15]), '') AS amortization_type,
        NULLIF(TRIM(c.f[16]), '') AS property_state,
        NULLIF(TRIM(c.f[17]), '') AS property_type,
        NULLIF(TRIM(c.f[18]), '') AS postal_code,
        NULLIF(TRIM(c.f[19]), '') AS loan_seq_no,
        NULLIF(TRIM(c.f[20]), '') AS loan_purpose,
        NULLIF(TRIM(c.f[21]), '') AS orig_loan_term,
        NULLIF(TRIM(c.f[22]), '') AS num_borrowers,
        NULLIF(TRIM(c.f[23]), '') AS seller_name,
        CAST(NULL AS STRING) AS servicer_name,
        NULLIF(TRIM(c.f[24]), '') AS super_conforming_flag,
        NULLIF(TRIM(c.f[25]), '') AS pre_harp_loan_seq_no,
        NULLIF(TRIM(c.f[26]), '') AS program_indicator,
        NULLIF(TRIM(c.f[27]), '') AS harp_indicator,
        NULLIF(TRIM(c.f[28]), '') AS property_valuation_method,
        NULLIF(TRIM(c.f[29]), '') AS interest_only_indicator,
        CAST(NULL AS STRING) AS mi_cancellation_indicator,
        NULLIF(TRIM(c.f[30]), '') AS vantagescore_4
    FROM (
        SELECT
            r.period,
            input__file__name AS source_file,
            block__offset__inside__file AS line_position,
            r.line,
            REGEXP_REPLACE(COALESCE(r.line, ''), '^\\uFEFF|\\r$', '') AS clean_line,
            SPLIT(REGEXP_REPLACE(COALESCE(r.line, ''), '^\\uFEFF|\\r$', ''), '[|]') AS f
        FROM ${DB}.raw_r47_origination AS r
    ) AS c
) AS n;

DROP VIEW IF EXISTS ${DB}.performance_checked;

-- Performance lines of both layouts, fields by legacy name (NULL where a layout lacks one), with their reason.
CREATE VIEW ${DB}.performance_checked AS
SELECT
    n.*,
    CASE
        WHEN TRIM(n.clean_line) = '' THEN 'empty line'
        WHEN n.field_count != n.expected_field_count THEN 'wrong field count'
        WHEN
            n.loan_age NOT RLIKE '^-?[0-9]+$'
            OR n.remaining_months_to_maturity NOT RLIKE '^-?[0-9]+$'
            OR n.eltv NOT RLIKE '^-?[0-9]+$'
            OR n.current_actual_upb NOT RLIKE '^-?[0-9]*[.]?[0-9]+$'
            OR n.current_interest_rate NOT RLIKE '^-?[0-9]*[.]?[0-9]+$'
            OR n.current_non_interest_bearing_upb NOT RLIKE '^-?[0-9]*[.]?[0-9]+$'
            OR n.mi_recoveries NOT RLIKE '^-?[0-9]*[.]?[0-9]+$'
            OR n.non_mi_recoveries NOT RLIKE '^-?[0-9]*[.]?[0-9]+$'
            OR n.expenses NOT RLIKE '^-?[0-9]*[.]?[0-9]+$'
            OR n.legal_costs NOT RLIKE '^-?[0-9]*[.]?[0-9]+$'
            OR n.maintenance_preservation_costs NOT RLIKE '^-?[0-9]*[.]?[0-9]+$'
            OR n.taxes_insurance NOT RLIKE '^-?[0-9]*[.]?[0-9]+$'
            OR n.misc_expenses NOT RLIKE '^-?[0-9]*[.]?[0-9]+$'
            OR n.actual_loss NOT RLIKE '^-?[0-9]*[.]?[0-9]+$'
            OR n.modification_cost NOT RLIKE '^-?[0-9]*[.]?[0-9]+$'
            OR n.zero_balance_removal_upb NOT RLIKE '^-?[0-9]*[.]?[0-9]+$'
            OR n.delinquent_accrued_interest NOT RLIKE '^-?[0-9]*[.]?[0-9]+$'
            OR n.current_month_modification_cost NOT RLIKE '^-?[0-9]*[.]?[0-9]+$'
            OR n.interest_bearing_upb NOT RLIKE '^-?[0-9]*[.]?[0-9]+$'
            OR n.bankruptcy_cramdown_costs NOT RLIKE '^-?[0-9]*[.]?[0-9]+$'
            OR (n.net_sales_proceeds NOT RLIKE '^-?[0-9]*[.]?[0-9]+$' AND n.net_sales_proceeds NOT IN ('C', 'U'))
            THEN 'unparsable number'
        WHEN
            COALESCE(n.monthly_reporting_period, '') NOT RLIKE '^[0-9]{4}(0[1-9]|1[0-2])$'
            OR n.defect_settlement_date NOT RLIKE '^[0-9]{4}(0[1-9]|1[0-2])$'
            OR n.zero_balance_effective_date NOT RLIKE '^[0-9]{4}(0[1-9]|1[0-2])$'
            OR n.ddlpi NOT RLIKE '^[0-9]{4}(0[1-9]|1[0-2])$'
            THEN 'impossible date'
        WHEN
            COALESCE(n.loan_seq_no, '') NOT RLIKE '^[A-Z][0-9]{2}Q[1-4][0-9]{7}$'
            OR n.current_delinquency_status NOT RLIKE '^([0-9]{1,3}|RA|XX)$'
            OR n.modification_flag NOT IN ('Y', 'P')
            OR n.zero_balance_code NOT IN ('01', '02', '03', '06', '09', '15', '16', '96')
            OR n.delinquency_due_to_disaster != 'Y'
            OR n.borrower_assistance_status NOT IN ('F', 'R', 'T')
            OR n.mi_cancellation_indicator NOT IN ('Y', 'N', '7', '9')
            THEN 'unknown code'
    END AS reason
FROM (
    SELECT
        'raw_legacy_performance' AS source_table,
        'legacy' AS source_layout,
        c.period,
        c.source_file,
        c.line_position,
        c.line,
        c.clean_line,
        LENGTH(c.clean_line) - LENGTH(REGEXP_REPLACE(c.clean_line, '[|]', '')) + 1 AS field_count,
        32 AS expected_field_count,
        NULLIF(TRIM(c.f[0]), '') AS loan_seq_no,
        NULLIF(TRIM(c.f[1]), '') AS monthly_reporting_period,
        NULLIF(TRIM(c.f[2]), '') AS current_actual_upb,
        NULLIF(TRIM(c.f[3]), '') AS current_delinquency_status,
        NULLIF(TRIM(c.f[4]), '') AS loan_age,
        NULLIF(TRIM(c.f[5]), '') AS remaining_months_to_maturity,
        NULLIF(TRIM(c.f[6]), '') AS defect_settlement_date,
        NULLIF(TRIM(c.f[7]), '') AS modification_flag,
        NULLIF(TRIM(c.f[8]), '') AS zero_balance_code,
        NULLIF(TRIM(c.f[9]), '') AS zero_balance_effective_date,
        NULLIF(TRIM(c.f[10]), '') AS current_interest_rate,
        NULLIF(TRIM(c.f[11]), '') AS current_non_interest_bearing_upb,
        NULLIF(TRIM(c.f[12]), '') AS ddlpi,
        NULLIF(TRIM(c.f[13]), '') AS mi_recoveries,
        NULLIF(TRIM(c.f[14]), '') AS net_sales_proceeds,
        NULLIF(TRIM(c.f[15]), '') AS non_mi_recoveries,
        NULLIF(TRIM(c.f[16]), '') AS expenses,
        NULLIF(TRIM(c.f[17]), '') AS legal_costs,
        NULLIF(TRIM(c.f[18]), '') AS maintenance_preservation_costs,
        NULLIF(TRIM(c.f[19]), '') AS taxes_insurance,
        NULLIF(TRIM(c.f[20]), '') AS misc_expenses,
        NULLIF(TRIM(c.f[21]), '') AS actual_loss,
        NULLIF(TRIM(c.f[22]), '') AS modification_cost,
        NULLIF(TRIM(c.f[23]), '') AS step_modification_flag,
        NULLIF(TRIM(c.f[24]), '') AS payment_deferral,
        NULLIF(TRIM(c.f[25]), '') AS eltv,
        NULLIF(TRIM(c.f[26]), '') AS zero_balance_removal_upb,
        NULLIF(TRIM(c.f[27]), '') AS delinquent_accrued_interest,
        NULLIF(TRIM(c.f[28]), '') AS delinquency_due_to_disaster,
        NULLIF(TRIM(c.f[29]), '') AS borrower_assistance_status,
        NULLIF(TRIM(c.f[30]), '') AS current_month_modification_cost,
        NULLIF(TRIM(c.f[31]), '') AS interest_bearing_upb,
        CAST(NULL AS STRING) AS mi_cancellation_indicator,
        CAST(NULL AS STRING) AS servicer_name,
        CAST(NULL AS STRING) AS bankruptcy_cramdown_costs
    FROM (
        SELECT
            r.period,
            input__file__name AS source_file,
            block__offset__inside__file AS line_position,
            r.line,
            REGEXP_REPLACE(COALESCE(r.line, ''), '^\\uFEFF|\\r$', '') AS clean_line,
            SPLIT(REGEXP_REPLACE(COALESCE(r.line, ''), '^\\uFEFF|\\r$', ''), '[|]') AS f
        FROM ${DB}.raw_legacy_performance AS r
    ) AS c
    UNION ALL
    SELECT
        'raw_r47_performance' AS source_table,
        'r47' AS source_layout,
        c.period,
        c.source_file,
        c.line_position,
        c.line,
        c.clean_line,
        LENGTH(c.clean_line) - LENGTH(REGEXP_REPLACE(c.clean_line, '[|]', '')) + 1 AS field_count,
        35 AS expected_field_count,
        NULLIF(TRIM(c.f[0]), '') AS loan_seq_no,
        NULLIF(TRIM(c.f[1]), '') AS monthly_reporting_period,
        NULLIF(TRIM(c.f[2]), '') AS current_actual_upb,
        NULLIF(TRIM(c.f[3]), '') AS current_delinquency_status,
        NULLIF(TRIM(c.f[4]), '') AS loan_age,
        NULLIF(TRIM(c.f[5]), '') AS remaining_months_to_maturity,
        NULLIF(TRIM(c.f[6]), '') AS defect_settlement_date,
        NULLIF(TRIM(c.f[7]), '') AS modification_flag,
        NULLIF(TRIM(c.f[8]), '') AS zero_balance_code,
        NULLIF(TRIM(c.f[9]), '') AS zero_balance_effective_date,
        NULLIF(TRIM(c.f[10]), '') AS current_interest_rate,
        NULLIF(TRIM(c.f[11]), '') AS current_non_interest_bearing_upb,
        NULLIF(TRIM(c.f[12]), '') AS ddlpi,
        NULLIF(TRIM(c.f[13]), '') AS mi_recoveries,
        NULLIF(TRIM(c.f[14]), '') AS net_sales_proceeds,
        NULLIF(TRIM(c.f[15]), '') AS non_mi_recoveries,
        NULLIF(TRIM(c.f[16]), '') AS expenses,
        NULLIF(TRIM(c.f[17]), '') AS legal_costs,
        NULLIF(TRIM(c.f[18]), '') AS maintenance_preservation_costs,
        NULLIF(TRIM(c.f[19]), '') AS taxes_insurance,
        NULLIF(TRIM(c.f[20]), '') AS misc_expenses,
        NULLIF(TRIM(c.f[21]), '') AS actual_loss,
        NULLIF(TRIM(c.f[22]), '') AS modification_cost,
        NULLIF(TRIM(c.f[23]), '') AS step_modification_flag,
        NULLIF(TRIM(c.f[24]), '') AS payment_deferral,
        NULLIF(TRIM(c.f[25]), '') AS eltv,
        NULLIF(TRIM(c.f[26]), '') AS zero_balance_removal_upb,
        NULLIF(TRIM(c.f[27]), '') AS delinquent_accrued_interest,
        NULLIF(TRIM(c.f[28]), '') AS delinquency_due_to_disaster,
        NULLIF(TRIM(c.f[29]), '') AS borrower_assistance_status,
        NULLIF(TRIM(c.f[30]), '') AS current_month_modification_cost,
        NULLIF(TRIM(c.f[31]), '') AS interest_bearing_upb,
        NULLIF(TRIM(c.f[32]), '') AS mi_cancellation_indicator,
        NULLIF(TRIM(c.f[33]), '') AS servicer_name,
        NULLIF(TRIM(c.f[34]), '') AS bankruptcy_cramdown_costs
    FROM (
        SELECT
            r.period,
            input__file__name AS source_file,
            block__offset__inside__file AS line_position,
            r.line,
            REGEXP_REPLACE(COALESCE(r.line, ''), '^\\uFEFF|\\r$', '') AS clean_line,
            SPLIT(REGEXP_REPLACE(COALESCE(r.line, ''), '^\\uFEFF|\\r$', ''), '[|]') AS f
        FROM ${DB}.raw_r47_performance AS r
    ) AS c
) AS n;

DROP VIEW IF EXISTS ${DB}.checked_lines;

-- Every line of the four raw tables with its position and reason (NULL for a good line).
CREATE VIEW ${DB}.checked_lines AS
SELECT
    u.source_table,
    u.period,
    u.source_file,
    u.line_position,
    FLOOR(u.line_position / 67108864) AS line_chunk,
    u.line,
    u.reason
FROM (
    SELECT
        o.source_table,
        o.period,
        o.source_file,
        o.line_position,
        o.line,
        o.reason
    FROM ${DB}.origination_checked AS o
    UNION ALL
    SELECT
        p.source_table,
        p.period,
        p.source_file,
        p.line_position,
        p.line,
        p.reason
    FROM ${DB}.performance_checked AS p
) AS u;

DROP VIEW IF EXISTS ${DB}.checked_line_chunks;

-- Lines before each 64 MiB chunk of a file, to number lines chunk by chunk.
CREATE VIEW ${DB}.checked_line_chunks AS
SELECT
    counted.period,
    counted.source_file,
    counted.line_chunk,
    COALESCE(SUM(counted.chunk_lines) OVER (
        PARTITION BY counted.period, counted.source_file ORDER BY counted.line_chunk
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ), 0) AS lines_before
FROM (
    SELECT
        c.period,
        c.source_file,
        c.line_chunk,
        COUNT(*) AS chunk_lines
    FROM ${DB}.checked_lines AS c
    GROUP BY c.period, c.source_file, c.line_chunk
) AS counted;

CREATE EXTERNAL TABLE IF NOT EXISTS ${DB}.quarantine (
    source_file STRING COMMENT 'the raw file the line came from, as the engine names it',
    line_number BIGINT COMMENT '1-based line number in the file, empty lines counted',
    line STRING COMMENT 'the line as read',
    reason STRING COMMENT 'empty line, wrong field count, unparsable number, impossible date or unknown code'
)
COMMENT 'Rejected raw lines, with the reason'
PARTITIONED BY (
    source_table STRING COMMENT 'raw table: raw_<legacy|r47>_<origination|performance>',
    period STRING COMMENT 'source file period: 2017Q1, or 2017 for a sample'
)
STORED AS PARQUET
LOCATION '${QUARANTINE_ROOT}/quarantine'
TBLPROPERTIES ('parquet.compression' = 'SNAPPY');

FROM (
    SELECT
        numbered.source_table,
        numbered.source_file,
        chunks.lines_before + numbered.line_in_chunk AS line_number,
        numbered.line,
        numbered.reason
    FROM (
        SELECT
            c.source_table,
            c.period,
            c.source_file,
            c.line_chunk,
            c.line,
            c.reason,
            ROW_NUMBER() OVER (PARTITION BY c.source_file, c.line_chunk ORDER BY c.line_position) AS line_in_chunk
        FROM ${DB}.checked_lines AS c
        WHERE c.period = '${PERIOD}'
    ) AS numbered
    INNER JOIN ${DB}.checked_line_chunks AS chunks
        ON
            numbered.period = chunks.period
            AND numbered.source_file = chunks.source_file
            AND numbered.line_chunk = chunks.line_chunk
    WHERE numbered.reason IS NOT NULL AND chunks.period = '${PERIOD}'
) AS rejected
INSERT OVERWRITE TABLE ${DB}.quarantine PARTITION (source_table = 'raw_legacy_origination', period = '${PERIOD}')
SELECT
    source_file,
    line_number,
    line,
    reason
WHERE source_table = 'raw_legacy_origination'
INSERT OVERWRITE TABLE ${DB}.quarantine PARTITION (source_table = 'raw_r47_origination', period = '${PERIOD}')
SELECT
    source_file,
    line_number,
    line,
    reason
WHERE source_table = 'raw_r47_origination'
INSERT OVERWRITE TABLE ${DB}.quarantine PARTITION (source_table = 'raw_legacy_performance', period = '${PERIOD}')
SELECT
    source_file,
    line_number,
    line,
    reason
WHERE source_table = 'raw_legacy_performance'
INSERT OVERWRITE TABLE ${DB}.quarantine PARTITION (source_table = 'raw_r47_performance', period = '${PERIOD}')
SELECT
    source_file,
    line_number,
    line,
    reason
WHERE source_table = 'raw_r47_performance';
