"""The passes of the fault-injection suite (tests/e2e/test_fault_injection.py): the whole pipeline, clean or faulted.

``python tests/e2e/faults.py clean|faulted|redo WORKDIR`` runs one pass in a process of its own, so each pass
starts from a fresh state: a new sandbox (moto, its extensions, the portal, a Derby metastore under
``WORKDIR/<pass>/``), Airflow metadata of its own, and the rows of ``PERIODS`` deleted from the warehouse tables
before its warehouse run. It writes ``WORKDIR/<pass>.json`` after every step (the run's task states and tries,
every failed try, the faults injected, the state snapshot), task logs to ``WORKDIR/<pass>.log`` and a line per
step to ``WORKDIR/<pass>.progress``. ``python tests/e2e/faults.py compare WORKDIR [A B]`` prints what each DAG run
of pass B did otherwise than pass A. The pytest process only compares: it never imports Airflow or starts a
sandbox, so the suite neither sees nor disturbs the session sandbox other tests share.

**Pipeline.** ``sandbox.demo.pipeline()``: every DAG in the demo's order with its conf, two quarters (``PERIODS``)
instead of everything the portal offers. Of the demo's traffic, the stream traffic is left out (it only feeds
``streaming/``, which no DAG reads) and the scoring traffic goes to the endpoint directly rather than through the
proxy Lambda (a subprocess per request), waiting until data capture has written it: the drift DAG needs it.

**Faults** (faulted pass). Every task of every run fails its first try: a ``pre_execute`` hook on the loaded DAG's
tasks (the constructor's ``pre_execute=``; ``partial_kwargs`` for mapped ones) raises ``InjectedFault`` before the
task's work, and Airflow's retries, as declared, rerun it. Each task's ``retry_delay`` is 0 (and its exponential
backoff off) on the loaded objects, and the EMR operators' waiter delays are 2 s, so ``dag.test()`` does not idle;
nothing else of the DAGs changes. Where the sandbox has a real switch it is used instead:

- ``freddie_mac_ingest.fetch[*]``: the portal answers HTTP 500 ``source.attempts`` times per file, so each fetch's
  first try fails after its own backoff, and its retry downloads the file.
- ``loan_data_processing.check_keys``: fails all three tries (a fault that outlasts its retries): the run fails
  (its teardown still terminates the cluster); the task and its downstream are then cleared the way the UI's
  "Clear task" does (``find_relevant_relatives``, ``SerializedDAG.clear``, ``clear_task_instances``: the
  functions behind the REST API's clearTaskInstances) and the same run is resumed by ``dag.test()``.
- the second ``loan_model_training`` run (the drift retrain): the sandbox's ``FAULTS.fail_next`` fails the endpoint
  update; the run fails by design (``verify_endpoint``), the old model must still serve, then ``deploy_endpoint``
  and its downstream are cleared and resumed, which must converge.

The sandbox's SageMaker refuses a model or endpoint config name in use, as AWS does (moto would overwrite it), so a
deployment that is not rerunnable fails here as it would on AWS.

**Redo** (not in the suite: a manual, exploratory pass). Every task's first try does its work and then fails
(``post_execute``), so the retry does it again: it shows which tasks are not idempotent when a try dies after its
side effects (a lost worker, a timeout at the end).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PERIODS = ["2016Q3", "2017Q2"]  # legacy with the old file naming, and Release 47; no other test publishes them
PASSES = ("clean", "faulted")  # the suite's; "redo" (every first try fails after its work) is for a manual run
ENDPOINT = "loanlake-credit-risk"
ACTIVE_CLUSTER_STATES = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING"]
ACTIVE_TRAINING_STATES = ("InProgress", "Stopping")
FAST_WAITS = 2  # seconds between the EMR operators' waiter polls (the DAGs say 30)
CONFIG = {"emr": {"poll_seconds": 1}, "warehouse": {"redshift": {"poll_seconds": 1}}}

# What the comparison leaves out of the data bucket, each because it differs between two correct runs by nature.
EXCLUDED = {
    "manifests/freddie_mac/runs/": "one manifest per ingest run: its run id, start time and transfer seconds",
    "reports/": "stream-health, drift and sweeper reports: keyed by run id or wall-clock time, stamped with both",
    "code/": "the published HQL: the deployment's code, not data, keyed by a hash of include/hql (edited by others)",
    "secrets/sqoop/": "the run's Sqoop password file, under its run id: the teardown deletes it (checked: none left)",
    "ml/capture/": "the endpoint's data capture: keyed by wall-clock hour and random ids, records stamped likewise",
    "ml/registry/": "compared separately, normalized: it stamps trained_at and names models per run",
}
JOB_NAME = re.compile(r"loanlake-xgb-\d{12}-(?P<run>[0-9a-f]{8})")  # <prefix><run_after:%Y%m%d%H%M>-<run id hash>
SPARK_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # part-00000-<job uuid>-c000
LOCAL_URL = re.compile(r"http://127\.0\.0\.1:\d+")  # each sandbox listens on free ports of its own
MANIFEST_ENTRY_TIMES = ("seconds", "landed_at")  # how long the transfer took and when it ended


class InjectedFault(Exception):
    """The exception the suite raises in a task, before its work (or after it, in the redo pass)."""


# -- the pipeline ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of a pass: a DAG run (``label`` = dag id, #n for its n-th run) or the scoring traffic."""

    label: str
    dag_id: str | None
    logical_date: datetime | None
    conf: dict[str, Any]
    action: Callable[[Any], str] | None = None


