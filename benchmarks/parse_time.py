"""DAG parse time: every file in dags/ parsed as the dag-processor parses it, against the Airflow import.

Baseline: importing Airflow (the SDK and the DagBag) in a fresh interpreter. Then each DAG file is parsed in a
fresh DagBag, several times, each time in a child forked from this process, as the dag-processor does: its
manager pre-imports the ``airflow.*`` modules a file names, then forks one child per parse, so the child pays for
the file's other imports (loanlake and what it pulls in) and its top-level code every time. The "own" column is
a parse in this process once every import is cached: the DAG file's top-level code alone.
Goal: median parse under 0.3 s per file.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.results import record

ROOT = Path(__file__).resolve().parent.parent
DAGS_DIR = ROOT / "dags"
GOAL_SECONDS = 0.3
MAX_REPEATS = 5
BUDGET_SECONDS = 30.0
BASELINE_RUNS = 3
IMPORT_AIRFLOW = "import airflow.sdk, airflow.dag_processing.dagbag"


def _parse(path: Path) -> tuple[float, int, bool]:
    """Seconds to parse ``path`` in a fresh DagBag, its DAG count, and whether it had an import error."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=path.parent, collect_dags=False, bundle_path=path.parent)
    start = time.perf_counter()
    dags = bag.process_file(str(path), only_if_updated=False, safe_mode=False)
    return time.perf_counter() - start, len(dags), bool(bag.import_errors)


def _parse_in_child(path: Path) -> tuple[float, int, bool]:
    """``_parse`` in a child forked from this process, so nothing the file imports is cached beforehand."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            os.write(write_fd, json.dumps(_parse(path)).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    if not answer:
        raise RuntimeError(f"the child parsing {path.name} died without an answer")
    seconds, dags, failed = json.loads(answer)
    return seconds, dags, failed


def _airflow_import_seconds() -> float:
    """Median seconds to import Airflow in a fresh interpreter (timed inside it, start-up excluded)."""
    code = f"import time; start = time.perf_counter(); {IMPORT_AIRFLOW}; print(time.perf_counter() - start)"
    runs = [
        float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)
        for _ in range(BASELINE_RUNS)
    ]
    return statistics.median(runs)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="loanlake-bench-airflow-") as home:
        os.environ.setdefault("AIRFLOW_HOME", home)
        os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(DAGS_DIR))
        os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))  # Airflow puts it on sys.path
        os.environ.setdefault("LOANLAKE__DATA_BUCKET", "loanlake-data")
        report(sorted(DAGS_DIR.glob("*.py")))


def report(files: list[Path]) -> None:
    """Measure ``files`` and print the table."""
    if not files:
        print(f"DAG parse time: no DAG files in {DAGS_DIR}")
        return
    baseline = _airflow_import_seconds()
    importlib.import_module("airflow.dag_processing.dagbag")
    from airflow.utils.file import iter_airflow_imports

    for path in files:
        for module in iter_airflow_imports(str(path)):
            with contextlib.suppress(Exception):  # as the dag-processor: a bad import shows up in the parse
                importlib.import_module(module)

    parses: dict[Path, list[tuple[float, int, bool]]] = {path: [] for path in files}
    started = time.perf_counter()
    for done in range(1, MAX_REPEATS + 1):
        for path in files:
            parses[path].append(_parse_in_child(path))
        elapsed = time.perf_counter() - started
        if elapsed + elapsed / done > BUDGET_SECONDS:
            break
    repeats = len(parses[files[0]])
    for path in files:
        _parse(path)  # caches what the file imports, so the next parses time its own top-level code
    own = {path: statistics.median(_parse(path)[0] for _ in range(repeats)) for path in files}

    print(f"DAG parse time: median of {repeats} parse(s) per file, each in a child forked as the dag-processor does")
    print(f"Airflow import (baseline, fresh interpreter, median of {BASELINE_RUNS}): {baseline:.3f} s")
    print(f"{'file':<32} {'dags':>4} {'parse s':>8} {'own s':>7} {'/import':>8}  goal < {GOAL_SECONDS} s")
    total = total_own = 0.0
    for path in files:
        median = statistics.median(seconds for seconds, _, _ in parses[path])
        _, dags, failed = parses[path][-1]
        verdict = "IMPORT ERROR" if failed else ("pass" if median < GOAL_SECONDS else "FAIL")
        print(f"{path.name:<32} {dags:>4} {median:>8.3f} {own[path]:>7.3f} {median / baseline:>7.2f}x  {verdict}")
        total += median
        total_own += own[path]
    print(f"{'total':<32} {'':>4} {total:>8.3f} {total_own:>7.3f} {total / baseline:>7.2f}x")
    slowest = max(files, key=lambda path: statistics.median(seconds for seconds, _, _ in parses[path]))
    worst = statistics.median(seconds for seconds, _, _ in parses[slowest])
    verdict = "met" if worst < GOAL_SECONDS else "MISSED"
    record(
        "parse_time",
        f"DAG parse time, slowest file ({slowest.name})",
        f"{worst:.3f} s",
        f"Airflow import {baseline:.2f} s",
        f"{worst / baseline:.2f}x",
        f"< {GOAL_SECONDS} s per file",
        verdict,
    )
    record(
        "parse_time",
        f"DAG parse time, all {len(files)} files",
        f"{total:.3f} s",
        f"Airflow import {baseline:.2f} s",
        f"{total / baseline:.2f}x",
        "reported",
    )
