"""What every loanlake DAG declares the same way: default task arguments with the alert, deadlines, Params."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference, Param

from loanlake.alerts import FailureNotifier, RunTimeoutNotifier, deadline_missed
from loanlake.processing.periods import PERIOD_PATTERN


def default_args(execution_timeout: timedelta) -> dict[str, Any]:
    """Owner, retries with backoff, a ceiling on how long a try may run, and the failure alert, on every task."""
    return {
        "owner": "data-engineering",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "execution_timeout": execution_timeout,
        "on_failure_callback": [FailureNotifier()],
    }


def run_timeout_alert() -> list[RunTimeoutNotifier]:
    """A DAG's ``on_failure_callback``: the alert of a run that hits its ``dagrun_timeout``."""
    return [RunTimeoutNotifier()]


def deadline(dag_id: str, after: timedelta) -> DeadlineAlert:
    """An alert when a run of ``dag_id`` is still not done ``after`` it was queued (the scheduler checks it)."""
    callback = AsyncCallback(deadline_missed, kwargs={"dag_id": dag_id, "deadline": str(after)})
    return DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=after, callback=callback)


def periods_param(description: str) -> Param:
    """The ``periods`` Param of a manual run or backfill: 2017Q1 for a quarter, 2017 for a sample year."""
    return Param([], type="array", items={"type": "string", "pattern": PERIOD_PATTERN}, description=description)