def steps() -> list[Step]:
    """The demo's pipeline with PERIODS for every period list; its traffic steps as ``score`` (see the module doc)."""
    from sandbox import demo

    result, seen = [], {}
    for step in demo.pipeline():
        if step.action is demo.stream_traffic:
            continue
        if step.action is not None:
            assert step.action is demo.scoring_traffic, f"a new demo step: {step.title}; add it here"
            result.append(Step("score", None, None, {}, score))
            continue
        conf = dict(step.conf)
        if "quarters" in conf:
            conf.update(quarters=list(PERIODS), sample_years=[])
        if "periods" in conf:
            conf["periods"] = list(PERIODS)
        seen[step.dag_id] = seen.get(step.dag_id, 0) + 1
        label = step.dag_id if seen[step.dag_id] == 1 else f"{step.dag_id}#{seen[step.dag_id]}"
        result.append(Step(label, step.dag_id, step.logical_date, conf))
    return result


def score(site: Any) -> str:
    """The demo's scoring traffic (a later, riskier vintage), sent to the endpoint itself instead of through the
    proxy Lambda (a subprocess per request: a minute of the pass), so data capture records what drift reads."""
    from concurrent.futures import ThreadPoolExecutor

    from loanlake.ml.features import feature_row, to_csv
    from sandbox import catalog, demo, flow
    from sandbox.generator import GeneratorSpec, origination_records

    spec = GeneratorSpec(seed=catalog.SEED, loans=demo.SCORED_LOANS, layout="r47", vintage_shift=demo.VINTAGE_SHIFT)
    rows = [to_csv(feature_row(record)) for record in origination_records("quarterly", demo.SHIFTED_PERIOD, spec)]
    runtime = site.boto3_client("sagemaker-runtime")

    def invoke(row: str) -> float:
        answer = runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=row.encode())
        return float(answer["Body"].read().decode().strip())

    with ThreadPoolExecutor(max_workers=4) as pool:
        scored = list(pool.map(invoke, rows))
    s3, bucket = site.boto3_client("s3"), json.loads(site.env()["AIRFLOW_VAR_LOANLAKE_CONFIG"])["data_bucket"]
    captured = flow.wait_for(lambda: len(flow.records(s3, bucket, f"ml/capture/{ENDPOINT}/")), len(rows))
    return (
        f"{len(scored)} loans of {demo.SHIFTED_PERIOD} scored by {ENDPOINT}, mean {sum(scored) / len(scored):.3f}; "
        f"{captured} captured"
    )


# -- one DAG run, with faults ----------------------------------------------------------------------------------


def task_name(task_id: str, map_index: int) -> str:
    return task_id if map_index is None or map_index < 0 else f"{task_id}[{map_index}]"


FIRED: list[dict[str, Any]] = []  # what the injectors raised, in order (module-level: Airflow may copy a hook)


@dataclass(frozen=True)
class Injector:
    """Raises ``InjectedFault`` on the tries ``tries(task_id)`` names, before the task's work (``pre_execute``) or,
    with ``when="after"``, once its work is done (``post_execute``); records each in FIRED."""

    dag_id: str
    tries: Callable[[str], frozenset[int]]
    when: str = "before"

    def __call__(self, context: Any, result: Any = None) -> None:
        ti = context["ti"]
        if ti.try_number in self.tries(ti.task_id):
            name = task_name(ti.task_id, ti.map_index)
            FIRED.append({"task": name, "try": ti.try_number, "when": self.when})
            raise InjectedFault(f"injected fault: {self.dag_id}.{name} fails try {ti.try_number} {self.when} its work")


def never(task_id: str) -> frozenset[int]:
    return frozenset()


def first_try(task_id: str) -> frozenset[int]:
    return frozenset({1})


@dataclass
class Outcome:
    """One DAG run as the JSON holds it; a cleared and resumed run is the same run, read again."""

    step: str
    dag_id: str
    run_id: str
    state: str
    tasks: dict[str, str]  # task[map index] -> state
    tries: dict[str, int]  # task[map index] -> try number of its last try
    failures: list[dict[str, Any]]  # every failed try: task, try, error (retried or not)
    injected: list[dict[str, Any]]  # the InjectedFault raised: task, try, before or after the work
    seconds: float


def tune(dag: Any, injector: Injector | None, failures: list[dict[str, Any]]) -> None:
    """No retry delay or waiter idling; record every failed try; arm the injector. Retries stay as declared."""

    def record(context: dict[str, Any]) -> None:
        ti, error = context["ti"], context.get("exception")
        failures.append(
            {
                "task": task_name(ti.task_id, ti.map_index),
                "try": ti.try_number,
                "error": f"{type(error).__name__}: {error}",
            }
        )

    dag.deadline = None  # as sandbox/runner.py: dag.test() of Airflow 3.3 cannot evaluate a DeadlineAlert
    for task in dag.tasks:
        task.retry_delay = timedelta(0)
        task.retry_exponential_backoff = False
        for name in ("on_failure_callback", "on_retry_callback"):
            existing = getattr(task, name) or []
            setattr(task, name, [*(existing if isinstance(existing, list) else [existing]), record])
        mapped = getattr(task, "partial_kwargs", None)
        if hasattr(task, "waiter_delay") or (mapped is not None and "waiter_delay" in mapped):
            if mapped is not None:
                mapped["waiter_delay"] = FAST_WAITS
            else:
                task.waiter_delay = FAST_WAITS
        if injector is None:
            continue
        hook = "pre_execute" if injector.when == "before" else "post_execute"
        if mapped is not None:
            assert mapped.get(hook) is None, f"{task.task_id} has a {hook} hook of its own"
            mapped[hook] = injector
        else:
            assert getattr(task, f"_{hook}_hook") is None, f"{task.task_id} has a {hook} hook of its own"
            setattr(task, f"_{hook}_hook", injector)


