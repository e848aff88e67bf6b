"""Fault injection, end to end: every task of every DAG of the pipeline fails once, and the pipeline still ends in
the state a clean run leaves (issue 7, part 6).

Two passes of the whole pipeline (``faults.py`` says how each runs and how faults are injected), a clean one and a
faulted one, started together, each from a fresh state: a process, a sandbox and Airflow metadata of its own, the
suite's periods emptied from the warehouse tables before its warehouse run (the passes take turns there). The
passes snapshot the state after every DAG run; this module compares the snapshots step by step, so a difference
is pinned to the DAG run that made it, and the final one whole:

- the data bucket: every key (Spark's per-write uuid and the per-run job names normalized) with the sha256 of each
  object's content (``faults.content_digest``: Parquet by schema and rows, a manifest entry without its timings),
  except the prefixes ``faults.EXCLUDED`` names, each with the reason it differs between two correct runs;
- RDS MySQL ``loanlake.acquisition`` (all columns but ``loaded_at``, the publish time) and its staging table,
  Redshift ``loanlake.performance``, for the suite's PERIODS: rows per period and a sha256 of the sorted rows;
  staging left empty;
- the endpoint (status, its config's variants, data capture, the model's image and artifact), the registry's live
  model with its validation AUC and every decision, the stream, delivery stream and Lambda functions;
- nothing running: no active EMR cluster, no training job in progress, no Sqoop password file left;
- no secret of the sandbox (the portal password, connection passwords) in either pass's task logs or EMR steps.

A fault point is one (DAG, task) made to fail, mapped tasks counted per map index, and per way of failing (an
injected exception, the portal's HTTP 500, a fault that outlasts the retries and is cleared, the failed endpoint
update). A point passes when its fault fired, the task ended as in the clean pass, and the state after its DAG
run equals the clean pass's. ``KNOWN_FAILURES`` holds the points that do not converge because of a defect, with
the evidence; they are counted as such, never left out.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faults
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]

PASS_TIMEOUT = 1800  # seconds for both passes together (they take about 5 minutes on two busy cores)
DAG_STEPS = [step.label for step in faults.steps() if step.dag_id]
ENDPOINT_POINT = ("loan_model_training", "deploy_endpoint", "failed endpoint update, cleared and rerun")
# Points that do not converge because of a defect in the DAGs: (dag, task, kind) -> what is wrong, with the evidence.
# They count as known failures in the summary; one that passes again fails test_fault_points until removed here.
KNOWN_FAILURES: dict[tuple[str, str, str], str] = {}


@dataclass
class Point:
    dag_id: str
    task: str
    kind: str
    steps: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.dag_id, self.task, self.kind)

    def __str__(self) -> str:
        return f"{self.dag_id}.{self.task} ({self.kind})"


@pytest.fixture(scope="module")
def passes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Both passes, run at the same time in processes of their own; their JSON, read back."""
    work = tmp_path_factory.mktemp("fault-injection")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    started = time.monotonic()
    processes = {
        kind: subprocess.Popen(
            [sys.executable, str(Path(faults.__file__)), kind, str(work)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(work / f"{kind}.stderr").open("w"),
            start_new_session=True,  # its own process group: a timeout ends its Spark JVM too
        )
        for kind in faults.PASSES
    }
    try:
        for process in processes.values():
            process.wait(timeout=max(1, PASS_TIMEOUT - (time.monotonic() - started)))
    finally:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    results = {}
    for kind, process in processes.items():
        path = work / f"{kind}.json"
        body = json.loads(path.read_text()) if path.exists() else {"error": "no output", "steps": []}
        stderr = (work / f"{kind}.stderr").read_text()[-3000:]
        assert process.returncode == 0 and not body["error"], (
            f"the {kind} pass failed (exit {process.returncode}); task logs in {work / f'{kind}.log'}\n"
            f"{body['error'] or stderr}"
        )
        results[kind] = body
    results["seconds"] = round(time.monotonic() - started)
    results["work"] = str(work)
    return results


def _steps(passes: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {record["step"]: record for record in passes[kind]["steps"] if record["dag_id"]}


def _state_diff(passes: dict[str, Any], step: str) -> list[str]:
    """How the state after ``step`` differs between the passes, less what differed after the step before: a
    difference is pinned to the DAG run that made it, not to every run after it."""
    labels = list(_steps(passes, "clean"))
    differences = []
    for label in labels[: labels.index(step) + 1][-2:]:
        clean, faulted = _steps(passes, "clean")[label], _steps(passes, "faulted")[label]
        differences.append(faults.diff(faults.comparable(clean["snapshot"]), faults.comparable(faulted["snapshot"])))
    return [line for line in differences[-1] if len(differences) == 1 or line not in differences[0]]


def _nothing_running(snapshot: dict[str, Any]) -> dict[str, list[str]]:
    return {what: items for what, items in snapshot["running"].items() if items}


@pytest.fixture(scope="module")
def points(passes: dict[str, Any], fault_point_tally: dict[str, Any]) -> dict[tuple[str, str, str], Point]:
    """Every fault point of the faulted pass, with what kept it from passing; the tally for the terminal summary."""
    clean_steps, found = _steps(passes, "clean"), {}

    def point(dag_id: str, task: str, kind: str, step: str) -> Point:
        each = found.setdefault((dag_id, task, kind), Point(dag_id, task, kind))
        if step not in each.steps:
            each.steps.append(step)
        return each

    for label, record in _steps(passes, "faulted").items():
        first, last, clean = record["outcomes"][0], record["outcomes"][-1], clean_steps[label]["outcomes"][0]
        state_diff = _state_diff(passes, label)
        touched = []
        injected = [fired for outcome in record["outcomes"] for fired in outcome["injected"]]
        for fired in injected:
            kind = "injected exception, retried"
            if sum(1 for f in injected if f["task"] == fired["task"]) > 1:
                kind = "injected exception on every try, cleared and rerun"
            touched.append((point(record["dag_id"], fired["task"], kind, label), fired["task"]))
        for failure in first["failures"]:
            if failure["try"] == 1 and "HTTP 500" in failure["error"]:
                touched.append(
                    (point(record["dag_id"], failure["task"], "portal HTTP 500, retried", label), failure["task"])
                )
        if label == "loan_model_training#2":
            touched.append((point(*ENDPOINT_POINT, label), "deploy_endpoint"))
        for each, task in {id(p): (p, t) for p, t in touched}.values():
            if last["tasks"].get(task) != clean["tasks"].get(task):
                each.problems.append(
                    f"{label}: {task} ended {last['tasks'].get(task)}, in the clean pass {clean['tasks'].get(task)}"
                )
            if state_diff:
                each.problems.append(f"{label} left another state than in the clean pass: {'; '.join(state_diff[:3])}")
    for each in found.values():
        if each.key == ENDPOINT_POINT:
            each.problems += _endpoint_problems(_steps(passes, "faulted")["loan_model_training#2"])
    passed = [p for p in found.values() if not p.problems]
    known = [p for p in found.values() if p.problems and p.key in KNOWN_FAILURES]
    line = f"fault injection: {len(found)} fault points, {len(passed)} passed"
    if known:
        line += f", {len(known)} known failure{'s' if len(known) > 1 else ''} ({', '.join(map(str, known))})"
    others = len(found) - len(passed) - len(known)
    if others:
        line += f", {others} failed"
    per_dag: dict[str, int] = {}
    for each in found.values():
        per_dag[each.dag_id] = per_dag.get(each.dag_id, 0) + 1
    fault_point_tally.update(
        line=line,
        per_dag=per_dag,
        seconds={"both passes": passes["seconds"], **{k: passes[k]["seconds"] for k in faults.PASSES}},
    )
    return found


def _endpoint_problems(record: dict[str, Any]) -> list[str]:
    """The failed endpoint update: the run fails at verify_endpoint, the old model serves, a cleared rerun succeeds."""
    problems, outcomes, checks = [], record["outcomes"], record["checks"]
    failed = outcomes[0]
    if failed["state"] != "failed" or failed["tasks"].get("verify_endpoint") != "failed":
        problems.append(f"the run with the failed update ended {failed['state']}: {failed['tasks']}")
    if checks["endpoint_after_failed_run"] != checks["endpoint_before"]:
        problems.append(
            "the endpoint changed although its update failed: "
            + "; ".join(faults.diff(checks["endpoint_before"], checks["endpoint_after_failed_run"]))
        )
    if checks["registry_after_failed_run"] != checks["registry_before"]:
        problems.append("the registry changed although the update failed")
    if not checks["old_model_scores"]["ok"]:
        problems.append(f"the old model does not answer: {checks['old_model_scores']}")
    first_rerun = outcomes[1]
    if first_rerun["state"] != "success":
        errors = [f"{f['task']} try {f['try']}: {f['error'][:300]}" for f in first_rerun["failures"]]
        problems.append(f"the cleared rerun ended {first_rerun['state']}: " + "; ".join(errors))
    return problems


@pytest.mark.parametrize("step", DAG_STEPS)
def test_clean_pass(passes, step):
    """Every DAG run of the clean pass succeeds and leaves nothing running."""
    record = _steps(passes, "clean")[step]
    outcome = record["outcomes"][0]
    assert outcome["state"] == "success", outcome
    assert not _nothing_running(record["snapshot"]), _nothing_running(record["snapshot"])


@pytest.mark.parametrize("step", DAG_STEPS)
def test_faulted_run_converges(passes, points, step):
    """After the faults, each DAG run ends as the clean one (tasks and state), with nothing left running."""
    record, clean = _steps(passes, "faulted")[step], _steps(passes, "clean")[step]
    last, problems = record["outcomes"][-1], []
    if last["state"] != "success":
        problems.append(f"{record['expectation']}: the run ended {last['state']}: {last['tasks']}")
    if last["tasks"] != clean["outcomes"][0]["tasks"]:
        problems.append("the tasks ended otherwise than in the clean pass: " + "; ".join(
            faults.diff(clean["outcomes"][0]["tasks"], last["tasks"])
        ))  # fmt: skip
    if _nothing_running(record["snapshot"]):
        problems.append(f"left running: {_nothing_running(record['snapshot'])}")
    differences = _state_diff(passes, step)
    if differences:
        problems.append(f"{step} left another state than in the clean pass:\n" + "\n".join(differences[:40]))
    _verdict(problems, [p for p in points.values() if step in p.steps])


def test_every_task_failed_once(passes):
    """Every task that ran in a faulted run failed (the fault fired) and was tried again; none was left out."""
    for label, record in _steps(passes, "faulted").items():
        if label == "loan_model_training#2":
            continue  # the failed endpoint update: its own expectation
        last = record["outcomes"][-1]
        failed_first_try = {f["task"] for outcome in record["outcomes"] for f in outcome["failures"] if f["try"] == 1}
        ran = {task for task, tries in last["tries"].items() if tries >= 1}
        assert ran <= failed_first_try, f"{label}: tasks that never failed: {sorted(ran - failed_first_try)}"
        once = {task for task in ran if last["tries"][task] < 2}
        assert not once, f"{label}: tasks that ran once only: {sorted(once)}"


def test_portal_http_500_is_retried(passes):
    """The portal's HTTP 500 fails each fetch's first try (after its own attempts) and the retry lands the file."""
    record = _steps(passes, "faulted")["freddie_mac_ingest"]
    first = record["outcomes"][0]
    portal_failures = [f for f in first["failures"] if "HTTP 500" in f["error"]]
    assert sorted(f["task"] for f in portal_failures) == [f"fetch[{i}]" for i in range(len(faults.PERIODS))]
    assert record["checks"]["portal_faults_left"] == [], "some HTTP 500 answers were never asked for"
    assert all(first["tasks"][f["task"]] == "success" for f in portal_failures)


def test_fault_outlasting_retries_is_cleared_and_rerun(passes):
    """check_keys fails all its tries: the run fails, its teardown still ends the cluster; clearing the task (and
    its downstream) through Airflow's clear and resuming the same run converges, without rerunning the Hive steps."""
    record = _steps(passes, "faulted")["loan_data_processing"]
    failed, resumed = record["outcomes"]
    assert failed["state"] == "failed" and failed["tasks"]["check_keys"] == "failed", failed
    assert failed["tasks"]["terminate_cluster"] == "success", "the teardown must run after the failure"
    assert record["checks"]["left_running_by_the_failed_run"]["emr_clusters"] == []
    assert {"check_keys", "check_quarantine_share"} <= set(record["cleared"][0]), record["cleared"]
    assert not {"create_cluster", "wait_for_step[0]"} & set(record["cleared"][0]), "the Hive steps must not rerun"
    assert resumed["run_id"] == failed["run_id"] and resumed["state"] == "success", resumed
    assert resumed["tries"]["check_keys"] == 4, "the cleared task runs a fourth try"
    assert not _state_diff(passes, "loan_data_processing")


def test_failed_endpoint_update(points):
    """The endpoint update fails: the run fails, the old model keeps serving, and a cleared rerun succeeds."""
    point = points[ENDPOINT_POINT]
    _verdict(point.problems, [point])


def _verdict(problems: list[str], involved: list[Point]) -> None:
    """Fail with the problems, or xfail when a known failure among ``involved`` explains them."""
    known = [f"{p}: {KNOWN_FAILURES[p.key]}" for p in involved if p.key in KNOWN_FAILURES and p.problems]
    if problems and known:
        pytest.xfail(f"known failure {'; '.join(known)}; evidence: {'; '.join(problems)[:3000]}")
    assert not problems, "\n".join(problems)


def test_fault_points(points):
    """Every fault point passes, but the known failures; the count goes to the terminal summary."""
    failing = [f"{p}: {'; '.join(p.problems)}" for p in points.values() if p.problems and p.key not in KNOWN_FAILURES]
    assert not failing, "\n".join(failing)
    fixed = [str(p) for p in points.values() if not p.problems and p.key in KNOWN_FAILURES]
    assert not fixed, f"known failures that pass now (remove them from KNOWN_FAILURES): {fixed}"
    assert len(points) >= 60


def test_final_state_equals_clean_run(passes):
    """The pipeline's final state after the faulted pass equals the clean pass's, and nothing is left running."""
    clean, faulted = passes["clean"]["steps"][-1]["snapshot"], passes["faulted"]["steps"][-1]["snapshot"]
    assert not _nothing_running(faulted), _nothing_running(faulted)
    assert clean["endpoint"] and clean["endpoint"]["status"] == "InService"
    assert clean["registry"]["live_validation_auc"] == faulted["registry"]["live_validation_auc"]
    differences = faults.diff(faults.comparable(clean), faults.comparable(faulted))
    assert not differences, "\n".join(differences[:60])


def test_no_secret_in_task_logs_or_emr_steps(passes):
    for kind in faults.PASSES:
        check = passes[kind]["secrets"]
        assert check is not None, f"the {kind} pass did not finish"
        assert "portal password" in check["secrets"]
        assert all(size > 0 for size in check["searched"].values()), check["searched"]
        assert check["found"] == [], f"{kind} pass: {check['found']}"
