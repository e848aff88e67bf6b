-- After Sqoop exported a period into acquisition_staging: replace the period's published rows with the
-- staged ones. The statements run in one transaction, so readers see the old rows or the new ones, and
-- a failure leaves the published table as it was. The published rows go only when staged ones replace
-- them: a retry after the commit (staging emptied) leaves the published period as it is.
DELETE FROM acquisition
WHERE
    source_period = %(period)s
    AND EXISTS (
        SELECT 1 FROM acquisition_staging
        WHERE source_period = %(period)s
    );

INSERT INTO acquisition (
    source_period, loan_seq_no, orig_year, orig_quarter, credit_score, credit_score_code,
    first_payment_date, first_time_homebuyer_flag, maturity_date, msa, mi_pct, num_units,
    occupancy_status, orig_cltv, orig_dti, orig_upb, orig_ltv, orig_interest_rate, channel, ppm_flag,
    amortization_type, property_state, property_type, postal_code, loan_purpose, orig_loan_term,
    num_borrowers, seller_name, servicer_name, super_conforming_flag, pre_harp_loan_seq_no,
    program_indicator, harp_indicator, property_valuation_method, interest_only_indicator,
    mi_cancellation_indicator, vantagescore_4, vantagescore_4_code, source_layout
)
SELECT
    source_period,
    loan_seq_no,
    orig_year,
    orig_quarter,
    credit_score,
    credit_score_code,
    first_payment_date,
    first_time_homebuyer_flag,
    maturity_date,
    msa,
    mi_pct,
    num_units,
    occupancy_status,
    orig_cltv,
    orig_dti,
    orig_upb,
    orig_ltv,
    orig_interest_rate,
    channel,
    ppm_flag,
    amortization_type,
    property_state,
    property_type,
    postal_code,
    loan_purpose,
    orig_loan_term,
    num_borrowers,
    seller_name,
    servicer_name,
    super_conforming_flag,
    pre_harp_loan_seq_no,
    program_indicator,
    harp_indicator,
    property_valuation_method,
    interest_only_indicator,
    mi_cancellation_indicator,
    vantagescore_4,
    vantagescore_4_code,
    source_layout
FROM acquisition_staging
WHERE source_period = %(period)s;

DELETE FROM acquisition_staging
WHERE source_period = %(period)s;