def read_back(step: Step, run: Any, failures: list, injector: Injector | None, started: float) -> Outcome:
    tasks, tries = {}, {}
    for ti in sorted(run.get_task_instances(), key=lambda t: (t.task_id, t.map_index)):
        name = task_name(ti.task_id, ti.map_index)
        tasks[name] = str(ti.state.value if hasattr(ti.state, "value") else ti.state)
        tries[name] = ti.try_number
    state = run.state.value if hasattr(run.state, "value") else str(run.state)
    fired = list(FIRED) if injector else []
    return Outcome(step.label, step.dag_id, run.run_id, state, tasks, tries, list(failures), fired,
                   round(time.monotonic() - started, 1))  # fmt: skip


def load_dag(dag_id: str) -> Any:
    """``sandbox.runner.load_dag``, tried again for a while on import errors: in a shared checkout another engineer's
    edit of dags/ and plugins/ may be half saved; an import error that stays fails the pass."""
    from sandbox import runner

    for attempt in range(4):
        try:
            return runner.load_dag(dag_id)
        except RuntimeError:
            if attempt == 3:
                raise
            time.sleep(15)
    raise AssertionError("unreachable")


def run_step(step: Step, tries: Callable[[str], frozenset[int]] = never, when: str = "before") -> Outcome:
    """One ``dag.test()`` of the step's DAG, tuned, with the injector armed for ``tries`` (``when`` its work)."""
    started = time.monotonic()
    dag = load_dag(step.dag_id)
    failures: list[dict[str, Any]] = []
    FIRED.clear()
    injector = Injector(step.dag_id, tries, when)
    tune(dag, injector, failures)
    run = dag.test(logical_date=step.logical_date, run_conf=step.conf)
    return read_back(step, run, failures, injector, started)


def clear_and_resume(
    step: Step, task_ids: list[str], tries: Callable[[str], frozenset[int]] = never
) -> tuple[list[str], Outcome]:
    """Clear ``task_ids`` and their downstream in the step's run, as the UI's Clear does, and resume the run.

    Clearing uses the functions behind the REST API's clearTaskInstances (the run's downstream relatives, then
    ``SerializedDAG.clear`` and ``clear_task_instances``, which puts the run back in the queue). ``dag.test()``
    would delete the run and start a new one, so it runs here with its run lookup pointed at the cleared run and
    its clear-everything step skipped: its loop then runs only what was cleared, as the scheduler would. The
    injector is armed for ``tries`` again (a task's first try may come now).
    """
    from unittest import mock

    from airflow.models import dagrun as dagrun_module
    from airflow.models.dagbag import DBDagBag
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import clear_task_instances, find_relevant_relatives
    from airflow.serialization.definitions.dag import SerializedDAG
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from sqlalchemy import select

    def the_run(session: Any, dag_id: str) -> Any:
        return session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.logical_date == step.logical_date))

    with create_session() as session:
        run = the_run(session, step.dag_id)
        scheduler_dag = DBDagBag().get_dag_for_run(run, session=session)
        relatives = find_relevant_relatives(
            task_ids, [], direction="downstream", dag=scheduler_dag, run_id=run.run_id, session=session
        )
        markers = sorted({*task_ids, *(r for r in relatives if isinstance(r, str))})
        tis = scheduler_dag.clear(dry_run=True, task_ids=markers, run_id=run.run_id, session=session)
        cleared = sorted(task_name(ti.task_id, ti.map_index) for ti in tis)
        clear_task_instances(list(tis), session, DagRunState.QUEUED)

    def existing_run(*, dag: Any, session: Any, **_: Any) -> Any:
        found = the_run(session, dag.dag_id)
        found.dag = dag
        found.state = DagRunState.RUNNING  # what the scheduler does to a queued run
        session.commit()
        return found

    started = time.monotonic()
    dag = load_dag(step.dag_id)
    failures: list[dict[str, Any]] = []
    FIRED.clear()
    injector = Injector(step.dag_id, tries)
    tune(dag, injector, failures)
    with (
        mock.patch.object(dagrun_module, "get_or_create_dagrun", existing_run),
        mock.patch.object(SerializedDAG, "clear_dags", lambda *args, **kwargs: 0),
    ):
        run = dag.test(logical_date=step.logical_date, run_conf=step.conf)
    return cleared, read_back(step, run, failures, injector, started)


# -- the state -------------------------------------------------------------------------------------------------


def normalize(text: str, jobs: dict[str, str]) -> str:
    """Names that differ between two correct runs by nature: a job name (stamped with its run's run_after, hashed
    from its run id, and run ids are stamped with the time too) becomes the step that trained it; Spark's uuid goes."""

    def job(match: re.Match[str]) -> str:
        return f"loanlake-xgb-<{jobs.get(match['run'], 'a run of no step')}>"

    return SPARK_UUID.sub("<uuid>", JOB_NAME.sub(job, text))


