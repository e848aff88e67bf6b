"""Run DAGs in-process against the sandbox with ``dag.test()``, for the demo and the tests.

``prepare_airflow`` must run before anything imports Airflow: it points Airflow's home at a local
folder (SQLite metadata, this repo's dags/) and migrates the database once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def airflow_env(home: Path) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
    }


def prepare_airflow(home: Path) -> None:
    """Set Airflow's environment for this process and migrate its metadata database if needed."""
    if "airflow" in sys.modules and os.environ.get("AIRFLOW_HOME") != str(home):
        raise RuntimeError("prepare_airflow() must run before Airflow is imported")
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update(airflow_env(home))
    for path in (ROOT / "plugins", ROOT):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    stamp = home / ".migrated"
    if not stamp.exists():
        airflow = Path(sys.executable).with_name("airflow")
        subprocess.run([str(airflow), "db", "migrate"], check=True, env=os.environ.copy(), capture_output=True)
        stamp.touch()


@dataclass(frozen=True)
class RunResult:
    """The outcome of one DAG run: its state and the state of each task (mapped ones by index)."""

    dag_id: str
    run_id: str
    state: str
    tasks: dict[str, str]
    errors: dict[str, str]  # task -> "ExceptionType: message", for the tasks that failed

    @property
    def failed_tasks(self) -> list[str]:
        return [task for task, state in self.tasks.items() if state not in ("success", "skipped")]

    def __str__(self) -> str:
        """The run's state, then each task's; a mapped task's instances in one line per state."""
        grouped: dict[tuple[str, str], list[str]] = {}
        for task, state in self.tasks.items():
            name, _, index = task.partition("[")
            grouped.setdefault((name, state), []).append(index.rstrip("]"))
        lines = [f"{self.dag_id} {self.run_id}: {self.state}"]
        for (name, state), indexes in grouped.items():
            mapped = f"{name}[{len(indexes)} mapped]" if indexes != [""] else name
            lines.append(f"  {mapped:<40} {state}")
        lines += [f"  {task} failed: {error}" for task, error in self.errors.items()]
        return "\n".join(lines)


def load_dag(dag_id: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    if dag_id not in bag.dags:
        raise KeyError(f"no DAG {dag_id!r} in {ROOT / 'dags'}; found {sorted(bag.dags)}")
    return bag.dags[dag_id]


def run_dag(dag_id: str, logical_date: datetime, conf: dict[str, Any] | None = None) -> RunResult:
    """One run of ``dag_id`` with ``dag.test()``; task states are read back, not inferred."""
    dag = load_dag(dag_id)
    errors: dict[str, str] = {}

    def record_failure(context: dict[str, Any]) -> None:
        ti = context["ti"]
        name = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        error = context.get("exception")
        errors[name] = f"{type(error).__name__}: {error}"

    # dag.test() of Airflow 3.3 passes a DAG's serialized DeadlineAlert where it expects the alert's database id
    # and fails; deadlines are the scheduler's to evaluate, which dag.test() does not run, so it gets none.
    dag.deadline = None
    for task in dag.tasks:
        existing = task.on_failure_callback or []
        task.on_failure_callback = [*(existing if isinstance(existing, list) else [existing]), record_failure]
    run = dag.test(logical_date=logical_date, run_conf=conf or {})
    tasks = {}
    for ti in sorted(run.get_task_instances(), key=lambda t: (t.task_id, t.map_index)):
        name = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        tasks[name] = str(ti.state.value if hasattr(ti.state, "value") else ti.state)
    state = run.state.value if hasattr(run.state, "value") else str(run.state)
    return RunResult(dag_id, run.run_id, state, tasks, errors)


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Send this process's stdout/stderr (task logs included) to a file for the duration."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        handlers = logging.getLogger().handlers
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            logging.getLogger().handlers = handlers
