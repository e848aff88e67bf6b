"""The drift monitor's statistics: baseline reader, PSI, KS, verdict, retraining decision, report and chart."""

from __future__ import annotations

import json
import math
import re
import struct
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from loanlake.ml.baseline import Baseline, BaselineError, read_baseline
from loanlake.ml.capture import parse_capture
from loanlake.ml.drift import PSI_FLOOR, assess, ks_p_value, psi
from loanlake.ml.drift_report import drift_chart, drift_report
from loanlake.ml.features import FEATURES, Feature, to_csv
from loanlake.ml.retraining import decide_retraining

NAMES = [feature.name for feature in FEATURES]
X, C = Feature("x", "x"), Feature("c", "c", codes={"a": 0, "b": 1})


def loans(n: int, seed: int, credit_shift: float = 0, ltv_shift: float = 0) -> np.ndarray:
    """Feature rows of synthetic loans, in the order of FEATURES, NaN where missing."""
    rng = np.random.default_rng(seed)
    ltv = rng.integers(40, 98, n).astype(float)
    columns = {
        "credit_score": np.clip(np.round(rng.normal(745, 45, n)), 300, 850) + credit_shift,
        "orig_ltv": ltv + ltv_shift,
        "orig_cltv": ltv + rng.choice([0, 0, 0, 5], n),
        "orig_dti": np.clip(np.round(rng.normal(35, 9, n)), 1, 65),
        "orig_interest_rate": np.round(rng.normal(5.5, 0.9, n), 3),
        "orig_upb": np.round(rng.lognormal(12.3, 0.5, n), -3),
        "orig_loan_term": rng.choice([360, 180, 240], n, p=[0.8, 0.15, 0.05]).astype(float),
        "mi_pct": rng.choice([0, 12, 25, 30], n, p=[0.7, 0.1, 0.1, 0.1]).astype(float),
        "num_borrowers": rng.choice([1, 2], n, p=[0.45, 0.55]).astype(float),
        "num_units": rng.choice([1, 2, 3, 4], n, p=[0.95, 0.03, 0.01, 0.01]).astype(float),
        "first_time_homebuyer": rng.choice([0, 1], n, p=[0.85, 0.15]).astype(float),
        "occupancy": rng.choice([0, 1, 2], n, p=[0.88, 0.04, 0.08]).astype(float),
        "loan_purpose": rng.choice([0, 1, 2, 3], n, p=[0.4, 0.3, 0.2, 0.1]).astype(float),
        "channel": rng.choice([0, 1, 2, 3], n, p=[0.5, 0.2, 0.28, 0.02]).astype(float),
        "property_type": rng.choice([0, 1, 2, 3, 4], n, p=[0.7, 0.18, 0.1, 0.015, 0.005]).astype(float),
    }
    columns["credit_score"][rng.random(n) < 0.01] = np.nan
    columns["orig_dti"][rng.random(n) < 0.02] = np.nan
    return np.column_stack([columns[name] for name in NAMES])