def content_digest(key: str, body: bytes, normalize: Callable[[str], str]) -> str:
    """The sha256 of an object's content, in the form two correct runs agree on.

    - Parquet: its schema and its rows, sorted, names normalized. parquet-mr writes each column chunk's list of
      encodings from a hash set, so the same rows give other bytes in another JVM (only those footer bytes differ).
    - A zip's manifest entry: without how long its transfer took and when it ended; the portal's port normalized.
    - ``model.tar.gz``: each member's name and bytes (tar and gzip headers carry the time the artifact was written).
    - Text under ``ml/training/``: its lines sorted (Hive's output order is not defined), names normalized.
    - Anything else: its bytes.
    """
    import io

    if key.endswith(".parquet"):
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(body))
        rows = sorted(normalize(repr(tuple(row.values()))) for row in table.to_pylist())
        canonical = "\n".join([table.schema.to_string(show_schema_metadata=False), *rows]).encode()
    elif key.startswith("manifests/freddie_mac/files/"):
        entry = {k: v for k, v in json.loads(body).items() if k not in MANIFEST_ENTRY_TIMES}
        canonical = LOCAL_URL.sub("http://127.0.0.1:<port>", json.dumps(entry, sort_keys=True)).encode()
    elif key.endswith(".tar.gz"):
        import tarfile

        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            members = sorted((m for m in archive.getmembers() if m.isfile()), key=lambda m: m.name)
            canonical = b"".join(
                m.name.encode() + hashlib.sha256(archive.extractfile(m).read()).digest() for m in members
            )
    elif key.startswith("ml/training/"):
        canonical = "\n".join(sorted(normalize(body.decode(errors="replace")).splitlines())).encode()
    else:
        canonical = body
    return hashlib.sha256(canonical).hexdigest()


def run_digest(run_id: str) -> str:
    """The part of a job name that names its run (loanlake.ml.training.job_name)."""
    return hashlib.sha256(run_id.encode()).hexdigest()[:8]


@dataclass
class Snapshot:
    """What a pass leaves, in comparable form."""

    s3: dict[str, list[str]]  # normalized key -> sha256 of each object with that key (Spark's names collide)
    excluded: dict[str, int]  # excluded prefix -> objects under it
    mysql: dict[str, Any]
    postgres: dict[str, Any]
    endpoint: dict[str, Any] | None
    registry: dict[str, Any] | None
    streaming: dict[str, Any]
    running: dict[str, list[str]]  # what must be empty: clusters, training jobs, password files


