-- RDS MySQL: the published acquisition table and the staging table Sqoop exports into.
-- Run before every load; changes nothing when the tables exist.
--
-- acquisition holds each source period's rows once: the key is (source_period, loan_seq_no), since a loan
-- appears in its quarterly file and may appear again in an annual sample. Indexes serve the obvious
-- lookups: by loan id, by origination vintage, by state and vintage. Text is utf8mb4 with a binary
-- collation (codes compare exactly, trailing spaces count). Column order and types follow the Hive table
-- processed acquisition (include/hql/acquisition.hql); widths leave room, so a longer value than expected
-- fails the load (strict mode) instead of being cut.

CREATE TABLE IF NOT EXISTS acquisition (
    source_period VARCHAR(6) NOT NULL COMMENT 'period of the raw file: 2017Q1, or 2017 for a sample',
    loan_seq_no VARCHAR(20) NOT NULL COMMENT 'loan sequence number, e.g. F17Q10000001',
    orig_year SMALLINT NOT NULL COMMENT 'origination year, from the loan id',
    orig_quarter TINYINT NOT NULL COMMENT 'origination quarter, from the loan id',
    credit_score SMALLINT NULL COMMENT 'FICO score; NULL when not available',
    credit_score_code VARCHAR(4) NULL COMMENT '9999 where credit_score is NULL',
    first_payment_date DATE NULL,
    first_time_homebuyer_flag VARCHAR(1) NULL,
    maturity_date DATE NULL,
    msa VARCHAR(10) NULL,
    mi_pct SMALLINT NULL,
    num_units TINYINT NULL,
    occupancy_status VARCHAR(1) NULL,
    orig_cltv SMALLINT NULL,
    orig_dti SMALLINT NULL,
    orig_upb DECIMAL(14, 2) NULL,
    orig_ltv SMALLINT NULL,
    orig_interest_rate DECIMAL(6, 3) NULL,
    channel VARCHAR(1) NULL,
    ppm_flag VARCHAR(1) NULL,
    amortization_type VARCHAR(10) NULL,
    property_state VARCHAR(2) NULL,
    property_type VARCHAR(2) NULL,
    postal_code VARCHAR(10) NULL,
    loan_purpose VARCHAR(1) NULL,
    orig_loan_term SMALLINT NULL,
    num_borrowers TINYINT NULL,
    seller_name VARCHAR(100) NULL,
    servicer_name VARCHAR(100) NULL COMMENT 'legacy layout only',
    super_conforming_flag VARCHAR(1) NULL,
    pre_harp_loan_seq_no VARCHAR(20) NULL,
    program_indicator VARCHAR(1) NULL,
    harp_indicator VARCHAR(1) NULL,
    property_valuation_method TINYINT NULL,
    interest_only_indicator VARCHAR(1) NULL,
    mi_cancellation_indicator VARCHAR(1) NULL COMMENT 'legacy layout only',
    vantagescore_4 SMALLINT NULL COMMENT 'Release 47 only',
    vantagescore_4_code VARCHAR(4) NULL,
    source_layout VARCHAR(6) NOT NULL COMMENT 'legacy or r47',
    loaded_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT 'when the period was published',
    PRIMARY KEY (source_period, loan_seq_no),
    KEY ix_acquisition_loan (loan_seq_no),
    KEY ix_acquisition_vintage (orig_year, orig_quarter),
    KEY ix_acquisition_state_vintage (property_state, orig_year)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
COMMENT = 'Freddie Mac loan acquisitions, one copy per source period';

CREATE TABLE IF NOT EXISTS acquisition_staging LIKE acquisition;
