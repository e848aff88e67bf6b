"""Reconciliation: the rows Hive kept per period against the rows each warehouse holds for it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# processed table -> the warehouse it is published to
PUBLISHED_TO = {"acquisition": "RDS MySQL", "performance": "Redshift"}


def compare(
    periods: Sequence[str],
    hive_kept: Mapping[tuple[str, str], int],
    published: Mapping[tuple[str, str], int],
) -> tuple[str, list[str]]:
    """A table of (period, table, Hive, warehouse) counts and the differences, one line each.

    ``hive_kept`` and ``published`` are keyed by (table, period); a missing count reads as 0.
    """
    header = f"{'period':<8} {'table':<12} {'Hive kept':>12} {'warehouse':>10} {'published':>12}  status"
    lines, problems = [header], []
    for period in periods:
        for table, warehouse in PUBLISHED_TO.items():
            kept, loaded = hive_kept.get((table, period), 0), published.get((table, period), 0)
            status = "ok" if kept == loaded else f"differs by {loaded - kept:+,}"
            lines.append(f"{period:<8} {table:<12} {kept:>12,} {warehouse:>10} {loaded:>12,}  {status}")
            if kept != loaded:
                problems.append(f"{period} {table}: Hive kept {kept:,} rows, {warehouse} has {loaded:,}")
    return "\n".join(lines), problems
