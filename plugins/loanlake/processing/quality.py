"""The quality gate: checks over the metrics files that ``include/hql/quality_metrics.hql`` writes to S3.

The files (see the header of quality_metrics.hql): every non-empty file under
``<quality_prefix>/quality_metrics/period=<period>/``, one row per raw table, fields separated by ``,``,
no header, no quoting, no NULLs, in the order of ``COLUMNS``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loanlake.config import LoanlakeConfig

REASONS = ("empty_line", "wrong_field_count", "unparsable_number", "impossible_date", "unknown_code")
KEY_COUNTS = ("null_keys", "duplicate_keys")
COLUMNS = (
    "source_table",
    "target_table",
    "source_files",
    "rows_read",
    "rows_kept",
    "rows_quarantined",
    *REASONS,
    *KEY_COUNTS,
)
SEPARATOR = ","
TABLE = "quality_metrics"


class MetricsError(ValueError):
    """The metrics files are missing or malformed; the message names the file, line and field."""


@dataclass(frozen=True)
class TableMetrics:
    """What one period did with one raw table: lines read, rows kept, lines quarantined by reason."""

    period: str
    source_table: str
    target_table: str
    counts: dict[str, int]  # every column from source_files on

    @property
    def reasons(self) -> Counter[str]:
        return Counter({reason: self.counts[reason] for reason in REASONS})


def parse_metrics(period: str, uri: str, text: str) -> list[TableMetrics]:
    """The rows of one metrics file; a malformed line raises naming the file, line and field."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split(SEPARATOR)
        if len(fields) != len(COLUMNS):
            raise MetricsError(
                f"{uri} line {number}: {len(fields)} fields, expected {len(COLUMNS)}: {', '.join(COLUMNS)}"
            )
        counts = {}
        for column, value in zip(COLUMNS[2:], fields[2:], strict=True):
            try:
                counts[column] = int(value)
            except ValueError:
                raise MetricsError(f"{uri} line {number}: {column} is {value!r}, not a whole number") from None
        rows.append(TableMetrics(period, fields[0], fields[1], counts))
    return rows


def metrics_prefix(quality_prefix: str, period: str) -> str:
    return f"{quality_prefix}/{TABLE}/period={period}/"


def read_metrics(s3: Any, bucket: str, quality_prefix: str, periods: Sequence[str]) -> list[TableMetrics]:
    """Every metrics row of the periods; a period without any is an error."""
    rows = []
    for period in periods:
        prefix = metrics_prefix(quality_prefix, period)
        found = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                if obj["Size"] and not obj["Key"].rsplit("/", 1)[-1].startswith(("_", ".")):
                    text = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
                    found += parse_metrics(period, f"s3://{bucket}/{obj['Key']}", text)
        if not found:
            raise MetricsError(
                f"no metrics for period {period} under s3://{bucket}/{prefix}: did quality_metrics.hql run?"
            )
        rows += found
    return rows


def totals(rows: Sequence[TableMetrics]) -> dict[tuple[str, str], Counter[str]]:
    """Counts summed per (target table, period): the raw tables of both layouts together."""
    summed: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for row in rows:
        summed[row.target_table, row.period].update(row.counts)
    return dict(summed)


def check_row_balance(rows: Sequence[TableMetrics], config: LoanlakeConfig) -> list[str]:
    """Lines read = rows kept + lines quarantined for every raw table, reasons add up, and something was read."""
    problems = []
    for row in rows:
        read, kept, quarantined = (row.counts[c] for c in ("rows_read", "rows_kept", "rows_quarantined"))
        where = f"{row.source_table} {row.period}"
        if read != kept + quarantined:
            problems.append(
                f"{where}: {read:,} lines read but {kept:,} kept in {row.target_table} + {quarantined:,} quarantined "
                f"({read - kept - quarantined:+,} lost)"
            )
        if row.reasons.total() != quarantined:
            problems.append(f"{where}: {quarantined:,} lines quarantined but the reasons count {row.reasons.total():,}")
    for period in sorted({row.period for row in rows}):
        if not sum(row.counts["source_files"] for row in rows if row.period == period):
            problems.append(f"{period}: no raw file was read: is the period in raw/? (run freddie_mac_ingest)")
    return problems


def check_keys(rows: Sequence[TableMetrics], config: LoanlakeConfig) -> list[str]:
    """Every kept row has its key, and loan ids are unique per period in acquisition."""
    problems = []
    for (table, period), counts in sorted(totals(rows).items()):
        if counts["null_keys"]:
            problems.append(f"{table} {period}: {counts['null_keys']:,} rows without their key")
        if counts["duplicate_keys"]:
            problems.append(
                f"{table} {period}: {counts['duplicate_keys']:,} rows share their loan id with another row of the "
                "period (both layouts of one period landed? see raw/<layout>/)"
            )
    return problems


def check_quarantine_share(rows: Sequence[TableMetrics], config: LoanlakeConfig) -> list[str]:
    """No processed table loses more than ``emr.max_quarantine_share`` of a period's lines to quarantine."""
    limit = config.emr.max_quarantine_share
    problems = []
    for (table, period), counts in sorted(totals(rows).items()):
        read, quarantined = counts["rows_read"], counts["rows_quarantined"]
        if read and quarantined / read > limit:
            reasons = Counter({reason: counts[reason] for reason in REASONS if counts[reason]})
            top = ", ".join(f"{reason.replace('_', ' ')} {n:,}" for reason, n in reasons.most_common())
            problems.append(
                f"{table} {period}: {quarantined:,} of {read:,} lines quarantined ({quarantined / read:.2%}, "
                f"limit {limit:.2%}); reasons: {top}"
            )
    return problems
