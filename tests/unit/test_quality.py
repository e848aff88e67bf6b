"""The quality gate over the metrics files in S3: parsing, and each check's failure message."""

from __future__ import annotations

import pytest

from loanlake.config import parse_config
from loanlake.processing import quality

PREFIX = "quality"


def _row(source: str, files: int, kept: int, null_keys: int = 0, duplicate_keys: int = 0, **reasons: int) -> str:
    """One metrics line as quality_metrics.hql writes it; rows_read = kept + quarantined."""
    quarantined = sum(reasons.values())
    target = "acquisition" if source.endswith("origination") else "performance"
    counts = [files, kept + quarantined, kept, quarantined, *(reasons.get(r, 0) for r in quality.REASONS)]
    return ",".join([source, target, *map(str, [*counts, null_keys, duplicate_keys])])


GOOD = [
    _row("raw_legacy_origination", 0, 0),
    _row("raw_r47_origination", 1, 995, wrong_field_count=3, unknown_code=2),
    _row("raw_legacy_performance", 0, 0),
    _row("raw_r47_performance", 1, 19_900, impossible_date=100),
]


def _put(s3, bucket: str, period: str, lines: list[str], name: str = "part-00000.c000") -> None:
    body = "".join(line + "\n" for line in lines).encode()
    s3.put_object(Bucket=bucket, Key=f"{PREFIX}/quality_metrics/period={period}/{name}", Body=body)


def _check(s3_bucket, check, periods=("2017Q1",), **emr):
    s3, bucket = s3_bucket
    return check(quality.read_metrics(s3, bucket, PREFIX, list(periods)), parse_config({"emr": emr}))


def test_good_metrics_pass_and_add_up_per_table(s3_bucket):
    s3, bucket = s3_bucket
    _put(s3, bucket, "2017Q1", GOOD[:2])
    _put(s3, bucket, "2017Q1", GOOD[2:], name="part-00001.c000")
    _put(s3, bucket, "2017Q1", [], name="part-00002.c000")  # Spark writes empty files too
    _put(s3, bucket, "2017Q1", ["not metrics"], name="_SUCCESS")

    assert _check(s3_bucket, quality.check_row_balance) == []
    assert _check(s3_bucket, quality.check_keys) == []
    assert _check(s3_bucket, quality.check_quarantine_share) == []
    totals = quality.totals(quality.read_metrics(s3, bucket, PREFIX, ["2017Q1"]))
    assert totals["acquisition", "2017Q1"]["rows_read"] == 1_000
    assert totals["performance", "2017Q1"]["rows_kept"] == 19_900


def test_lines_lost_between_read_and_written_are_named(s3_bucket):
    s3, bucket = s3_bucket
    _put(s3, bucket, "2017Q1", [*GOOD[:3], "raw_r47_performance,performance,1,20000,19890,100,0,0,0,100,0,0,0"])

    assert _check(s3_bucket, quality.check_row_balance) == [
        "raw_r47_performance 2017Q1: 20,000 lines read but 19,890 kept in performance + 100 quarantined (+10 lost)"
    ]


def test_reasons_that_do_not_add_up_are_named(s3_bucket):
    s3, bucket = s3_bucket
    _put(s3, bucket, "2017Q1", [*GOOD[:3], "raw_r47_performance,performance,1,20000,19900,100,0,0,0,90,0,0,0"])

    assert _check(s3_bucket, quality.check_row_balance) == [
        "raw_r47_performance 2017Q1: 100 lines quarantined but the reasons count 90"
    ]


def test_a_period_with_nothing_read_fails(s3_bucket):
    s3, bucket = s3_bucket
    _put(s3, bucket, "2017Q3", [_row(t, 0, 0) for t in ("raw_r47_origination", "raw_r47_performance")])

    problems = _check(s3_bucket, quality.check_row_balance, periods=("2017Q3",))

    assert problems == ["2017Q3: no raw file was read: is the period in raw/? (run freddie_mac_ingest)"]


def test_missing_keys_and_repeated_loan_ids_are_counted_per_table(s3_bucket):
    s3, bucket = s3_bucket
    lines = [
        _row("raw_legacy_origination", 1, 10, duplicate_keys=2),
        _row("raw_r47_origination", 1, 10, duplicate_keys=2),
        _row("raw_r47_performance", 1, 100, null_keys=3),
    ]
    _put(s3, bucket, "2017Q1", lines)

    assert _check(s3_bucket, quality.check_keys) == [
        "acquisition 2017Q1: 4 rows share their loan id with another row of the period "
        "(both layouts of one period landed? see raw/<layout>/)",
        "performance 2017Q1: 3 rows without their key",
    ]


def test_too_many_quarantined_lines_fail_listing_the_reasons(s3_bucket):
    s3, bucket = s3_bucket
    _put(s3, bucket, "2017Q1", GOOD)

    problems = _check(s3_bucket, quality.check_quarantine_share, max_quarantine_share=0.004)

    assert problems == [
        "acquisition 2017Q1: 5 of 1,000 lines quarantined (0.50%, limit 0.40%); "
        "reasons: wrong field count 3, unknown code 2",
        "performance 2017Q1: 100 of 20,000 lines quarantined (0.50%, limit 0.40%); reasons: impossible date 100",
    ]


def test_a_period_without_metrics_is_named(s3_bucket):
    s3, bucket = s3_bucket
    _put(s3, bucket, "2017Q1", GOOD)
    with pytest.raises(quality.MetricsError, match=r"no metrics for period 2017Q2 under s3://.*/period=2017Q2/"):
        _check(s3_bucket, quality.check_row_balance, periods=("2017Q1", "2017Q2"))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("raw_r47_origination,acquisition,1,10", "line 2: 4 fields, expected 13: source_table, target_table"),
        ("raw_r47_origination,acquisition,1,many,0,0,0,0,0,0,0,0,0", "line 2: rows_read is 'many', not a whole number"),
    ],
)
def test_a_malformed_metrics_line_names_the_file_line_and_field(s3_bucket, line, message):
    s3, bucket = s3_bucket
    _put(s3, bucket, "2017Q1", [GOOD[0], line])
    with pytest.raises(quality.MetricsError, match=rf"/period=2017Q1/part-00000.c000 {message}"):
        _check(s3_bucket, quality.check_row_balance)