class StateReader:
    """Reads the state of one sandbox; remembers object checksums by ETag so a snapshot downloads only changes."""

    def __init__(self, site: Any) -> None:
        self.site = site
        self.bucket = json.loads(site.env()["AIRFLOW_VAR_LOANLAKE_CONFIG"])["data_bucket"]
        self._sums: dict[tuple[str, str], str] = {}
        self.jobs: dict[str, str] = {}  # run digest -> the label of the step whose run it is (see normalize)

    def normalize(self, text: str) -> str:
        """Also: the sandbox's EMR runs Hive on a local mirror of S3, so input_file_name() (quarantine's source_file)
        gives ``file:<sandbox home>/s3/<bucket>/<key>`` where EMR gives ``s3://<bucket>/<key>``: mapped back."""
        mirror = f"file:{self.site.settings.home}/s3/"
        return normalize(text.replace(mirror, "s3://").replace(mirror.replace(":", "://", 1), "s3://"), self.jobs)

    def snapshot(self, databases: dict[str, Any] | None = None) -> Snapshot:
        """The state now; the databases' part as ``databases`` says (read under the warehouse lock, see Pass)."""
        s3 = self.site.boto3_client("s3")
        objects, excluded = {}, {prefix: 0 for prefix in EXCLUDED}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for obj in page.get("Contents", []):
                prefix = next((p for p in EXCLUDED if obj["Key"].startswith(p)), None)
                if prefix is not None:
                    excluded[prefix] += 1
                    continue
                key = (obj["Key"], obj["ETag"])
                if key not in self._sums:
                    body = s3.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
                    self._sums[key] = content_digest(obj["Key"], body, self.normalize)
                objects.setdefault(self.normalize(obj["Key"]), []).append(self._sums[key])
        passwords = s3.list_objects_v2(Bucket=self.bucket, Prefix="secrets/sqoop/").get("Contents", [])
        return Snapshot(
            s3={key: sorted(sums) for key, sums in sorted(objects.items())},
            excluded=excluded,
            mysql=(databases or {}).get("mysql"),
            postgres=(databases or {}).get("postgres"),
            endpoint=self.endpoint(),
            registry=self.registry(s3),
            streaming=self.streaming(),
            running={
                "emr_clusters": self.active_clusters(),
                "training_jobs": self.active_training_jobs(),
                "sqoop_password_files": [o["Key"] for o in passwords],
            },
        )

    def active_clusters(self) -> list[str]:
        emr = self.site.boto3_client("emr")
        clusters = emr.list_clusters(ClusterStates=ACTIVE_CLUSTER_STATES)["Clusters"]
        return sorted(f"{c['Id']} {c['Name']} {c['Status']['State']}" for c in clusters)

    def active_training_jobs(self) -> list[str]:
        sagemaker = self.site.boto3_client("sagemaker")
        pages = sagemaker.get_paginator("list_training_jobs").paginate()  # no StatusEquals: moto filters after paging
        jobs = [job for page in pages for job in page["TrainingJobSummaries"]]
        active = [job for job in jobs if job["TrainingJobStatus"] in ACTIVE_TRAINING_STATES]
        return sorted(f"{job['TrainingJobName']} {job['TrainingJobStatus']}" for job in active)

    def databases(self) -> dict[str, Any]:
        return {"mysql": self.mysql(), "postgres": self.postgres()}

    def mysql(self) -> dict[str, Any]:
        """acquisition without loaded_at (the publish time), and what staging holds, for PERIODS only."""
        from sandbox.site import connect_mysql

        connection = connect_mysql(self.site.context.mysql)
        try:
            with connection.cursor() as cursor:
                return {
                    "acquisition": table_digest(cursor, "acquisition", "%s", exclude={"loaded_at"}),
                    "acquisition_staging": table_digest(cursor, "acquisition_staging", "%s", exclude={"loaded_at"}),
                }
        finally:
            connection.close()

    def postgres(self) -> dict[str, Any]:
        """loanlake.performance (and its staging table) for PERIODS only."""
        from sandbox.site import connect_postgres

        params = {k: v for k, v in self.site.context.postgres.items() if k != "dbname"}
        connection = connect_postgres(params, self.site.context.postgres["dbname"])
        try:
            with connection.cursor() as cursor:
                return {
                    "performance": table_digest(cursor, "loanlake.performance", "%s", exclude={"loaded_at"}),
                    "performance_staging_rows": staging_rows(cursor, "loanlake.performance_staging"),
                }
        finally:
            connection.rollback()
            connection.close()

    def registry(self, s3: Any) -> dict[str, Any] | None:
        """The live model (its AUC, what it was trained on, normalized) and every decision, newest first."""
        try:
            body = json.loads(s3.get_object(Bucket=self.bucket, Key=f"ml/registry/{ENDPOINT}.json")["Body"].read())
        except s3.exceptions.NoSuchKey:
            return None
        live = body.get("live") or {}
        return {
            "live_model": self.normalize(live.get("model_name", "")),
            "live_validation_auc": live.get("validation_auc"),
            "live_trained_by": self.jobs.get(run_digest(live["run_id"])) if live.get("run_id") else None,
            "history": [
                {k: self.normalize(str(v)) for k, v in entry.items() if k in ("model", "deployed", "deploy", "reason")}
                for entry in body.get("history", [])
            ],
        }

    def endpoint(self) -> dict[str, Any] | None:
        """The endpoint's status and its config's content: variants, data capture, the model's image and data."""
        sagemaker = self.site.boto3_client("sagemaker")
        try:
            endpoint = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
        except sagemaker.exceptions.ClientError:
            return None
        config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        variants = []
        for variant in config["ProductionVariants"]:
            model = sagemaker.describe_model(ModelName=variant["ModelName"])
            container = model.get("PrimaryContainer", {})
            variants.append(
                {
                    **{k: self.normalize(str(v)) for k, v in sorted(variant.items())},
                    "Image": container.get("Image"),
                    "ModelDataUrl": self.normalize(container.get("ModelDataUrl", "")),
                }
            )
        return {
            "status": endpoint["EndpointStatus"],
            "config": self.normalize(endpoint["EndpointConfigName"]),
            "variants": variants,
            "data_capture": config.get("DataCaptureConfig"),
        }

    def streaming(self) -> dict[str, Any]:
        """The stream, the delivery stream and the Lambda functions, as stream_health left them."""
        config = json.loads(self.site.env()["AIRFLOW_VAR_LOANLAKE_CONFIG"])
        from loanlake.config import parse_config

        spec = parse_config(config).streaming
        state: dict[str, Any] = {}
        kinesis, firehose = self.site.boto3_client("kinesis"), self.site.boto3_client("firehose")
        try:
            summary = kinesis.describe_stream_summary(StreamName=spec.stream.name)["StreamDescriptionSummary"]
            state["stream"] = {k: summary.get(k) for k in ("StreamStatus", "OpenShardCount", "RetentionPeriodHours")}
            state["stream"]["EncryptionType"] = summary.get("EncryptionType")
        except kinesis.exceptions.ResourceNotFoundException:
            state["stream"] = None
        try:
            stream = firehose.describe_delivery_stream(DeliveryStreamName=spec.delivery.name)
            description = stream["DeliveryStreamDescription"]
            state["delivery_stream"] = {
                "status": description["DeliveryStreamStatus"],
                "destinations": json.loads(self.normalize(json.dumps(description["Destinations"], sort_keys=True))),
            }
        except firehose.exceptions.ResourceNotFoundException:
            state["delivery_stream"] = None
        functions = self.site.boto3_client("lambda").list_functions()["Functions"]
        keep = ("FunctionName", "Runtime", "Handler", "CodeSha256", "Timeout", "MemorySize", "Environment")
        state["functions"] = sorted(({k: f.get(k) for k in keep} for f in functions), key=lambda f: f["FunctionName"])
        return state


