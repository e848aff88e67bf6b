"""S3 key parts derived from Airflow identifiers."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")


def run_part(run_id: str) -> str:
    """A run id as one key segment: ``manual__2017-01-01T00:00:00+00:00`` -> ``manual__2017-01-01T00_00_00_00_00``."""
    return _UNSAFE.sub("_", run_id)
