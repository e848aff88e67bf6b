"""What every loanlake DAG declares the same way: default task arguments, the periods Param."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param

from loanlake.processing.periods import PERIOD_PATTERN


def default_args(execution_timeout: timedelta) -> dict[str, Any]:
    """Owner and retries with backoff on every task, and a ceiling on how long a try may run."""
    return {
        "owner": "data-engineering",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "execution_timeout": execution_timeout,
    }


def periods_param(description: str) -> Param:
    """The ``periods`` Param of a manual run or backfill: 2017Q1 for a quarter, 2017 for a sample year."""
    return Param([], type="array", items={"type": "string", "pattern": PERIOD_PATTERN}, description=description)