def table_digest(cursor: Any, table: str, placeholder: str, exclude: set[str]) -> dict[str, Any]:
    """Rows per period and a sha256 of the sorted rows (every column but ``exclude``) of PERIODS; None if no table."""
    schema, _, name = table.rpartition(".")
    where = f"table_name = {placeholder} AND table_schema = {placeholder if schema else 'DATABASE()'}"
    cursor.execute(
        f"SELECT column_name FROM information_schema.columns WHERE {where} ORDER BY ordinal_position",  # noqa: S608
        (name, schema) if schema else (name,),
    )
    columns = [row[0] for row in cursor.fetchall() if row[0].lower() not in exclude]
    if not columns:
        return {"exists": False}
    marks = ", ".join([placeholder] * len(PERIODS))
    cursor.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE source_period IN ({marks})", PERIODS)  # noqa: S608
    rows = sorted(repr(tuple(str(v) for v in row)) for row in cursor.fetchall())
    per_period: dict[str, int] = {}
    period = columns.index("source_period")
    for row in rows:
        value = eval(row)[period]  # noqa: S307 - our own repr of a tuple of str
        per_period[value] = per_period.get(value, 0) + 1
    return {"rows": per_period, "sha256": hashlib.sha256("\n".join(rows).encode()).hexdigest()}


def staging_rows(cursor: Any, table: str) -> int | None:
    """Rows in a staging table without a period column (load_performance empties it in its transaction)."""
    cursor.execute("SELECT to_regclass(%s)", (table,))
    if not cursor.fetchone()[0]:
        return None
    cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - a constant of this module
    return cursor.fetchone()[0]


def clear_warehouse(site: Any) -> None:
    """Delete PERIODS from the warehouse tables (other tests share the databases, not these periods)."""
    from sandbox.site import connect_mysql, connect_postgres

    marks = ", ".join(["%s"] * len(PERIODS))
    for attempt in range(10):  # another suite may hold a lock on the tables for a while
        try:
            connection = connect_mysql(site.context.mysql)
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SET SESSION innodb_lock_wait_timeout = 20")
                    for table in ("acquisition", "acquisition_staging"):
                        cursor.execute(f"SHOW TABLES LIKE '{table}'")
                        if cursor.fetchone():
                            cursor.execute(f"DELETE FROM {table} WHERE source_period IN ({marks})", PERIODS)  # noqa: S608
                connection.commit()
            finally:
                connection.close()
            params = {k: v for k, v in site.context.postgres.items() if k != "dbname"}
            connection = connect_postgres(params, site.context.postgres["dbname"])
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SET lock_timeout = '20s'")
                    cursor.execute("SELECT to_regclass('loanlake.performance')")
                    if cursor.fetchone()[0]:
                        cursor.execute(f"DELETE FROM loanlake.performance WHERE source_period IN ({marks})", PERIODS)  # noqa: S608
                connection.commit()
            finally:
                connection.close()
            return
        except Exception:
            if attempt == 9:
                raise
            time.sleep(10)


# -- a pass ----------------------------------------------------------------------------------------------------


@dataclass
class Record:
    """One step of a pass, as the JSON holds it."""

    step: str
    dag_id: str | None
    expectation: str
    outcomes: list[Outcome]  # the run, then each cleared and resumed run of it
    cleared: list[list[str]]  # what each clear cleared
    checks: dict[str, Any]  # what the step's expectation checked, beyond the state
    snapshot: Snapshot | None
    note: str = ""


