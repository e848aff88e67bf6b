"""The loan-application stream: the Firehose transform Lambda's throughput and the producer's, each against a baseline.

- Transform: ``include/lambda/firehose_transform/handler.transform`` on batches of 500 records (Firehose's
  event as it arrives, base64 JSON loan applications, 1 in 50 invalid), called in-process so the figure is the
  handler's own work; the baseline is the least a transformer does (decode, ``json.loads``, ``json.dumps``,
  encode, no validation) over the same records.
- Producer: ``loanlake.streaming.producer.put_events`` (``PutRecords``, 500 a call, failed records retried)
  into a Kinesis stream of a sandbox started here (moto with its extensions); the baseline is one ``PutRecord``
  call per event into the same stream.
``LOANLAKE_BENCH_STREAM_EVENTS`` sets the number of events (default 20,000).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import os
import tempfile
import time
from pathlib import Path

from benchmarks.results import record

ROOT = Path(__file__).resolve().parents[1]
BATCH = 500


def _handler():
    path = ROOT / "include" / "lambda" / "firehose_transform" / "handler.py"
    spec = importlib.util.spec_from_file_location("firehose_transform_handler", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _baseline_transform(event: dict) -> dict:
    records = []
    for item in event["records"]:
        data = json.dumps(json.loads(base64.b64decode(item["data"]))) + "\n"
        records.append({"recordId": item["recordId"], "result": "Ok", "data": base64.b64encode(data.encode()).decode()})
    return {"records": records}


def bench_transform(count: int) -> None:
    from loanlake.streaming.producer import events

    handler = _handler()
    handler.log.setLevel(logging.ERROR)  # its WARNING line per failed record would swamp the figures
    payloads = [json.dumps(event).encode() for event in events(count, seed=3, bad_every=50)]
    batches = [
        {"records": [{"recordId": f"{i + j}", "data": base64.b64encode(p).decode()} for j, p in enumerate(chunk)]}
        for i in range(0, len(payloads), BATCH)
        for chunk in [payloads[i : i + BATCH]]
    ]
    timings = {}
    for name, transform in (("handler", handler.transform), ("baseline", _baseline_transform)):
        started = time.perf_counter()
        answers = [transform(batch) for batch in batches]
        timings[name] = time.perf_counter() - started
        if name == "handler":
            failed = sum(r["result"] == "ProcessingFailed" for answer in answers for r in answer["records"])
    rate, base = count / timings["handler"], count / timings["baseline"]
    print(f"transform Lambda, {count:,} records in batches of {BATCH} ({failed} ProcessingFailed):")
    print(f"  handler {rate:,.0f} records/s, baseline (decode, parse, dump, encode) {base:,.0f} records/s")
    record(
        "streaming",
        f"Firehose transform, batches of {BATCH}",
        f"{rate:,.0f} records/s",
        f"parse and dump only: {base:,.0f} records/s",
        f"{rate / base:.2f}x",
        "reported",
        "reported",
    )


def bench_producer(count: int) -> None:
    from loanlake.streaming.producer import events, put_events
    from sandbox.site import Sandbox, SandboxSettings

    with tempfile.TemporaryDirectory(prefix="loanlake-bench-") as home:
        site = Sandbox(SandboxSettings(home=Path(home), moto_port=0, portal_port=0, require_java=False)).start()
        try:
            kinesis = site.boto3_client("kinesis")
            kinesis.create_stream(StreamName="bench", ShardCount=4)
            kinesis.get_waiter("stream_exists").wait(StreamName="bench", WaiterConfig={"Delay": 1})
            started = time.perf_counter()
            result = put_events(kinesis, "bench", events(count, seed=5))
            batched = time.perf_counter() - started
            single = max(1, count // 10)
            started = time.perf_counter()
            for event in events(single, seed=6):
                kinesis.put_record(
                    StreamName="bench", Data=json.dumps(event).encode(), PartitionKey=event["application_id"]
                )
            one_by_one = time.perf_counter() - started
        finally:
            site.stop()
    rate, base = result.accepted / batched, single / one_by_one
    print(
        f"producer into the sandbox's Kinesis (4 shards), {count:,} events: {result.calls} PutRecords calls, "
        f"{result.retried} retried, {len(result.failed)} given up"
    )
    print(f"  put_events {rate:,.0f} events/s, one PutRecord per event ({single:,} events) {base:,.0f} events/s")
    record(
        "streaming",
        "producer PutRecords into the sandbox's Kinesis",
        f"{rate:,.0f} events/s",
        f"one PutRecord each: {base:,.0f} events/s",
        f"{rate / base:.1f}x",
        "reported",
        "reported",
    )


def main() -> None:
    count = int(os.environ.get("LOANLAKE_BENCH_STREAM_EVENTS", "20000"))
    bench_transform(count)
    bench_producer(count)
