-- Training step 2 of 2: the baseline statistics of the training set, which the drift monitor compares captured
-- endpoint inputs with, and the run's counts.
--
-- Variables: DB (database), TRAINING_ROOT (the training run's folder, as passed to training_set.hql).
-- Reads training_examples (training_set.hql; run it first, in the same database, with the same TRAINING_ROOT).
-- Statistics are of the train split's labelled examples (the rows of <TRAINING_ROOT>/train/), one feature at a
-- time, its missing values apart. Numeric features: those of features.FEATURES without codes; categorical:
-- first_time_homebuyer, occupancy, loan_purpose, channel, property_type.
--
-- Files, all under TRAINING_ROOT/baseline/: UTF-8 text, a row a line ending in \n, fields separated by '|',
-- no header, NULL as an empty field (as in training_set.hql); numbers without trailing zeros (742, 6.125; at
-- most 6 decimals). Read every file of a folder (names differ by engine: 000000_0 from Hive, part-* from
-- Spark); row order is not defined.
--   quantiles/  feature|q|value: q = 1 .. 99 for each numeric feature with a non-missing value,
--               value = PERCENTILE_APPROX(value, q / 100), rounded to 6 decimals; non-decreasing in q.
--   bins/       feature|bin|lower|upper|rows: for each feature with a non-missing value, bins 0 .. k-1 in
--               increasing order, a value v being in the bin with lower <= v < upper, bin 0's lower and the
--               last bin's upper empty (-infinity, +infinity), each bin's upper the next bin's lower; rows =
--               train rows in the bin (0 is possible, e.g. bin 0 when the first edge is the minimum). Edges:
--               numeric features: the deciles (the quantiles q = 10, 20, .., 90), duplicates dropped, so k is
--               at most 10; categorical: every code seen in train but the smallest, so bin i holds the i-th
--               smallest code seen, c(i), alone: lower c(i) (empty for bin 0), upper c(i+1) (empty for the last); a
--               code not seen in train falls into the bin of the next smaller code seen (bin 0 if none). Plus
--               bin -1, lower and upper empty, rows = missing values, for a feature that has some. A feature's
--               rows sum to the train rows.
--   summary/    one row: examples|censored|train_rows|train_positives|validation_rows|validation_positives:
--               loans with an acquisition row, those censored (no label), labelled rows and positive labels
--               per split (train_rows and validation_rows are the rows of train/ and validation/).
-- PERCENTILE_APPROX differs a little between engines (Hive interpolates a histogram, Spark returns one of the
-- values), so edges and quantiles may differ slightly between Hive and Spark; the layout does not. Tables are
-- dropped (external: the files stay), created at this run's TRAINING_ROOT and overwritten, as in
-- training_set.hql. Table columns (lower_bound, upper_bound, bin_rows, quantile) avoid keywords; views
-- training_feature_values, training_bin_edges and training_bin_bounds hold the steps.

DROP VIEW IF EXISTS ${DB}.training_feature_values;

-- One row per train example and feature: the feature's position, name, kind and value (NULL when missing).
CREATE VIEW ${DB}.training_feature_values AS
SELECT
    f.feature_index,
    f.feature,
    f.categorical,
    f.feature_value
FROM
    ${DB}.training_examples AS e
        LATERAL VIEW STACK(
            15,
            1, 'credit_score', FALSE, CAST(e.credit_score AS DOUBLE),
            2, 'orig_ltv', FALSE, CAST(e.orig_ltv AS DOUBLE),
            3, 'orig_cltv', FALSE, CAST(e.orig_cltv AS DOUBLE),
            4, 'orig_dti', FALSE, CAST(e.orig_dti AS DOUBLE),
            5, 'orig_interest_rate', FALSE, CAST(e.orig_interest_rate AS DOUBLE),
            6, 'orig_upb', FALSE, CAST(e.orig_upb AS DOUBLE),
            7, 'orig_loan_term', FALSE, CAST(e.orig_loan_term AS DOUBLE),
            8, 'mi_pct', FALSE, CAST(e.mi_pct AS DOUBLE),
            9, 'num_borrowers', FALSE, CAST(e.num_borrowers AS DOUBLE),
            10, 'num_units', FALSE, CAST(e.num_units AS DOUBLE),
            11, 'first_time_homebuyer', TRUE, CAST(e.first_time_homebuyer AS DOUBLE),
            12, 'occupancy', TRUE, CAST(e.occupancy AS DOUBLE),
            13, 'loan_purpose', TRUE, CAST(e.loan_purpose AS DOUBLE),
            14, 'channel', TRUE, CAST(e.channel AS DOUBLE),
            15, 'property_type', TRUE, CAST(e.property_type AS DOUBLE)
        ) f AS feature_index, feature, categorical, feature_value
WHERE e.split = 'train' AND e.ever_90_dpd_24m IS NOT NULL;

DROP TABLE IF EXISTS ${DB}.training_quantiles;

CREATE EXTERNAL TABLE ${DB}.training_quantiles (
    feature STRING COMMENT 'numeric feature name (features.FEATURES)',
    q INT COMMENT 'percent, 1 .. 99',
    quantile STRING COMMENT 'approximate q-th percentile of the non-missing train values'
)
COMMENT 'Percentiles 1 .. 99 of each numeric feature in the train split'
ROW FORMAT DELIMITED
FIELDS TERMINATED BY '|'
LINES TERMINATED BY '\n'
NULL DEFINED AS ''
STORED AS TEXTFILE
LOCATION '${TRAINING_ROOT}/baseline/quantiles'
TBLPROPERTIES ('serialization.null.format' = '');

INSERT OVERWRITE TABLE ${DB}.training_quantiles
SELECT
    p.feature,
    t.position + 1 AS q,
    REGEXP_REPLACE(CAST(CAST(t.percentile AS DECIMAL(20, 6)) AS STRING), '([.][0-9]*[1-9])0+$|[.]0+$', '$1') AS quantile
FROM (
    SELECT
        v.feature,
        PERCENTILE_APPROX(
            v.feature_value,
            ARRAY(
                0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10,
                0.11, 0.12, 0.13, 0.14, 0.15, 0.16, 0.17, 0.18, 0.19, 0.20,
                0.21, 0.22, 0.23, 0.24, 0.25, 0.26, 0.27, 0.28, 0.29, 0.30,
                0.31, 0.32, 0.33, 0.34, 0.35, 0.36, 0.37, 0.38, 0.39, 0.40,
                0.41, 0.42, 0.43, 0.44, 0.45, 0.46, 0.47, 0.48, 0.49, 0.50,
                0.51, 0.52, 0.53, 0.54, 0.55, 0.56, 0.57, 0.58, 0.59, 0.60,
                0.61, 0.62, 0.63, 0.64, 0.65, 0.66, 0.67, 0.68, 0.69, 0.70,
                0.71, 0.72, 0.73, 0.74, 0.75, 0.76, 0.77, 0.78, 0.79, 0.80,
                0.81, 0.82, 0.83, 0.84, 0.85, 0.86, 0.87, 0.88, 0.89, 0.90,
                0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99
            )
        ) AS percentiles
    FROM ${DB}.training_feature_values AS v
    WHERE NOT v.categorical AND v.feature_value IS NOT NULL
    GROUP BY v.feature
) AS p
    LATERAL VIEW POSEXPLODE(p.percentiles) t AS position, percentile;

DROP VIEW IF EXISTS ${DB}.training_bin_edges;

-- Each feature's bin edges in increasing order, numbered from 1: edge i is bin i's lower_bound bound.
CREATE VIEW ${DB}.training_bin_edges AS
SELECT
    d.feature,
    d.edge,
    ROW_NUMBER() OVER (PARTITION BY d.feature ORDER BY d.edge ASC) AS edge_number
FROM (
    SELECT DISTINCT
        q.feature,
        CAST(q.quantile AS DOUBLE) AS edge
    FROM ${DB}.training_quantiles AS q
    WHERE q.q IN (10, 20, 30, 40, 50, 60, 70, 80, 90)
    UNION ALL
    SELECT
        c.feature,
        c.feature_value AS edge
    FROM (
        SELECT
            v.feature,
            v.feature_value,
            MIN(v.feature_value) OVER (PARTITION BY v.feature) AS smallest
        FROM ${DB}.training_feature_values AS v
        WHERE v.categorical AND v.feature_value IS NOT NULL
        GROUP BY v.feature, v.feature_value
    ) AS c
    WHERE c.feature_value > c.smallest
) AS d;

DROP VIEW IF EXISTS ${DB}.training_bin_bounds;

-- Each feature's bins: bin 0 from -infinity (NULL) to the first edge, bin i from edge i to edge i + 1, the last
-- to +infinity (NULL). A feature with values but no edge has the one bin 0 (-infinity, +infinity).
CREATE VIEW ${DB}.training_bin_bounds AS
SELECT
    b.feature,
    0 AS bin,
    CAST(NULL AS DOUBLE) AS lower_bound,
    MIN(x.edge) AS upper_bound
FROM (
    SELECT DISTINCT v.feature
    FROM ${DB}.training_feature_values AS v
    WHERE v.feature_value IS NOT NULL
) AS b
LEFT JOIN ${DB}.training_bin_edges AS x ON b.feature = x.feature
GROUP BY b.feature
UNION ALL
SELECT
    x.feature,
    x.edge_number AS bin,
    x.edge AS lower_bound,
    LEAD(x.edge) OVER (PARTITION BY x.feature ORDER BY x.edge_number ASC) AS upper_bound
FROM ${DB}.training_bin_edges AS x;

DROP TABLE IF EXISTS ${DB}.training_bins;

CREATE EXTERNAL TABLE ${DB}.training_bins (
    feature STRING COMMENT 'feature name (features.FEATURES)',
    bin INT COMMENT '0 .. k-1 in increasing order; -1 for missing values',
    lower_bound STRING COMMENT 'inclusive lower_bound bound; empty: -infinity (bin 0) or missing (bin -1)',
    upper_bound STRING COMMENT 'exclusive upper_bound bound; empty: +infinity (last bin) or missing (bin -1)',
    bin_rows BIGINT COMMENT 'train rows in the bin'
)
COMMENT 'Value bins of each feature in the train split, for the drift monitor (PSI)'
ROW FORMAT DELIMITED
FIELDS TERMINATED BY '|'
LINES TERMINATED BY '\n'
NULL DEFINED AS ''
STORED AS TEXTFILE
LOCATION '${TRAINING_ROOT}/baseline/bins'
TBLPROPERTIES ('serialization.null.format' = '');

INSERT OVERWRITE TABLE ${DB}.training_bins
SELECT
    u.feature,
    u.bin,
    REGEXP_REPLACE(CAST(CAST(u.lower_bound AS DECIMAL(20, 6)) AS STRING), '([.][0-9]*[1-9])0+$|[.]0+$', '$1')
        AS lower_bound,
    REGEXP_REPLACE(CAST(CAST(u.upper_bound AS DECIMAL(20, 6)) AS STRING), '([.][0-9]*[1-9])0+$|[.]0+$', '$1')
        AS upper_bound,
    u.bin_rows
FROM (
    SELECT
        s.feature,
        s.bin,
        s.lower_bound,
        s.upper_bound,
        COALESCE(n.bin_rows, 0) AS bin_rows
    FROM ${DB}.training_bin_bounds AS s
    LEFT JOIN (
        SELECT
            k.feature,
            k.bin,
            SUM(v.value_rows) AS bin_rows
        FROM ${DB}.training_bin_bounds AS k
        INNER JOIN (
            SELECT
                w.feature,
                w.feature_value,
                COUNT(*) AS value_rows
            FROM ${DB}.training_feature_values AS w
            WHERE w.feature_value IS NOT NULL
            GROUP BY w.feature, w.feature_value
        ) AS v ON k.feature = v.feature
        WHERE
            (k.lower_bound IS NULL OR v.feature_value >= k.lower_bound)
            AND (k.upper_bound IS NULL OR v.feature_value < k.upper_bound)
        GROUP BY k.feature, k.bin
    ) AS n ON s.feature = n.feature AND s.bin = n.bin
    UNION ALL
    SELECT
        m.feature,
        -1 AS bin,
        CAST(NULL AS DOUBLE) AS lower_bound,
        CAST(NULL AS DOUBLE) AS upper_bound,
        COUNT(*) AS bin_rows
    FROM ${DB}.training_feature_values AS m
    WHERE m.feature_value IS NULL
    GROUP BY m.feature
) AS u;

DROP TABLE IF EXISTS ${DB}.training_summary;

CREATE EXTERNAL TABLE ${DB}.training_summary (
    examples BIGINT COMMENT 'loans with an acquisition row',
    censored BIGINT COMMENT 'examples without a label (left out of train and validation)',
    train_rows BIGINT COMMENT 'rows of train/',
    train_positives BIGINT COMMENT 'rows of train/ with label 1',
    validation_rows BIGINT COMMENT 'rows of validation/',
    validation_positives BIGINT COMMENT 'rows of validation/ with label 1'
)
COMMENT 'Counts of the training run, one row'
ROW FORMAT DELIMITED
FIELDS TERMINATED BY '|'
LINES TERMINATED BY '\n'
NULL DEFINED AS ''
STORED AS TEXTFILE
LOCATION '${TRAINING_ROOT}/baseline/summary'
TBLPROPERTIES ('serialization.null.format' = '');

INSERT OVERWRITE TABLE ${DB}.training_summary
SELECT
    COUNT(*) AS examples,
    COALESCE(SUM(CASE WHEN e.ever_90_dpd_24m IS NULL THEN 1 ELSE 0 END), 0) AS censored,
    COALESCE(SUM(CASE WHEN e.split = 'train' AND e.ever_90_dpd_24m IS NOT NULL THEN 1 ELSE 0 END), 0) AS train_rows,
    COALESCE(SUM(CASE WHEN e.split = 'train' AND e.ever_90_dpd_24m = 1 THEN 1 ELSE 0 END), 0) AS train_positives,
    COALESCE(
        SUM(CASE WHEN e.split = 'validation' AND e.ever_90_dpd_24m IS NOT NULL THEN 1 ELSE 0 END), 0
    ) AS validation_rows,
    COALESCE(
        SUM(CASE WHEN e.split = 'validation' AND e.ever_90_dpd_24m = 1 THEN 1 ELSE 0 END), 0
    ) AS validation_positives
FROM ${DB}.training_examples AS e;
