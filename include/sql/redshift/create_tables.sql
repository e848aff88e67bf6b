-- Redshift: the published performance table and the staging table COPY loads into. Run before every
-- load; changes nothing when they exist. One batch (one transaction).
--
-- Distribution and sort: reports join performance to acquisitions by loan and follow loans month by
-- month, so rows are distributed by loan_seq_no (a loan's history on one slice, joins without
-- redistribution) and sorted by reporting month, then loan (range scans such as "delinquency by month
-- since 2020" skip blocks by the zone maps). The primary key is informational on Redshift.

CREATE SCHEMA IF NOT EXISTS ${SCHEMA};

CREATE TABLE IF NOT EXISTS ${SCHEMA}.performance (
    loan_seq_no VARCHAR(20) NOT NULL,
    monthly_reporting_period DATE NOT NULL,
    current_actual_upb DECIMAL(14, 2),
    delinquency_status VARCHAR(4),
    delinquency_months INTEGER,
    is_reo_acquisition BOOLEAN,
    delinquency_status_raw VARCHAR(4),
    loan_age INTEGER,
    remaining_months_to_maturity INTEGER,
    defect_settlement_date DATE,
    modification_flag VARCHAR(1),
    zero_balance_code VARCHAR(2),
    zero_balance_effective_date DATE,
    current_interest_rate DECIMAL(6, 3),
    current_non_interest_bearing_upb DECIMAL(14, 2),
    ddlpi DATE,
    mi_recoveries DECIMAL(14, 2),
    net_sales_proceeds DECIMAL(14, 2),
    net_sales_proceeds_code VARCHAR(1),
    non_mi_recoveries DECIMAL(14, 2),
    expenses DECIMAL(14, 2),
    legal_costs DECIMAL(14, 2),
    maintenance_preservation_costs DECIMAL(14, 2),
    taxes_insurance DECIMAL(14, 2),
    misc_expenses DECIMAL(14, 2),
    actual_loss DECIMAL(14, 2),
    modification_cost DECIMAL(14, 2),
    step_modification_flag VARCHAR(1),
    payment_deferral VARCHAR(1),
    eltv INTEGER,
    zero_balance_removal_upb DECIMAL(14, 2),
    delinquent_accrued_interest DECIMAL(14, 2),
    delinquency_due_to_disaster VARCHAR(1),
    borrower_assistance_status VARCHAR(1),
    current_month_modification_cost DECIMAL(14, 2),
    interest_bearing_upb DECIMAL(14, 2),
    mi_cancellation_indicator VARCHAR(1),
    servicer_name VARCHAR(100),
    bankruptcy_cramdown_costs DECIMAL(14, 2),
    source_layout VARCHAR(6) NOT NULL,
    source_period VARCHAR(6) NOT NULL,
    reporting_quarter VARCHAR(6) NOT NULL,
    PRIMARY KEY (source_period, loan_seq_no, monthly_reporting_period)
)
DISTKEY (loan_seq_no)
COMPOUND SORTKEY (monthly_reporting_period, loan_seq_no);

-- The columns of the Parquet files under processed/performance/, in file order (the Hive table's
-- columns without its partition columns).
CREATE TABLE IF NOT EXISTS ${SCHEMA}.performance_staging (
    loan_seq_no VARCHAR(20),
    monthly_reporting_period DATE,
    current_actual_upb DECIMAL(14, 2),
    delinquency_status VARCHAR(4),
    delinquency_months INTEGER,
    is_reo_acquisition BOOLEAN,
    delinquency_status_raw VARCHAR(4),
    loan_age INTEGER,
    remaining_months_to_maturity INTEGER,
    defect_settlement_date DATE,
    modification_flag VARCHAR(1),
    zero_balance_code VARCHAR(2),
    zero_balance_effective_date DATE,
    current_interest_rate DECIMAL(6, 3),
    current_non_interest_bearing_upb DECIMAL(14, 2),
    ddlpi DATE,
    mi_recoveries DECIMAL(14, 2),
    net_sales_proceeds DECIMAL(14, 2),
    net_sales_proceeds_code VARCHAR(1),
    non_mi_recoveries DECIMAL(14, 2),
    expenses DECIMAL(14, 2),
    legal_costs DECIMAL(14, 2),
    maintenance_preservation_costs DECIMAL(14, 2),
    taxes_insurance DECIMAL(14, 2),
    misc_expenses DECIMAL(14, 2),
    actual_loss DECIMAL(14, 2),
    modification_cost DECIMAL(14, 2),
    step_modification_flag VARCHAR(1),
    payment_deferral VARCHAR(1),
    eltv INTEGER,
    zero_balance_removal_upb DECIMAL(14, 2),
    delinquent_accrued_interest DECIMAL(14, 2),
    delinquency_due_to_disaster VARCHAR(1),
    borrower_assistance_status VARCHAR(1),
    current_month_modification_cost DECIMAL(14, 2),
    interest_bearing_upb DECIMAL(14, 2),
    mi_cancellation_indicator VARCHAR(1),
    servicer_name VARCHAR(100),
    bankruptcy_cramdown_costs DECIMAL(14, 2),
    source_layout VARCHAR(6)
)
DISTKEY (loan_seq_no);
