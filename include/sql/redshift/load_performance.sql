-- Publish one period of processed performance: one batch, so one transaction. COPY the period's Parquet
-- into staging, replace the period's published rows with the staged ones, empty staging. A failure
-- anywhere rolls it all back and leaves the published table as it was. DELETE, not TRUNCATE: TRUNCATE
-- commits on Redshift.
--
-- COPY maps Parquet columns to the staging columns by position; the partition columns (source_period,
-- reporting_quarter) are in the S3 path, not in the files, so they are set here.

DELETE FROM ${SCHEMA}.performance_staging;

COPY ${SCHEMA}.performance_staging
FROM '${SOURCE}'
IAM_ROLE '${IAM_ROLE}'
FORMAT AS PARQUET;

DELETE FROM ${SCHEMA}.performance
WHERE source_period = '${PERIOD}';

INSERT INTO ${SCHEMA}.performance (
    loan_seq_no,
    monthly_reporting_period,
    current_actual_upb,
    delinquency_status,
    delinquency_months,
    is_reo_acquisition,
    delinquency_status_raw,
    loan_age,
    remaining_months_to_maturity,
    defect_settlement_date,
    modification_flag,
    zero_balance_code,
    zero_balance_effective_date,
    current_interest_rate,
    current_non_interest_bearing_upb,
    ddlpi,
    mi_recoveries,
    net_sales_proceeds,
    net_sales_proceeds_code,
    non_mi_recoveries,
    expenses,
    legal_costs,
    maintenance_preservation_costs,
    taxes_insurance,
    misc_expenses,
    actual_loss,
    modification_cost,
    step_modification_flag,
    payment_deferral,
    eltv,
    zero_balance_removal_upb,
    delinquent_accrued_interest,
    delinquency_due_to_disaster,
    borrower_assistance_status,
    current_month_modification_cost,
    interest_bearing_upb,
    mi_cancellation_indicator,
    servicer_name,
    bankruptcy_cramdown_costs,
    source_layout,
    source_period,
    reporting_quarter
)
SELECT
    loan_seq_no,
    monthly_reporting_period,
    current_actual_upb,
    delinquency_status,
    delinquency_months,
    is_reo_acquisition,
    delinquency_status_raw,
    loan_age,
    remaining_months_to_maturity,
    defect_settlement_date,
    modification_flag,
    zero_balance_code,
    zero_balance_effective_date,
    current_interest_rate,
    current_non_interest_bearing_upb,
    ddlpi,
    mi_recoveries,
    net_sales_proceeds,
    net_sales_proceeds_code,
    non_mi_recoveries,
    expenses,
    legal_costs,
    maintenance_preservation_costs,
    taxes_insurance,
    misc_expenses,
    actual_loss,
    modification_cost,
    step_modification_flag,
    payment_deferral,
    eltv,
    zero_balance_removal_upb,
    delinquent_accrued_interest,
    delinquency_due_to_disaster,
    borrower_assistance_status,
    current_month_modification_cost,
    interest_bearing_upb,
    mi_cancellation_indicator,
    servicer_name,
    bankruptcy_cramdown_costs,
    source_layout,
    '${PERIOD}' AS source_period,
    TO_CHAR(monthly_reporting_period, 'YYYY') || 'Q' || TO_CHAR(monthly_reporting_period, 'Q') AS reporting_quarter
FROM ${SCHEMA}.performance_staging;

DELETE FROM ${SCHEMA}.performance_staging;