class Pass:
    """Runs the pipeline in this process's sandbox, clean or faulted; writes WORKDIR/<kind>.json after every step.

    The two passes may run at the same time: each has its own sandbox, but both publish PERIODS into the same
    MariaDB and PostgreSQL tables. So each pass holds ``WORKDIR/warehouse.lock`` while it empties PERIODS, runs the
    warehouse DAG and reads the tables back; the later snapshots carry that reading (no later DAG writes to them).
    """

    def __init__(self, kind: str, work: Path, site: Any) -> None:
        self.kind, self.work, self.site = kind, work, site
        self.state = StateReader(site)
        self.records: list[Record] = []
        self.databases: dict[str, Any] | None = None
        self.started = time.monotonic()

    def write(self, error: str | None = None) -> None:
        body = {
            "pass": self.kind,
            "periods": PERIODS,
            "excluded": EXCLUDED,
            "seconds": round(time.monotonic() - self.started, 1),
            "error": error,
            "steps": [asdict(record) for record in self.records],
            "secrets": self.secrets_check() if error is None and self.records else None,
        }
        path = self.work / f"{self.kind}.json"
        path.with_suffix(".tmp").write_text(json.dumps(body, indent=1, default=str))
        path.with_suffix(".tmp").replace(path)

    def secrets_check(self) -> dict[str, Any]:
        """Where the sandbox's secrets show up: the pass's captured task logs and every EMR step's arguments.

        The secrets are the portal password and every non-empty connection password but moto's fixed account
        credentials (any key works there); the answer names a secret by where it comes from, never by its value.
        """
        from sandbox.site import ACCOUNT_CREDENTIALS

        secrets = {"portal password": self.site.portal_password}
        for name, value in self.site.env().items():
            password = json.loads(value).get("password") if name.startswith("AIRFLOW_CONN_") else None
            if password and password != ACCOUNT_CREDENTIALS["password"]:
                secrets[f"{name} password"] = password
        emr = self.site.boto3_client("emr")
        cluster_ids = [c["Id"] for page in emr.get_paginator("list_clusters").paginate() for c in page["Clusters"]]
        steps_text = json.dumps(
            [step["Config"] for cluster in cluster_ids for step in emr.list_steps(ClusterId=cluster)["Steps"]]
        )
        logs = (self.work / f"{self.kind}.log").read_text(errors="replace")
        places = {"task logs": logs, "EMR step arguments": steps_text}
        found = [
            f"{name} in {where}" for name, value in secrets.items() for where, text in places.items() if value in text
        ]
        searched = {where: len(text) for where, text in places.items()}
        return {"secrets": sorted(secrets), "searched": searched, "found": found}

    def run(self) -> None:
        for step in steps():
            if step.action is not None:
                note = step.action(self.site)
                self.records.append(Record(step.label, None, "traffic", [], [], {}, None, note))
            elif step.dag_id == "loan_warehouse_load":
                with warehouse_lock(self.work):
                    clear_warehouse(self.site)
                    record = self.run_dag(step)
                    self.databases = self.state.databases()
                self.records.append(record)
            else:
                self.records.append(self.run_dag(step))
            for outcome in self.records[-1].outcomes:
                self.state.jobs[run_digest(outcome.run_id)] = step.label
            self.records[-1].snapshot = None if step.action else self.state.snapshot(self.databases)
            self.write()
            progress(self.work, self.kind, f"{step.label} done")

    def run_dag(self, step: Step) -> Record:
        if self.kind == "clean":
            return Record(step.label, step.dag_id, "clean", [run_step(step)], [], {}, None)
        if self.kind == "redo":
            outcome = run_step(step, first_try, when="after")
            return Record(
                step.label, step.dag_id, "every task fails its first try after its work", [outcome], [], {}, None
            )
        if step.label == "freddie_mac_ingest":
            return self.portal_faults(step)
        if step.label == "loan_data_processing":
            return self.outlasting_fault(step, "check_keys")
        if step.label == "loan_model_training#2":
            return self.failed_endpoint_update(step)
        return Record(
            step.label, step.dag_id, "every task fails its first try", [run_step(step, first_try)], [], {}, None
        )

    def portal_faults(self, step: Step) -> Record:
        """fetch: the portal answers 500 to every attempt of each file's first try; every other task: injected."""
        from loanlake.config import parse_config

        attempts = parse_config(os.environ["AIRFLOW_VAR_LOANLAKE_CONFIG"]).source.attempts
        portal = self.site.portal
        portal.set_fault("http_500", times=attempts * len(PERIODS))
        outcome = run_step(step, lambda task_id: frozenset() if task_id == "fetch" else frozenset({1}))
        checks = {"portal_attempts_per_try": attempts, "portal_faults_left": portal.pending_faults()}
        portal.clear_faults()
        return Record(
            step.label, step.dag_id, "fetch: portal HTTP 500 on its first try; the others: injected",
            [outcome], [], checks, None,
        )  # fmt: skip

    def outlasting_fault(self, step: Step, task_id: str) -> Record:
        """``task_id`` fails every try, the others their first: the run fails; clear the task and rerun it."""
        outcome = run_step(step, lambda t: frozenset({1, 2, 3}) if t == task_id else frozenset({1}))
        checks = {"left_running_by_the_failed_run": self.state.snapshot().running}
        cleared, resumed = clear_and_resume(step, [task_id], first_try)  # its downstream's first tries come now
        return Record(
            step.label, step.dag_id, f"{task_id} fails every try (outlasts its retries), then cleared and rerun",
            [outcome, resumed], [cleared], checks, None,
        )  # fmt: skip

    def failed_endpoint_update(self, step: Step) -> Record:
        """The endpoint update fails (sandbox switch): the run fails, the old model serves; clear and rerun."""
        from sandbox.extensions.sagemaker import FAULTS

        before = self.state.snapshot()
        FAULTS.fail_next(ENDPOINT)
        outcome = run_step(step)
        self.state.jobs[run_digest(outcome.run_id)] = step.label
        after = self.state.snapshot()
        checks: dict[str, Any] = {
            "endpoint_before": before.endpoint,
            "endpoint_after_failed_run": after.endpoint,
            "registry_before": before.registry,
            "registry_after_failed_run": after.registry,
            "old_model_scores": self.scores(),
        }
        cleared, resumed = clear_and_resume(step, ["deploy_endpoint"])
        outcomes, clears = [outcome, resumed], [cleared]
        if resumed.state != "success":
            # What on-call has to do today when deploy_endpoint's rerun meets its own model (see the suite's report):
            # delete the model and endpoint config the failed deployment created, then clear again.
            checks["workaround"] = self.delete_unserved_model(resumed)
            cleared, again = clear_and_resume(step, ["deploy_endpoint"])
            outcomes.append(again)
            clears.append(cleared)
        return Record(
            step.label, step.dag_id, "the endpoint update fails: run fails, old model serves; cleared rerun succeeds",
            outcomes, clears, checks, None,
        )  # fmt: skip

    def scores(self) -> dict[str, Any]:
        """One loan scored by the endpoint: it still answers."""
        from loanlake.ml.features import feature_row, to_csv
        from sandbox import catalog
        from sandbox.generator import GeneratorSpec, origination_records

        spec = GeneratorSpec(seed=catalog.SEED, loans=1, layout="r47")
        row = to_csv(feature_row(next(iter(origination_records("quarterly", PERIODS[-1], spec)))))
        runtime = self.site.boto3_client("sagemaker-runtime")
        try:
            answer = runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=row.encode())
            return {"ok": True, "prediction": answer["Body"].read().decode().strip()}
        except Exception as error:
            return {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}

    def delete_unserved_model(self, outcome: Outcome) -> dict[str, Any]:
        """Delete the model and endpoint config of this run's job (named after its run id), unless they serve."""
        sagemaker = self.site.boto3_client("sagemaker")
        serving = sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
        digest = run_digest(outcome.run_id)
        deleted = []
        for model in sagemaker.list_models()["Models"]:
            name = model["ModelName"]
            if not name.endswith(digest) or name == serving:
                continue
            with contextlib.suppress(sagemaker.exceptions.ClientError):
                sagemaker.delete_endpoint_config(EndpointConfigName=name)
                deleted.append(f"endpoint config {name}")
            sagemaker.delete_model(ModelName=name)
            deleted.append(f"model {name}")
        return {"deleted": deleted, "serving": serving}


