"""Kinesis shard sizing from measured traffic.

A shard takes 1 MB/s (1,000 KB/s) and 1,000 records/s of writes and serves 2 MB/s (2,000 KB/s) of reads, so
the shards a stream needs are ``max(write KB/s / 1000, read KB/s / 2000, records/s / 1000)``, rounded up,
and at least one. Rates are the busiest minute of the window (CloudWatch sums per 60 s divided by 60): an
average over 15 minutes hides the bursts that throttle producers. 1 KB = 1,000 bytes here, as in the
Kinesis quotas.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WRITE_KB_PER_SHARD = 1000
READ_KB_PER_SHARD = 2000
RECORDS_PER_SHARD = 1000


@dataclass(frozen=True)
class Traffic:
    """Peak per-second rates over a window."""

    write_kb_per_s: float
    read_kb_per_s: float
    records_per_s: float

    @classmethod
    def from_minute_sums(
        cls, incoming_bytes: Sequence[float], read_bytes: Sequence[float], incoming_records: Sequence[float]
    ) -> Traffic:
        """From CloudWatch per-minute Sum datapoints of IncomingBytes, GetRecords.Bytes and IncomingRecords."""

        def peak(sums: Sequence[float]) -> float:
            return max(sums, default=0.0) / 60

        return cls(peak(incoming_bytes) / 1000, peak(read_bytes) / 1000, peak(incoming_records))


def required_shards(traffic: Traffic) -> int:
    needs = (
        traffic.write_kb_per_s / WRITE_KB_PER_SHARD,
        traffic.read_kb_per_s / READ_KB_PER_SHARD,
        traffic.records_per_s / RECORDS_PER_SHARD,
    )
    return max(1, math.ceil(max(needs)))


def target_shards(traffic: Traffic, min_shards: int, max_shards: int) -> int:
    """The shard count to run with: what the traffic needs, within the declared bounds."""
    return min(max_shards, max(min_shards, required_shards(traffic)))