def hive_double(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def hive_tables(training: np.ndarray, features=FEATURES) -> tuple[list[str], list[str]]:
    """The baseline's two tables as the training-set step writes them: deduplicated deciles or one bin per code,
    the missing bin when there are missing values, percentiles 1..99 of numeric features."""
    bins, quantiles = [], []
    for column, feature in enumerate(features):
        values = training[:, column]
        present = values[~np.isnan(values)]
        if feature.categorical:
            codes = np.unique(present)
            lowers, uppers = [None, *codes[1:]], [*(codes[:-1] + 1), None]
        else:
            edges = list(np.unique(np.quantile(present, np.arange(1, 10) / 10)))
            lowers, uppers = [None, *edges], [*edges, None]
        for number, (lower, upper) in enumerate(zip(lowers, uppers, strict=True)):
            low, high = -np.inf if lower is None else lower, np.inf if upper is None else upper
            rows = np.count_nonzero((present >= low) & (present < high))
            bins.append(f"{feature.name}|{number}|{hive_double(lower)}|{hive_double(upper)}|{rows}")
        if len(present) < len(values):
            bins.append(f"{feature.name}|-1|||{len(values) - len(present)}")
        if not feature.categorical:
            quantiles += [f"{feature.name}|{q}|{float(np.percentile(present, q))!r}" for q in range(1, 100)]
    return bins, quantiles


@pytest.fixture(scope="module")
def tables() -> tuple[list[str], list[str]]:
    return hive_tables(loans(200_000, seed=1))


@pytest.fixture(scope="module")
def baseline(tables) -> Baseline:
    return Baseline.from_lines(*tables)


# --- PSI and KS on worked examples


def test_psi_against_a_hand_computation():
    # (0.4 - 0.5) ln(0.4 / 0.5) + (0.4 - 0.3) ln(0.4 / 0.3) + (0.2 - 0.2) ln 1
    # = 0.1 * 0.2231436 + 0.1 * 0.2876821 = 0.0510826
    assert psi(np.array([0.5, 0.3, 0.2]), np.array([0.4, 0.4, 0.2])) == pytest.approx(0.0510826, abs=1e-7)


def one_feature(bins: list[str], quantiles: list[float]) -> Baseline:
    return Baseline.from_lines(bins, [f"x|{q}|{value}" for q, value in enumerate(quantiles, 1)], features=[X])


def test_psi_over_a_tiny_baseline_with_bin_edges_and_the_missing_bin():
    baseline = one_feature(["x|0||10|50", "x|1|10|20|30", "x|2|20||20"], range(1, 100))  # no missing in training
    values = np.array([5, 5, 5, 5, 10, 15, 19.99, 20, 25, np.nan])  # 10 starts bin 1, 20 starts bin 2

    drift = assess(baseline, values.reshape(-1, 1), min_records=1).features[0]

    assert drift.current_shares == pytest.approx((0.4, 0.3, 0.2, 0.1))
    # baseline shares 0.5 0.3 0.2 0 (missing floored to 1e-4), current 0.4 0.3 0.2 0.1:
    # (0.4 - 0.5) ln(0.8) + 0 + 0 + (0.1 - 0.0001) ln(0.1 / 0.0001)
    # = 0.0223144 + 0.0999 * 6.9077553 = 0.0223144 + 0.6900848 = 0.7123992
    assert PSI_FLOOR == 1e-4
    assert drift.psi == pytest.approx(0.7123992, abs=1e-7)
    assert drift.level == "major"


def test_ks_against_scipy_where_the_percentiles_are_exact():
    # baseline: 1, 2, ..., 100, 100 times each, so percentile q is q and the baseline CDF there is exactly q/100;
    # both empirical CDFs step only at integers, so D over the percentiles is scipy's D over every point
    training = np.repeat(np.arange(1, 101, dtype=float), 100)
    weights = np.linspace(1, 1.5, 100)
    current = np.random.default_rng(3).choice(np.arange(1, 101, dtype=float), size=5000, p=weights / weights.sum())
    bins = ["x|0||50|4900", "x|1|50||5100"]
    scipy_result = stats.ks_2samp(training, current, method="asymp")

    drift = assess(one_feature(bins, range(1, 100)), current.reshape(-1, 1), min_records=1).features[0]

    assert drift.ks == pytest.approx(scipy_result.statistic, abs=1e-12)
    effective = 10_000 * 5000 / 15_000
    assert drift.ks_p_value == pytest.approx(stats.kstwobign.sf(drift.ks * math.sqrt(effective)), rel=1e-9)
    assert drift.ks_p_value == pytest.approx(scipy_result.pvalue, rel=0.05)  # the finite-size version
    assert ks_p_value(0.0, 100, 100) == 1.0


def test_ks_ignores_missing_values_and_compares_tied_percentiles_where_the_baseline_cdf_is():
    # a discrete feature: 80% of loans at 360 months, so percentiles 21..99 are all 360
    baseline = one_feature(["x|0||240|20", "x|1|240|360|5", "x|2|360||75"], [180] * 15 + [240] * 5 + [360] * 79)
    current = np.array([180.0] * 15 + [240.0] * 5 + [360.0] * 80 + [np.nan] * 7).reshape(-1, 1)

    drift = assess(baseline, current, min_records=1).features[0]

    assert drift.ks == pytest.approx(0.01)  # F(360) = 1 against q = 99, not against q = 21


# --- verdicts on realistic data


def test_data_from_the_baselines_own_distribution_shows_no_drift(baseline):
    assessed = assess(baseline, loans(50_000, seed=2))

    assert assessed.verdict == "none"
    assert not assessed.material
    assert max(drift.psi for drift in assessed.features) < 0.01
    assert all(drift.ks < 0.02 for drift in assessed.features if drift.ks is not None)
    assert [drift.psi for drift in assessed.features] == sorted(
        (drift.psi for drift in assessed.features), reverse=True
    )
    assert assessed.summary.startswith("no significant drift in 50,000 rows")


def test_lower_credit_scores_and_higher_ltv_are_major_drift_on_those_features(baseline):
    assessed = assess(baseline, loans(50_000, seed=2, credit_shift=-60, ltv_shift=10))
    by_name = {drift.name: drift for drift in assessed.features}

    assert assessed.verdict == "major"
    assert assessed.material
    assert {drift.name for drift in assessed.features[:2]} == {"credit_score", "orig_ltv"}
    assert by_name["credit_score"].level == by_name["orig_ltv"].level == "major"
    assert by_name["credit_score"].ks > 0.3
    assert by_name["credit_score"].ks_p_value < 1e-10
    assert {drift.level for drift in assessed.features[2:]} == {"none"}
    assert "major drift in 50,000 rows" in assessed.summary


def test_thresholds_and_the_material_level_are_arguments(baseline):
    rows = loans(20_000, seed=2, credit_shift=-15)

    default = assess(baseline, rows)
    strict = assess(baseline, rows, moderate=0.01, major=0.05, material_level="moderate")

    assert default.verdict in ("none", "moderate")
    assert strict.verdict == "major"
    assert strict.material
    with pytest.raises(ValueError, match="moderate < major"):
        assess(baseline, rows, moderate=0.3, major=0.2)
    with pytest.raises(ValueError, match="material_level"):
        assess(baseline, rows, material_level="none")


def test_fewer_rows_than_min_records_is_no_verdict_said_plainly(baseline):
    assessed = assess(baseline, loans(999, seed=2, credit_shift=-100), min_records=1000)

    assert assessed.verdict == "no_verdict"
    assert assessed.summary == "no verdict: 999 rows captured, fewer than the 1,000 needed"
    assert not assessed.material
    assert assessed.features == ()


def test_a_categorical_code_the_training_set_never_had_is_a_bin_of_its_own():
    occupancy = FEATURES[NAMES.index("occupancy")]
    bins = ["occupancy|0||1.0|90", "occupancy|1|2.0||10"]  # P (0) and I (2) seen in training, S (1) never
    baseline = Baseline.from_lines(bins, [], features=[occupancy])
    current = np.array([0.0] * 80 + [1.0] * 10 + [2.0] * 10).reshape(-1, 1)

    fb = baseline.features[0]
    drift = assess(baseline, current, min_records=1).features[0]

    assert fb.labels == ("P", "S", "I", "missing")
    assert fb.rows.tolist() == [90, 0, 10, 0]
    assert drift.current_shares == pytest.approx((0.8, 0.1, 0.1, 0.0))
    assert drift.level == "major"
    up_to_the_next_code = Baseline.from_lines(["occupancy|0||2|90", "occupancy|1|2||10"], [], features=[occupancy])
    assert up_to_the_next_code.features[0].labels == ("P/S", "I", "missing")


# --- the baseline reader


def test_the_baseline_holds_every_feature_with_shares_from_the_rows(baseline, tables):
    credit = baseline.features[0]

    assert [fb.name for fb in baseline.features] == NAMES
    assert baseline.training_rows == 200_000
    assert credit.shares.sum() == pytest.approx(1)
    assert credit.rows[-1] == int(
        next(line.rsplit("|", 1)[1] for line in tables[0] if line.startswith("credit_score|-1|"))
    )
    assert credit.labels[0].startswith("< ") and credit.labels[-2].startswith(">= ") and credit.labels[-1] == "missing"
    assert baseline.features[NAMES.index("orig_loan_term")].quantiles[-1] == 360
    assert baseline.features[NAMES.index("property_type")].labels == ("SF", "PU", "CO", "MH", "CP", "missing")
    assert baseline.features[NAMES.index("channel")].quantiles is None


def test_hive_nulls_and_part_files_are_read(tables, baseline):
    bins, quantiles = tables
    with_hive_nulls = ["|".join(field or "\\N" for field in line.split("|")) for line in bins]
    parts = {"bins/000000_0": with_hive_nulls[: len(bins) // 2], "bins/000001_0": with_hive_nulls[len(bins) // 2 :]}

    read = Baseline.from_files(parts, {"quantiles/000000_0": quantiles})

    for a, b in zip(read.features, baseline.features, strict=True):
        assert np.array_equal(a.edges, b.edges) and np.array_equal(a.rows, b.rows) and a.labels == b.labels


TINY_BINS = ["x|0||10|50", "x|1|10|20|30", "x|2|20||15", "x|-1|||5", "c|0||1|60", "c|1|1||40"]
TINY_QUANTILES = [f"x|{q}|{q / 5}" for q in range(1, 100)]


def tiny(bins=TINY_BINS, quantiles=TINY_QUANTILES) -> Baseline:
    return Baseline.from_lines(bins, quantiles, features=[X, C])


def edited(lines: list[str], index: int, new: str | None) -> list[str]:
    """The lines with line ``index`` replaced (None: removed)."""
    return lines[:index] + ([] if new is None else [new]) + lines[index + 1 :]


def test_the_tiny_baseline_reads():
    baseline = tiny()
    x, c = baseline.features

    assert x.edges.tolist() == [10, 20] and x.rows.tolist() == [50, 30, 15, 5]
    assert x.shares.tolist() == [0.5, 0.3, 0.15, 0.05]
    assert x.labels == ("< 10", "[10, 20)", ">= 20", "missing")
    assert x.non_missing_rows == 95
    assert c.labels == ("a", "b", "missing") and c.rows.tolist() == [60, 40, 0]
    assert baseline.training_rows == 100


@pytest.mark.parametrize(
    ("index", "new", "message"),
    [
        (2, "x|2|20|15", "bins line 3 'x|2|20|15': 4 fields, expected 5: feature|bin|lower|upper|rows"),
        (2, "x|2|20||many", "bins line 3 'x|2|20||many': rows 'many' is not a number"),
        (2, "x|2|20||1.5", "rows '1.5' is not a whole number"),
        (2, "x|2|20||-3", "rows -3 is negative"),
        (2, "x|2|2o||15", "lower '2o' is not a number"),
        (2, "x|2|20|inf|15", "upper 'inf' is not a finite number"),
        (2, "y|2|20||15", "'y' is not a model feature"),
        (2, "x|2|20|30|15", "bins line 3 'x|2|20|30|15': the last bin of x must have an empty upper bound"),
        (1, None, "x has bins [0, 2], not numbered 0..1"),
        (0, "x|0|0|10|50", "bins line 1 'x|0|0|10|50': bin 0 of x must have an empty lower bound"),
        (1, "x|1|11|20|30", "bins line 1 'x|0||10|50' / bins line 2 'x|1|11|20|30': x bins are not contiguous"),
        (1, "x|1|5|20|30", "x bins are not contiguous"),
        (1, "x|1|||30", "only the end bins of x are open"),
        (1, "x|1|10|10|30", "bins line 2 'x|1|10|10|30': empty bin, lower >= upper"),
        (3, "x|-1|0||5", "bins line 4 'x|-1|0||5': the missing bin (-1) has no bounds"),
        (3, "x|-2|||5", "bin -2: bins are numbered from 0, and -1 for missing values"),
        (3, "x|1|10|20|30", "bins line 4 'x|1|10|20|30': x bin 1 again (first at bins line 2 'x|1|10|20|30')"),
        (5, None, "the last bin of c must have an empty upper bound"),
        (4, "c|0||1|61", "bins: the features' bins count different training rows (100: x; 101: c)"),
    ],
)
def test_a_broken_bins_file_is_rejected_naming_the_line(index, new, message):
    with pytest.raises(BaselineError) as error:
        tiny(bins=edited(TINY_BINS, index, new))
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("index", "new", "message"),
    [
        (49, None, "quantiles: x lacks percentile(s) 50"),
        (49, "x|50|1.0", "quantiles line 50 'x|50|1.0': x percentile 50 is below percentile 49 (9.8)"),
        (49, "x|150|10.0", "q 150 is not a percentile 1..99"),
        (49, "x|50|", "quantiles line 50 'x|50|': percentile 50 of x has no value"),
        (49, "x|50|nan", "value 'nan' is not a finite number"),
        (49, "x|50", "2 fields, expected 3: feature|q|value"),
        (49, "c|50|1.0", "c is categorical; percentiles are for numeric features"),
        (98, "x|1|0.2", "quantiles line 99 'x|1|0.2': x percentile 1 again (first at quantiles line 1 'x|1|0.2')"),
    ],
)
def test_a_broken_quantiles_file_is_rejected_naming_the_line(index, new, message):
    with pytest.raises(BaselineError) as error:
        tiny(quantiles=edited(TINY_QUANTILES, index, new))
    assert message in str(error.value)


def test_a_feature_missing_from_the_baseline_is_named():
    with pytest.raises(BaselineError, match="bins: no bins for feature c"):
        tiny(bins=TINY_BINS[:4])
    with pytest.raises(BaselineError, match="quantiles: no percentiles for numeric feature x"):
        tiny(quantiles=[])
    with pytest.raises(
        BaselineError, match=re.escape("quantiles line 1 'x|1|0.2': x has percentiles but no value bins")
    ):
        tiny(bins=["x|-1|||100", *TINY_BINS[4:]])


def test_a_feature_the_training_set_never_had_a_value_of_drifts_as_soon_as_one_comes():
    baseline = tiny(bins=["x|-1|||100", *TINY_BINS[4:]], quantiles=[])  # as the Hive step writes it
    x = baseline.features[0]
    current = np.array([[np.nan, 0.0]] * 90 + [[5.0, 1.0]] * 10)

    drift = next(d for d in assess(baseline, current, min_records=1).features if d.name == "x")

    assert (x.labels, x.rows.tolist(), x.quantiles) == (("all", "missing"), [0, 100], None)
    assert drift.current_shares == pytest.approx((0.1, 0.9))
    assert drift.level == "major"
    assert drift.ks is None


def test_the_baseline_is_read_from_s3_and_a_broken_part_file_is_named(s3_bucket, tables, baseline):
    s3, bucket = s3_bucket
    bins, quantiles = tables
    half = len(bins) // 2
    for key, lines in {
        "training/baseline/bins/000000_0": bins[:half],
        "training/baseline/bins/000001_0": bins[half:],
        "training/baseline/bins/_SUCCESS": [],
        "training/baseline/quantiles/000000_0": quantiles,
    }.items():
        s3.put_object(Bucket=bucket, Key=key, Body="".join(line + "\n" for line in lines).encode())

    read = read_baseline(s3, bucket, "training/baseline/")

    assert all(np.array_equal(a.rows, b.rows) for a, b in zip(read.features, baseline.features, strict=True))
    s3.put_object(
        Bucket=bucket, Key="training/baseline/bins/000001_0", Body=("\n".join(bins[half:]) + "\nbroken\n").encode()
    )
    with pytest.raises(
        BaselineError, match=rf"^s3://{bucket}/training/baseline/bins/000001_0 line {len(bins) - half + 1} 'broken'"
    ):
        read_baseline(s3, bucket, "training/baseline")
    with pytest.raises(BaselineError, match=f"no baseline files under s3://{bucket}/elsewhere/bins/"):
        read_baseline(s3, bucket, "elsewhere")


# --- retraining decision


@pytest.fixture(scope="module")
def major(baseline):
    return assess(baseline, loans(20_000, seed=2, credit_shift=-60))


NOW = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
COOLDOWN = timedelta(days=14)


def test_major_drift_within_the_cooldown_is_held_back(major):
    retrain, reason = decide_retraining(major, NOW - timedelta(days=3), NOW, COOLDOWN)

    assert not retrain
    assert reason.startswith(
        f"major drift on credit_score (PSI {major.top.psi:.2f}) but the last retraining was 3 days ago"
    )
    assert "cooldown 14 days: holding back until 2026-03-12 06:00" in reason


def test_major_drift_once_the_cooldown_has_passed_retrains(major):
    retrain, reason = decide_retraining(major, NOW - timedelta(days=14, hours=1), NOW, COOLDOWN)

    assert retrain
    assert reason.endswith("last retraining 14 days ago (cooldown 14 days): retraining")
    assert decide_retraining(major, None, NOW, COOLDOWN) == (
        True,
        f"major drift on credit_score (PSI {major.top.psi:.2f}), and no retraining on record: retraining",
    )
    assert (
        "was 20 hours ago, cooldown 36 hours"
        in decide_retraining(major, NOW - timedelta(hours=20), NOW, timedelta(hours=36))[1]
    )


def test_no_retraining_without_material_drift(baseline):
    stable = assess(baseline, loans(20_000, seed=2))
    few = assess(baseline, loans(10, seed=2))
    moderate = assess(baseline, loans(20_000, seed=2, credit_shift=-15), moderate=0.005, major=10)

    assert decide_retraining(stable, None, NOW, COOLDOWN)[0] is False
    assert decide_retraining(stable, None, NOW, COOLDOWN)[1].startswith("no significant drift (largest PSI")
    assert decide_retraining(few, None, NOW, COOLDOWN) == (
        False,
        "no verdict: 10 rows captured, fewer than the 1,000 needed: not retraining",
    )
    assert decide_retraining(moderate, None, NOW, COOLDOWN)[1].endswith(
        "below the retraining level (major): not retraining"
    )


# --- report and chart


def test_the_report_is_json_with_counts_reasons_and_every_feature(baseline):
    rows = [[None if math.isnan(value) else value for value in row] for row in loans(3000, seed=2, credit_shift=-60)]
    lines = [
        json.dumps(
            {
                "captureData": {
                    "endpointInput": {"encoding": "CSV", "observedContentType": "text/csv", "data": to_csv(row)}
                }
            }
        )
        for row in rows
    ]
    capture = parse_capture([*lines, "garbage", "{}"])
    assessed = assess(baseline, capture.rows)

    report = json.loads(json.dumps(drift_report(assessed, capture), allow_nan=False))

    assert report["verdict"] == "major" and report["material"] is True
    assert report["thresholds"] == {"moderate": 0.1, "major": 0.25, "psi_floor": 1e-4, "min_records": 1000}
    assert report["counts"] == {"records": 3002, "malformed_records": 2, "rows": 3000}
    assert report["malformed"] == {"no_endpoint_input": 1, "not_json": 1}
    assert report["top_features"] == ["credit_score"]
    assert report["features"][0]["feature"] == "credit_score"
    assert set(report["features"][0]) == {"feature", "psi", "level", "ks", "ks_p_value", "bins"}
    categorical = next(f for f in report["features"] if f["feature"] == "channel")
    assert categorical["ks"] is None
    assert [b["bin"] for b in categorical["bins"]] == ["R", "B", "C", "T", "missing"]
    assert sum(b["current_share"] for b in categorical["bins"]) == pytest.approx(1)


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def test_the_chart_is_a_png_of_sensible_size(major, baseline):
    png = drift_chart(major)
    empty = drift_chart(assess(baseline, loans(10, seed=2)))

    assert png_size(png) == (1200, 750)
    assert 20_000 < len(png) < 1_000_000
    assert png_size(empty) == (1200, 750)


def test_importing_the_library_stays_cheap():
    code = (
        "import sys, loanlake.ml.drift_report, loanlake.ml.retraining, loanlake.ml.baseline; "
        "print(sorted(m for m in ('matplotlib', 'scipy') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_nothing_in_the_assessment_is_nan(major):
    values = [v for drift in major.features for v in (drift.psi, drift.ks, drift.ks_p_value) if v is not None]
    assert all(math.isfinite(v) for v in values)