@contextlib.contextmanager
def warehouse_lock(work: Path) -> Iterator[None]:
    """One pass at a time in the warehouse tables' PERIODS."""
    import fcntl

    with (work / "warehouse.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def progress(work: Path, kind: str, message: str) -> None:
    """A line in WORKDIR/<kind>.progress: what the pass is doing, for whoever waits on it."""
    with (work / f"{kind}.progress").open("a") as out:
        out.write(f"{datetime.now():%H:%M:%S} {message}\n")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["compare"]:
        return compare(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=(*PASSES, "redo"))
    parser.add_argument("work", type=Path)
    args = parser.parse_args(argv)
    for path in (ROOT / "plugins", ROOT):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    from sandbox.runner import output_to, prepare_airflow

    args.work.mkdir(parents=True, exist_ok=True)
    progress(args.work, args.kind, "start")
    with output_to(args.work / f"{args.kind}.log"):
        prepare_airflow(args.work / f"{args.kind}-airflow")  # metadata of its own: the passes may run together
        from sandbox.site import Sandbox, SandboxSettings

        settings = SandboxSettings(home=args.work / args.kind, moto_port=0, portal_port=0)
        progress(args.work, args.kind, "airflow ready")
        site = Sandbox(settings).start()
        progress(args.work, args.kind, "sandbox up")
        current = Pass(args.kind, args.work, site)
        try:
            env = site.env()
            config = json.loads(env["AIRFLOW_VAR_LOANLAKE_CONFIG"])
            for section, values in CONFIG.items():
                config[section] = merge(config.get(section, {}), values)
            env["AIRFLOW_VAR_LOANLAKE_CONFIG"] = json.dumps(config)
            os.environ.update(env)
            current.run()
            current.write()
        except BaseException:
            current.write(error=traceback.format_exc())
            raise
        finally:
            site.stop()
    return 0


def compare(argv: list[str]) -> int:
    """``faults.py compare WORKDIR [A B]``: what each step of pass B (faulted) did otherwise than pass A (clean)."""
    parser = argparse.ArgumentParser(prog="faults.py compare")
    parser.add_argument("work", type=Path)
    parser.add_argument("passes", nargs="*", default=list(PASSES))
    args = parser.parse_args(argv)
    first, second = (
        {r["step"]: r for r in json.loads((args.work / f"{k}.json").read_text())["steps"]} for k in args.passes
    )
    before: list[str] = []
    for label, record in first.items():
        if not record["dag_id"] or label not in second:
            continue
        clean, other = record["outcomes"][0], second[label]["outcomes"][-1]
        now = diff(comparable(record["snapshot"]), comparable(second[label]["snapshot"]))
        lines = [line for line in now if line not in before] + [
            f"task {line}" for line in diff(clean["tasks"], other["tasks"])
        ]
        print(f"{label}: {other['state']} ({'same as' if not lines else 'differs from'} {args.passes[0]})")
        errors = [
            f"{f['task']} try {f['try']}: {f['error'][:240]}"
            for f in other["failures"]
            if "InjectedFault" not in f["error"]
        ]
        for line in [*lines, *errors]:
            print(f"    {line[:400]}")
        before = now
    return 0


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = merge(merged.get(key, {}), value) if isinstance(value, dict) else value
    return merged


# -- comparing two passes (used by the test) -------------------------------------------------------------------


def diff(clean: dict[str, Any], faulted: dict[str, Any], path: str = "") -> list[str]:
    """Every difference between two snapshots (as JSON), one line each, with its path."""
    if isinstance(clean, dict) and isinstance(faulted, dict):
        lines = []
        for key in sorted(set(clean) | set(faulted), key=str):
            where = f"{path}/{key}" if path else str(key)
            if key not in faulted:
                lines.append(f"{where}: only in the clean pass: {short(clean[key])}")
            elif key not in clean:
                lines.append(f"{where}: only in the faulted pass: {short(faulted[key])}")
            else:
                lines += diff(clean[key], faulted[key], where)
        return lines
    if clean != faulted:
        return [f"{path}: clean {short(clean)} != faulted {short(faulted)}"]
    return []


def short(value: Any, width: int = 160) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= width else text[: width - 3] + "..."


def comparable(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The part of a snapshot two correct runs agree on (object counts under excluded prefixes may differ)."""
    return {k: v for k, v in snapshot.items() if k != "excluded"}


if __name__ == "__main__":
    sys.exit(main())
