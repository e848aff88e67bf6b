"""Loan-application events into a Kinesis stream with ``PutRecords``: synthetic events, partial-failure retries.

``python -m loanlake.streaming.producer --stream NAME --count N`` runs against AWS with the default boto3
credentials and region (``AWS_ENDPOINT_URL`` points it elsewhere, as the sandbox does). ``PutRecords``
takes up to 500 records and 5 MB a call and can accept some records while rejecting others
(``FailedRecordCount``, an ``ErrorCode`` per record, e.g. ``ProvisionedThroughputExceededException``):
only the rejected ones are sent again, with exponential backoff, until ``attempts`` is spent.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

BATCH_RECORDS = 500
STATES = ("CA", "TX", "FL", "NY", "IL", "PA", "OH", "GA", "NC", "MI", "WA", "AZ")


def events(count: int, seed: int = 7, bad_every: int = 0, start: datetime | None = None) -> Iterator[dict[str, Any]]:
    """``count`` synthetic loan applications; with ``bad_every`` = k, every k-th one lacks its loan amount."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    for number in range(1, count + 1):
        event = {
            "application_id": f"APP{seed:03d}{number:09d}",
            "event_time": (start + timedelta(seconds=number)).isoformat().replace("+00:00", "Z"),
            "loan_amount": round(rng.uniform(60_000, 900_000), -3),
            "interest_rate": round(rng.uniform(2.5, 8.5), 3),
            "credit_score": rng.choice([None, *range(580, 831, 10)]),
            "ltv": rng.randint(40, 97),
            "dti": rng.randint(10, 50),
            "state": rng.choice(STATES),
            "channel": rng.choice("RBC"),
        }
        if bad_every and number % bad_every == 0:
            del event["loan_amount"]
        yield event


@dataclass
class PutResult:
    """What a producer run did: records accepted, calls made, records retried, records given up on."""

    accepted: int = 0
    calls: int = 0
    retried: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)


def _batches(records: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for record in records:
        batch.append(record)
        if len(batch) == BATCH_RECORDS:
            yield batch
            batch = []
    if batch:
        yield batch


def _entry(event: dict[str, Any]) -> dict[str, Any]:
    return {"Data": json.dumps(event, separators=(",", ":")).encode(), "PartitionKey": event["application_id"]}


def put_events(
    kinesis: Any,
    stream: str,
    source: Iterable[dict[str, Any]],
    attempts: int = 5,
    backoff_seconds: float = 0.1,
) -> PutResult:
    """Put every event, 500 a call; rejected records are retried alone, with backoff doubling each attempt."""
    result = PutResult()
    for batch in _batches(_entry(event) for event in source):
        pending: Sequence[dict[str, Any]] = batch
        for attempt in range(attempts):
            if attempt:
                time.sleep(backoff_seconds * 2 ** (attempt - 1))
                result.retried += len(pending)
            response = kinesis.put_records(StreamName=stream, Records=list(pending))
            result.calls += 1
            rejected = [
                (entry, answer)
                for entry, answer in zip(pending, response["Records"], strict=True)
                if "ErrorCode" in answer
            ]
            result.accepted += len(pending) - len(rejected)
            pending = [entry for entry, _ in rejected]
            if not pending:
                break
        else:
            result.failed += [
                {"PartitionKey": entry["PartitionKey"], "ErrorCode": answer["ErrorCode"]} for entry, answer in rejected
            ]
    return result


def main(argv: Sequence[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream", required=True, help="Kinesis stream name")
    parser.add_argument("--count", type=int, default=1000, help="events to put")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic events")
    parser.add_argument("--bad-every", type=int, default=0, help="every k-th event lacks its loan amount")
    args = parser.parse_args(argv)
    started = time.monotonic()
    result = put_events(boto3.client("kinesis"), args.stream, events(args.count, args.seed, args.bad_every))
    seconds = time.monotonic() - started
    print(
        f"{result.accepted:,} of {args.count:,} events put into {args.stream} in {seconds:.1f} s "
        f"({result.accepted / max(seconds, 1e-9):,.0f}/s), {result.calls} calls, {result.retried} retried, "
        f"{len(result.failed)} given up"
    )
    return 1 if result.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
