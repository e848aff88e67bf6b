"""Failure alerts through the sandbox's SNS, read from a queue subscribed to the topic as on-call's pager is."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from loanlake.alerts import deadline_missed
from sandbox.runner import run_dag

pytestmark = pytest.mark.integration


def test_a_failed_task_sends_one_alert_saying_what_where_and_what_to_do(sandbox, alerts):
    result = run_dag("loan_data_processing", datetime(2023, 1, 1, tzinfo=UTC), {})

    assert result.state == "failed" and result.tasks["resolve_periods"] == "failed"
    received = alerts()
    assert len(received) == 1, received
    subject, text = received[0]["subject"], received[0]["text"]
    assert subject == "[loanlake sandbox] loan_data_processing.resolve_periods failed"
    assert f"run {result.run_id}, try 1 of 3" in text
    assert "error: AirflowFailException: no periods to process" in text
    assert f"/dags/loan_data_processing/runs/{result.run_id.replace(':', '%3A').replace('+', '%2B')}/tasks/" in text
    assert "runbook: https://" in text and "docs/runbook.md#loan_data_processing" in text


def test_a_missed_deadline_is_alerted(sandbox, alerts):
    asyncio.run(deadline_missed(dag_id="freddie_mac_ingest", deadline="6:00:00"))

    (received,) = alerts()
    assert received["subject"] == "[loanlake sandbox] freddie_mac_ingest late"
    assert "freddie_mac_ingest: a run is not done 6:00:00 after it was queued" in received["text"]
    assert "docs/runbook.md#freddie_mac_ingest" in received["text"]


def test_a_run_that_times_out_is_alerted_once_and_says_the_teardown_did_not_run(sandbox, alerts):
    from loanlake.alerts import RunTimeoutNotifier
    from sandbox.runner import load_dag

    dag = load_dag("loan_data_processing")
    notifier = RunTimeoutNotifier()

    notifier({"dag": dag, "run_id": "scheduled__2026-01-01", "reason": "task_failure"})  # a task alerted already
    notifier({"dag": dag, "run_id": "scheduled__2026-01-01", "reason": "timed_out"})

    (received,) = alerts()
    assert received["subject"] == "[loanlake sandbox] loan_data_processing run timed out"
    assert "timed out after 12:00:00" in received["text"] and "teardowns did not run" in received["text"]
    assert "orphan_sweeper" in received["text"] and "docs/runbook.md#loan_data_processing" in received["text"]


def test_an_invalid_config_still_lets_the_alert_out(sandbox, alerts, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_LOANLAKE_CONFIG", '{"regoin": "us-east-1"}')
    asyncio.run(deadline_missed(dag_id="freddie_mac_ingest", deadline="6:00:00"))

    (received,) = alerts()
    assert "the loanlake_config Variable is invalid" in received["text"] and "regoin: unknown key" in received["text"]
