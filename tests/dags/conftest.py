"""One guarded parse of every file in dags/, shared by the DAG integrity tests.

Each file is parsed in a session-scoped DagBag while sockets, DNS, the metadata database, the MySQL and
PostgreSQL drivers and Variable or Connection look-ups are refused (and recorded), and timed once Airflow
itself is imported. A second parse with flipped Airflow defaults shows whether ``catchup`` and
``max_active_runs`` were set by the DAG or inherited from the configuration.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"

DEV_ENV = {
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACK_DEPTH": "8",
    "AIRFLOW_CONN_AWS_DEFAULT": '{"conn_type": "aws", "login": "testing", "password": "testing", '
    '"extra": {"region_name": "us-east-1", "endpoint_url": "http://127.0.0.1:4566"}}',
    "AIRFLOW_VAR_LOANLAKE_CONFIG": '{"environment": "test"}',
    "LOANLAKE__DATA_BUCKET": "loanlake-data",
}
DEFAULTS = {"AIRFLOW__SCHEDULER__CATCHUP_BY_DEFAULT": "False", "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": "16"}
FLIPPED_DEFAULTS = {"AIRFLOW__SCHEDULER__CATCHUP_BY_DEFAULT": "True", "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": "17"}


def dag_files(folder: Path = DAGS_DIR) -> list[Path]:
    """The DAG files the tests cover: every ``*.py`` directly in ``folder``."""
    return sorted(folder.glob("*.py"))


class ParseTimeIOError(RuntimeError):
    """A DAG file tried to reach the network, the database or a secrets backend while being parsed.

    Not an ``OSError``, so client libraries neither retry it nor turn it into a connection error of their own.
    """


class IOGuard:
    """Refuses I/O during a parse and records every attempt, including ones the DAG code swallows."""

    def __init__(self) -> None:
        self.current = ""
        self.attempts: dict[str, list[str]] = {}

    def refuse(self, action: str) -> NoReturn:
        self.attempts.setdefault(self.current, []).append(action)
        raise ParseTimeIOError(f"{self.current}: {action} while the file was being parsed; do this inside a task")

    def install(self, mp: pytest.MonkeyPatch) -> None:
        from airflow.sdk.execution_time import context
        from sqlalchemy.engine import Engine

        mp.setattr(socket.socket, "connect", lambda _sock, address: self.refuse(f"socket connect to {address!r}"))
        mp.setattr(socket.socket, "connect_ex", lambda _sock, address: self.refuse(f"socket connect to {address!r}"))
        mp.setattr(socket, "create_connection", lambda address, *_, **__: self.refuse(f"connection to {address!r}"))
        mp.setattr(socket, "getaddrinfo", lambda host, port, *_, **__: self.refuse(f"DNS lookup of {host}:{port}"))
        mp.setattr(
            Engine, "raw_connection", lambda engine, *_, **__: self.refuse(f"database connection {engine.url!r}")
        )
        # The database drivers open their sockets in C, past the socket module: refuse their connect calls too.
        import MySQLdb
        import psycopg2

        mp.setattr(MySQLdb, "connect", lambda *_, **kwargs: self.refuse(f"MySQL connection {kwargs.get('host')!r}"))
        mp.setattr(psycopg2, "connect", lambda *args, **kwargs: self.refuse(f"PostgreSQL connection {args or kwargs}"))
        mp.setattr(context, "_get_variable", lambda key, *_, **__: self.refuse(f"Variable.get({key!r})"))
        mp.setattr(context, "_get_connection", lambda conn_id: self.refuse(f"connection look-up {conn_id!r}"))


@dataclass
class FileParse:
    """What parsing one DAG file gave: its DAGs, its import error, its I/O attempts and its parse time."""

    name: str
    seconds: float
    dags: list[Any]
    import_error: str | None
    io_attempts: list[str]


@dataclass
class DagParse:
    """The parse of dags/ with the configured defaults, and the DAGs of the parse with flipped defaults."""

    files: dict[str, FileParse]
    flipped: dict[str, Any]


def parse_dag_files(folder: Path, env: dict[str, str] | None = None) -> dict[str, FileParse]:
    """Parse each file of ``folder`` in one DagBag with I/O refused and ``env`` set; keyed by file name."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=folder, collect_dags=False, bundle_path=folder)
    guard = IOGuard()
    parsed = {}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in (env or {}).items():
            mp.setenv(key, value)
        guard.install(mp)
        for path in dag_files(folder):
            guard.current = path.name
            start = time.perf_counter()
            dags = bag.process_file(str(path), only_if_updated=False, safe_mode=False)
            seconds = time.perf_counter() - start
            error = bag.import_errors.get(path.relative_to(folder).as_posix())
            parsed[path.name] = FileParse(path.name, seconds, dags, error, guard.attempts.get(path.name, []))
    return parsed


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that takes ``dag_file`` runs once per file in dags/, so new DAGs are covered unedited."""
    if "dag_file" in metafunc.fixturenames:
        metafunc.parametrize("dag_file", [path.name for path in dag_files()])


@pytest.fixture(scope="session")
def dag_parse(tmp_path_factory: pytest.TempPathFactory) -> DagParse:
    """dags/ parsed twice under the dev environment; Airflow is imported first so it is not timed."""
    with pytest.MonkeyPatch.context() as mp:
        if "AIRFLOW_HOME" not in os.environ:
            mp.setenv("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow-home")))
        for key, value in DEV_ENV.items():
            mp.setenv(key, value)
        import airflow.dag_processing.dagbag  # noqa: F401

        files = parse_dag_files(DAGS_DIR, DEFAULTS)
        flipped = parse_dag_files(DAGS_DIR, FLIPPED_DEFAULTS)
    return DagParse(files, {dag.dag_id: dag for parse in flipped.values() for dag in parse.dags})


@pytest.fixture(scope="session")
def parse_folder() -> Callable[[Path], dict[str, FileParse]]:
    """The guarded parse, for tests that check the guard itself on DAG files of their own."""
    return parse_dag_files
