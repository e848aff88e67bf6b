"""DAG integrity: every file in dags/ imports cleanly, does no I/O when parsed, parses fast and follows policy.

Tests taking ``dag_file`` run once per file in dags/ (see conftest.py), so a new DAG is covered without edits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

PARSE_SECONDS_LIMIT = 2.0


def test_imports_without_errors(dag_parse, dag_file):
    error = dag_parse.files[dag_file].import_error
    assert error is None, f"dags/{dag_file} does not import:\n{error}"


def test_no_io_while_parsed(dag_parse, dag_file):
    attempts = dag_parse.files[dag_file].io_attempts
    assert not attempts, f"dags/{dag_file} does I/O at parse time (move it into a task): " + "; ".join(attempts)


def test_defines_a_dag(dag_parse, dag_file):
    assert dag_parse.files[dag_file].dags, f"dags/{dag_file} defines no DAG (a @dag function not called?)"


def test_parse_time(dag_parse, dag_file):
    seconds = dag_parse.files[dag_file].seconds
    assert seconds < PARSE_SECONDS_LIMIT, (
        f"dags/{dag_file} took {seconds:.2f} s to parse (limit {PARSE_SECONDS_LIMIT} s)"
    )


def test_at_least_one_dag(dag_parse):
    assert any(parse.dags for parse in dag_parse.files.values()), "no DAG found in dags/"


def _owner(dag: Any, _flipped: Any) -> str | None:
    owners = sorted({task.owner or "" for task in dag.tasks})
    if not owners or set(owners) & {"", "airflow"}:
        return f"task owners are {owners}: set default_args['owner'] to the owning team"
    return None


def _failure_alert(dag: Any, _flipped: Any) -> str | None:
    from loanlake.alerts import FailureNotifier

    def alerted(task: Any) -> bool:
        callbacks = task.on_failure_callback or []
        return any(isinstance(c, FailureNotifier) for c in (callbacks if isinstance(callbacks, list) else [callbacks]))

    silent = sorted(task.task_id for task in dag.tasks if not alerted(task))
    return f"tasks without the failure alert (default_args on_failure_callback): {silent}" if silent else None


def _run_timeout_alert(dag: Any, _flipped: Any) -> str | None:
    from loanlake.alerts import RunTimeoutNotifier

    callbacks = dag.on_failure_callback or []
    callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
    if not any(isinstance(callback, RunTimeoutNotifier) for callback in callbacks):
        return "no alert for a run that times out: on_failure_callback=run_timeout_alert()"
    return None if dag.dagrun_timeout else "dagrun_timeout is not set"


def _tags(dag: Any, _flipped: Any) -> str | None:
    return None if dag.tags else "has no tags"


def _retries(dag: Any, _flipped: Any) -> str | None:
    few = sorted(task.task_id for task in dag.tasks if (task.retries or 0) < 2)
    return f"tasks with fewer than 2 retries: {few}" if few else None


def _doc_md(dag: Any, _flipped: Any) -> str | None:
    return None if (dag.doc_md or "").strip() else "doc_md is empty"


def _description(dag: Any, _flipped: Any) -> str | None:
    return None if (dag.description or "").strip() else "description is empty"


def _catchup(dag: Any, flipped: Any) -> str | None:
    if isinstance(dag.catchup, bool) and flipped is not None and flipped.catchup == dag.catchup:
        return None
    return "catchup is not set explicitly (it follows [scheduler] catchup_by_default)"


def _max_active_runs(dag: Any, flipped: Any) -> str | None:
    if flipped is not None and flipped.max_active_runs == dag.max_active_runs:
        return None
    return "max_active_runs is not set (it follows [core] max_active_runs_per_dag)"


POLICY: dict[str, Callable[[Any, Any], str | None]] = {
    "owner": _owner,
    "failure_alert": _failure_alert,
    "run_timeout_alert": _run_timeout_alert,
    "tags": _tags,
    "retries": _retries,
    "doc_md": _doc_md,
    "description": _description,
    "catchup": _catchup,
    "max_active_runs": _max_active_runs,
}


@pytest.mark.parametrize("rule", list(POLICY.values()), ids=list(POLICY))
def test_dag_policy(dag_parse, dag_file, rule):
    dags = dag_parse.files[dag_file].dags
    if not dags:
        pytest.skip(f"dags/{dag_file} gave no DAG; see test_imports_without_errors and test_defines_a_dag")
    problems = [f"{dag.dag_id}: {problem}" for dag in dags if (problem := rule(dag, dag_parse.flipped.get(dag.dag_id)))]
    assert not problems, f"dags/{dag_file}: " + "; ".join(problems)


GUARD_CASES = {
    "clean.py": "import pendulum\nfrom airflow.sdk import DAG\n"
    "with DAG('clean', schedule='@daily', start_date=pendulum.datetime(2024, 1, 1)):\n    pass\n",
    "socket_swallowed.py": "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9))\nexcept Exception:\n"
    "    pass\n",
    "http_call.py": "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:9/')\n",
    "variable_get.py": "from airflow.sdk import Variable\nVariable.get('loanlake_config')\n",
    "mysql_connect.py": "import MySQLdb\nMySQLdb.connect(host='127.0.0.1', user='root')\n",
    "postgres_connect.py": "import psycopg2\npsycopg2.connect(host='127.0.0.1', user='postgres')\n",
}


def test_guard_refuses_io_and_lets_clean_files_parse(parse_folder, tmp_path):
    for name, source in GUARD_CASES.items():
        (tmp_path / name).write_text(source)
    parsed = parse_folder(tmp_path)
    assert [dag.dag_id for dag in parsed["clean.py"].dags] == ["clean"]
    assert not parsed["clean.py"].io_attempts and parsed["clean.py"].import_error is None
    assert parsed["socket_swallowed.py"].io_attempts, "an attempt the DAG code swallows is still recorded"
    assert parsed["socket_swallowed.py"].import_error is None
    for name in ("http_call.py", "variable_get.py", "mysql_connect.py", "postgres_connect.py"):
        assert parsed[name].io_attempts
        assert f"ParseTimeIOError: {name}: " in parsed[name].import_error


@pytest.mark.parametrize("dag_id", ["freddie_mac_ingest", "loan_data_processing"])
def test_long_runs_have_a_deadline_alert(dag_parse, dag_id):
    from airflow.sdk import DeadlineReference

    dag = next(d for parse in dag_parse.files.values() for d in parse.dags if d.dag_id == dag_id)
    alerts = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline]
    assert alerts and alerts[0] is not None, f"{dag_id} has no DeadlineAlert"
    assert alerts[0].reference == DeadlineReference.DAGRUN_QUEUED_AT
    assert alerts[0].callback.path == "loanlake.alerts.deadline_missed"
    assert alerts[0].interval < dag.dagrun_timeout, "the alert comes before the run times out"
