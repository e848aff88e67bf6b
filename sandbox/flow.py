"""What the sandbox's Firehose delivered: the records under a prefix, decoded, for the demo and the tests."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from typing import Any


def records(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """Every JSON line of every object under ``prefix`` (gunzipped when Firehose compressed it)."""
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            text = (gzip.decompress(body) if obj["Key"].endswith(".gz") else body).decode()
            found += [json.loads(line) for line in text.splitlines() if line]
    return found


def wait_for(count: Callable[[], int], expected: int, timeout: float = 60.0) -> int:
    """Poll ``count`` until it reaches ``expected`` or ``timeout`` passes; the last count."""
    deadline = time.monotonic() + timeout
    while (seen := count()) < expected and time.monotonic() < deadline:
        time.sleep(0.5)
    return seen
