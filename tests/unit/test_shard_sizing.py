"""Shard sizing on worked examples."""

from __future__ import annotations

import pytest

from loanlake.streaming.sizing import Traffic, required_shards, target_shards


@pytest.mark.parametrize(
    ("write_kb", "read_kb", "records", "shards"),
    [
        (0, 0, 0, 1),  # an idle stream still needs one shard
        (999, 1999, 999, 1),
        (1000, 0, 0, 1),  # exactly one shard's write capacity
        (1001, 0, 0, 2),
        (2500, 0, 0, 3),  # writes decide: 2.5 -> 3
        (100, 9000, 0, 5),  # reads decide: 9000 / 2000 = 4.5 -> 5
        (50, 100, 4200, 5),  # small records decide: 4200 / 1000 = 4.2 -> 5
    ],
)
def test_required_shards(write_kb, read_kb, records, shards):
    assert required_shards(Traffic(write_kb, read_kb, records)) == shards


def test_rates_are_the_busiest_minute_of_the_window():
    # per-minute sums: 1.2 MB then 6 MB written, 12,000 bytes read, 90,000 records in the busy minute
    traffic = Traffic.from_minute_sums([1_200_000, 6_000_000], [12_000], [3_000, 90_000])

    assert traffic == Traffic(write_kb_per_s=100.0, read_kb_per_s=0.2, records_per_s=1500.0)
    assert required_shards(traffic) == 2


def test_the_target_stays_within_the_declared_bounds():
    busy = Traffic(write_kb_per_s=9000, read_kb_per_s=0, records_per_s=0)
    assert target_shards(busy, min_shards=1, max_shards=4) == 4
    assert target_shards(Traffic(0, 0, 0), min_shards=2, max_shards=4) == 2
