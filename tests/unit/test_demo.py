"""`make demo` runs every DAG that exists, in pipeline order."""

from __future__ import annotations

import ast
from pathlib import Path

from sandbox.demo import pipeline

DAGS = Path(__file__).resolve().parents[2] / "dags"


def _dag_ids() -> set[str]:
    ids = set()
    for path in DAGS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "dag_id" and isinstance(node.value, ast.Constant):
                ids.add(node.value.value)
    return ids


def test_every_dag_is_in_the_demo():
    assert _dag_ids(), "no DAG found in dags/"
    assert _dag_ids() <= {step.dag_id for step in pipeline()}


def test_the_demo_reruns_the_ingest_to_show_it_is_idempotent():
    ingest = [step for step in pipeline() if step.dag_id == "freddie_mac_ingest"]
    assert len(ingest) == 2 and ingest[0].conf == ingest[1].conf
    assert ingest[0].logical_date != ingest[1].logical_date


def test_the_demo_processes_the_periods_the_first_ingest_fetched():
    first_ingest = next(step for step in pipeline() if step.dag_id == "freddie_mac_ingest")
    processing = next(step for step in pipeline() if step.dag_id == "loan_data_processing")
    fetched = first_ingest.conf["quarters"] + [str(year) for year in first_ingest.conf["sample_years"]]
    assert sorted(processing.conf["periods"]) == sorted(fetched)
