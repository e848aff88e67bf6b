"""EMR whose steps really run: moto's clusters and steps, with a worker thread per cluster.

moto accepts ``RunJobFlow`` and ``AddJobFlowSteps`` but leaves steps RUNNING/PENDING forever. Here a
cluster goes STARTING -> BOOTSTRAPPING -> WAITING, runs its steps one after another (RUNNING while one
runs), applies each failed step's ``ActionOnFailure`` and terminates when asked, or after its last step
when ``KeepJobFlowAliveWhenNoSteps`` is false. Step logs go where EMR writes them:
``<LogUri>/<cluster-id>/steps/<step-id>/stdout.gz`` and ``stderr.gz``. A cluster keeps the
``AutoTerminationPolicy`` it was created with (``GetAutoTerminationPolicy``, ``PutAutoTerminationPolicy``
and ``RemoveAutoTerminationPolicy`` answer as EMR does, which moto does not); the sandbox does not end idle
clusters by it (EMR's shortest idle timeout is a minute, longer than any sandbox run waits).

``hive-script`` steps run on the shared Hive engine (``sandbox.hive``). Every ``s3://`` variable becomes a
``file://`` path in a local mirror of S3 (``<home>/s3/<bucket>/<key>``), synced with the sandbox's S3
around the script: before it the mirror is made equal to S3 under those prefixes, after it S3 is made
equal to the mirror. Hadoop's hidden files (any name starting with ``_`` or ``.``: ``_SUCCESS``,
``.crc``, ``_temporary``) are never synced either way. Other step types fail with a clear reason.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.emr.exceptions import ValidationException
from moto.emr.models import Cluster, ElasticMapReduceBackend, Step
from moto.emr.responses import ElasticMapReduceResponse

from sandbox import sqoop
from sandbox.extensions import SandboxContext, Undo, extension
from sandbox.hive import HiveEngine  # imports pyspark only when an engine starts

log = logging.getLogger("sandbox.emr")

TRANSITION_SECONDS = 0.2  # how long STARTING and BOOTSTRAPPING last, so clients can see them
JOIN_SECONDS = 300.0  # how long stop() waits for a step that is still running
ENDED = frozenset({"TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"})
TERMINATE_ACTIONS = frozenset({"TERMINATE_CLUSTER", "TERMINATE_JOB_FLOW"})
S3_URI = re.compile(r"^s3[an]?://(?P<bucket>[^/]+)/?(?P<key>.*)$")
VARIABLE_FLAGS = frozenset({"-d", "--define", "--hivevar"})
MARKERS = frozenset({"--run-hive-script", "--args"})
IDLE_TIMEOUT_RANGE = (60, 604800)  # seconds, as EMR accepts them
DEFAULT_IDLE_TIMEOUT = 3600  # EMR's, for a policy that names no IdleTimeout
_ABSENT = object()  # a member moto's class does not have: the undo removes it again
_HIVE_LOCK = threading.Lock()  # one Spark session and one S3 mirror: one hive step at a time, any cluster


# -- what a step run produces ------------------------------------------------------------------------


@dataclass
class StepRun:
    """What a step printed, and why it failed if it did."""

    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    failure: tuple[str, str] | None = None  # (reason, message) as EMR's FailureDetails

    def fail(self, reason: str, message: str) -> None:
        self.failure = (reason, message)
        self.stderr.append(message)


class StepRejected(Exception):
    """A step the sandbox cannot run: its reason and message become the step's FailureDetails."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class HiveScriptStep:
    """``command-runner.jar hive-script --run-hive-script --args -f <script> -d NAME=value ...``."""

    script: str
    variables: dict[str, str]


def parse_hive_script_step(jar: str, args: list[str]) -> HiveScriptStep:
    """The script and variables of a hive-script step; any other step is rejected."""
    if not (jar.endswith("command-runner.jar") and args[:1] == ["hive-script"]):
        shown = " ".join([jar, *args[:2]])
        raise StepRejected(
            "Step type not supported by the sandbox yet",
            f"{shown} is not supported by the sandbox yet: it runs hive-script and sqoop export steps",
        )
    script = None
    variables: dict[str, str] = {}
    rest = iter(args[1:])
    for arg in rest:
        if arg in MARKERS:
            continue
        if arg == "-f":
            script = next(rest, None)
        elif arg in VARIABLE_FLAGS:
            _add_variable(variables, arg, next(rest, ""))
        elif arg.startswith("-d"):
            _add_variable(variables, "-d", arg[2:])
        else:
            raise StepRejected("Invalid step arguments", f"hive-script: unexpected argument {arg!r}")
    if not script or not S3_URI.match(script):
        raise StepRejected("Invalid step arguments", "hive-script needs -f s3://bucket/path/script.hql")
    return HiveScriptStep(script, variables)


def _add_variable(variables: dict[str, str], flag: str, definition: str) -> None:
    name, equals, value = definition.partition("=")
    if not name or not equals:
        raise StepRejected("Invalid step arguments", f"hive-script: {flag} needs NAME=value, got {definition!r}")
    variables[name] = value


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``(bucket, key)`` of an ``s3://`` URI (``s3a``/``s3n`` too)."""
    match = S3_URI.match(uri)
    if match is None:
        raise ValueError(f"not an s3:// URI: {uri}")
    return match["bucket"], match["key"]


# -- the local mirror of S3 --------------------------------------------------------------------------


def is_hidden(relative: str) -> bool:
    """Hadoop's rule: a path with a part starting with ``_`` or ``.`` is not data (``_SUCCESS``, ``.crc``)."""
    return any(part.startswith(("_", ".")) for part in relative.split("/"))


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _same(path: Path, size: int, etag: str) -> bool:
    """Whether a local file holds the object: same size and, unless the ETag is a multipart one, same MD5."""
    if not path.is_file() or path.stat().st_size != size:
        return False
    return "-" in etag or _md5(path) == etag


def _forget_checksum(path: Path) -> None:
    """Remove Hadoop's ``.<name>.crc``: a stale one makes Spark's local file system refuse the file."""
    path.with_name(f".{path.name}.crc").unlink(missing_ok=True)


class S3Mirror:
    """Objects of the sandbox's S3 as files under ``root/<bucket>/<key>``, synced by prefix."""

    def __init__(self, root: Path, s3: Any) -> None:
        self.root = root
        self._s3 = s3

    def local_uri(self, uri: str) -> str:
        """``file://`` URI of an ``s3://`` URI in the mirror (a trailing slash is kept)."""
        bucket, key = split_s3_uri(uri)
        return f"file://{self.root / bucket}/{key}"

    def pull(self, bucket: str, prefix: str) -> tuple[int, int]:
        """Make the mirror equal S3 under a prefix; ``(downloaded, removed)``."""
        remote = self._objects(bucket, prefix)
        downloaded = 0
        for key, (size, etag) in remote.items():
            path = self.root / bucket / key
            if not _same(path, size, etag):
                path.parent.mkdir(parents=True, exist_ok=True)
                self._s3.download_file(bucket, key, str(path))
                _forget_checksum(path)
                downloaded += 1
        stale = [path for key, path in self._files(bucket, prefix) if key not in remote]
        for path in stale:
            path.unlink()
            _forget_checksum(path)
        self._prune(self.root / bucket / prefix)
        return downloaded, len(stale)

    def push(self, bucket: str, prefix: str) -> tuple[int, int]:
        """Make S3 equal the mirror under a prefix; ``(uploaded, deleted)``."""
        remote = self._objects(bucket, prefix)
        local = dict(self._files(bucket, prefix))
        uploaded = 0
        for key, path in local.items():
            if key not in remote or not _same(path, *remote[key]):
                with path.open("rb") as body:
                    self._s3.put_object(Bucket=bucket, Key=key, Body=body)
                uploaded += 1
        gone = sorted(remote.keys() - local.keys())
        for key in gone:
            self._s3.delete_object(Bucket=bucket, Key=key)
        return uploaded, len(gone)

    def _objects(self, bucket: str, prefix: str) -> dict[str, tuple[int, str]]:
        """Data objects under a prefix: key -> (size, ETag without quotes)."""
        objects = {}
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if self._is_data(item["Key"], prefix):
                    objects[item["Key"]] = (item["Size"], item["ETag"].strip('"'))
        return objects

    def _files(self, bucket: str, prefix: str) -> Iterator[tuple[str, Path]]:
        """Data files of the mirror under a prefix, as (key, path)."""
        bucket_root = self.root / bucket
        top = bucket_root / prefix
        paths = [top] if top.is_file() else (p for p in top.rglob("*") if p.is_file())
        for path in paths:
            key = path.relative_to(bucket_root).as_posix()
            if self._is_data(key, prefix):
                yield key, path

    @staticmethod
    def _is_data(key: str, prefix: str) -> bool:
        """Whether a key is one of the prefix's data objects (a whole path segment, not hidden below it)."""
        if key.endswith("/") or not (not prefix or key == prefix or key.startswith(prefix + "/")):
            return False
        parent = prefix.rpartition("/")[0]
        return not is_hidden(key[len(parent) :].lstrip("/"))

    @staticmethod
    def _prune(top: Path) -> None:
        """Remove empty folders below ``top`` (a partition whose objects are gone must not come back)."""
        if not top.is_dir():
            return
        for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            if not any(folder.iterdir()):
                folder.rmdir()


def outermost_prefixes(locations: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``(bucket, prefix)`` pairs without trailing slashes, dropping those inside another one."""
    chosen: list[tuple[str, str]] = []
    for bucket, prefix in sorted({(b, k.rstrip("/")) for b, k in locations}):
        if not any(b == bucket and (not p or prefix == p or prefix.startswith(p + "/")) for b, p in chosen):
            chosen.append((bucket, prefix))
    return chosen


# -- running one step --------------------------------------------------------------------------------


class StepExecutor:
    """Runs a step as the cluster's master node would, with the sandbox's engines, and writes its logs."""

    def __init__(self, context: SandboxContext) -> None:
        import boto3

        from sandbox.site import ACCOUNT_CREDENTIALS

        self._s3 = boto3.client(
            "s3",
            endpoint_url=context.endpoint_url,
            region_name=context.region,
            aws_access_key_id=ACCOUNT_CREDENTIALS["login"],
            aws_secret_access_key=ACCOUNT_CREDENTIALS["password"],
        )
        self._mirror = S3Mirror(context.home / "s3", self._s3)
        self._hive_home = hive_home(context)

    def run(self, step: Step) -> StepRun:
        """Run a step to its end; failures are reported in the result, never raised."""
        from botocore.exceptions import ClientError

        run = StepRun()
        try:
            if sqoop.is_sqoop_export(step.jar, step.args):  # Sqoop logs to stderr, as on EMR
                sqoop.run_export(list(step.args), self._s3, log=run.stderr.append)
            else:
                self._run_hive_script(parse_hive_script_step(step.jar, list(step.args)), run)
        except (StepRejected, sqoop.SqoopError) as rejected:
            run.fail(rejected.reason, rejected.message)
        except ClientError as error:
            run.fail("S3 request failed", str(error))
        except Exception as error:  # a sandbox bug must fail the step, not hang it
            run.stderr.append(traceback.format_exc())
            run.fail("Sandbox error", f"{type(error).__name__}: {error}")
        return run

    def _run_hive_script(self, hive: HiveScriptStep, run: StepRun) -> None:
        """Pull the variables' S3 prefixes, run the script, push the prefixes back: all under one lock."""
        from sandbox.hive import HiveScriptError

        text = self._read_script(hive.script)
        local = {name: self._mirror.local_uri(v) if S3_URI.match(v) else v for name, v in hive.variables.items()}
        prefixes = outermost_prefixes(split_s3_uri(v) for v in hive.variables.values() if S3_URI.match(v))
        with _HIVE_LOCK:  # another cluster's sync must not interleave with this script's writes
            for bucket, prefix in prefixes:
                downloaded, removed = self._mirror.pull(bucket, prefix)
                run.stdout.append(f"sandbox: s3://{bucket}/{prefix}: {downloaded} objects fetched, {removed} removed")
            try:
                HiveEngine.shared(self._hive_home).run_script(text, local, log=run.stdout.append)
            except HiveScriptError as error:
                run.fail("Hive script failed", str(error))
            finally:  # Hive on EMR writes to S3 directly: what a failed script wrote is there too
                for bucket, prefix in prefixes:
                    uploaded, deleted = self._mirror.push(bucket, prefix)
                    run.stdout.append(f"sandbox: s3://{bucket}/{prefix}: {uploaded} objects stored, {deleted} deleted")

    def _read_script(self, uri: str) -> str:
        bucket, key = split_s3_uri(uri)
        try:
            return self._s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        except self._s3.exceptions.NoSuchKey:
            raise StepRejected("Hive script not found", f"{uri} does not exist") from None

    def write_logs(self, cluster: Cluster, step: Step, run: StepRun) -> str | None:
        """Store stdout.gz and stderr.gz under the cluster's LogUri; the stderr URI, or None without one."""
        from botocore.exceptions import ClientError

        if not cluster.log_uri or not S3_URI.match(cluster.log_uri):
            return None
        bucket, base = split_s3_uri(cluster.log_uri)
        folder = "/".join(part for part in (base.strip("/"), cluster.id, "steps", step.id) if part)
        try:
            for name, lines in (("stdout", run.stdout), ("stderr", run.stderr)):
                body = gzip.compress("".join(f"{line}\n" for line in lines).encode())
                self._s3.put_object(Bucket=bucket, Key=f"{folder}/{name}.gz", Body=body)
        except ClientError as error:
            log.warning("cannot write the logs of step %s to %s: %s", step.id, cluster.log_uri, error)
            return None
        return f"s3://{bucket}/{folder}/stderr.gz"


# -- clusters and their step queues ------------------------------------------------------------------


def _set_cluster_state(cluster: Cluster, state: str, code: str | None = None, message: str | None = None) -> None:
    cluster.state = state
    cluster.state_change_code = code
    cluster.last_state_change_reason = message
    if state in ("TERMINATED", "TERMINATED_WITH_ERRORS"):
        cluster.end_datetime = utcnow()


def _cancel_steps(cluster: Cluster, states: tuple[str, ...], message: str) -> bool:
    """Cancel the cluster's steps in ``states``; whether one of them was RUNNING."""
    running = False
    for step in cluster.steps:
        if step.state in states:
            running = running or step.state == "RUNNING"
            step.state = "CANCELLED"
            step.last_state_change_reason = message
            step.end_date_time = utcnow()
    return running


class ClusterWorkers:
    """A worker thread per cluster that boots it, runs its steps in order and ends it."""

    def __init__(self, executor: StepExecutor) -> None:
        self._executor = executor
        self._changed = threading.Condition()  # guards every cluster's and step's state
        self._stopping = False
        self._threads: list[threading.Thread] = []

    def launch(self, cluster: Cluster) -> None:
        """Take over a cluster moto just created: STARTING, its steps PENDING, a worker to run them."""
        with self._changed:
            _set_cluster_state(cluster, "STARTING")
            cluster.ready_datetime = cluster.end_datetime = None
            for step in cluster.steps:
                self._queue(step)
            self._threads = [thread for thread in self._threads if thread.is_alive()]
            worker = threading.Thread(target=self._work, args=(cluster,), name=f"sandbox-emr-{cluster.id}", daemon=True)
            self._threads.append(worker)
            worker.start()

    def add_steps(self, cluster: Cluster, add: Callable[[], list[Step]]) -> list[Step]:
        """Add steps with moto's ``add``, then queue them as PENDING; an ended cluster refuses them."""
        with self._changed:
            if cluster.state in ENDED:
                raise ValidationException(
                    "A job flow that is shutting down, terminated, or finished may not be modified."
                )
            state = cluster.state
            steps = add()
            cluster.state = state
            for step in steps:
                self._queue(step)
            self._changed.notify_all()
            return steps

    def terminate(self, cluster: Cluster) -> None:
        """User request: pending steps CANCELLED, a running one CANCELLED (its engine finishes it), then TERMINATED."""
        with self._changed:
            if cluster.state in ENDED:
                return
            running = _cancel_steps(cluster, ("PENDING", "RUNNING"), "Cancelled because the cluster was terminated")
            state = "TERMINATING" if running else "TERMINATED"
            _set_cluster_state(cluster, state, "USER_REQUEST", "Terminated by user request")
            self._changed.notify_all()

    def stop(self) -> None:
        """Stop every worker: waiting ones at once, a running step when its script ends."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        for thread in self._threads:
            thread.join(JOIN_SECONDS)
            if thread.is_alive():
                log.warning("EMR worker %s still runs a step after %.0f s", thread.name, JOIN_SECONDS)
        self._threads = []

    @staticmethod
    def _queue(step: Step) -> None:
        step.state = "PENDING"
        step.start_date_time = step.end_date_time = None

    def _work(self, cluster: Cluster) -> None:
        try:
            self._boot(cluster)
            while (step := self._next_step(cluster)) is not None:
                run = self._executor.run(step)
                log_file = self._executor.write_logs(cluster, step, run)
                self._finish(cluster, step, run, log_file)
        except Exception:
            log.exception("EMR worker for %s failed", cluster.id)
            with self._changed:
                _cancel_steps(cluster, ("PENDING", "RUNNING"), "Cancelled because the sandbox's EMR worker failed")
                _set_cluster_state(cluster, "TERMINATED_WITH_ERRORS", "INTERNAL_ERROR", "Sandbox worker failed")

    def _boot(self, cluster: Cluster) -> None:
        """STARTING -> BOOTSTRAPPING -> WAITING, a short pause each, unless the cluster ends meanwhile."""
        for state, message in (
            ("BOOTSTRAPPING", "Running bootstrap actions"),
            ("WAITING", "Cluster ready to run steps."),
        ):
            with self._changed:
                self._changed.wait_for(lambda: self._stopping, TRANSITION_SECONDS)
                if self._stopping or cluster.state in ENDED:
                    return
                _set_cluster_state(cluster, state, None, message)
                cluster.ready_datetime = utcnow() if state == "WAITING" else None

    def _next_step(self, cluster: Cluster) -> Step | None:
        """The next PENDING step, now RUNNING; None once the cluster ends or the sandbox stops."""
        with self._changed:
            while not self._stopping and cluster.state not in ENDED:
                step = next((s for s in cluster.steps if s.state == "PENDING"), None)
                if step is not None:
                    step.state = "RUNNING"
                    step.start_date_time = utcnow()
                    _set_cluster_state(cluster, "RUNNING", None, f"Running step {step.id}")
                    return step
                if cluster.auto_terminate:
                    failed = any(s.state == "FAILED" for s in cluster.steps)
                    message = "Steps completed with errors" if failed else "Steps completed"
                    _set_cluster_state(cluster, "TERMINATED", "ALL_STEPS_COMPLETED", message)
                    return None
                if cluster.state != "WAITING":
                    _set_cluster_state(cluster, "WAITING", None, "Cluster ready after last step completed.")
                self._changed.wait()
            return None

    def _finish(self, cluster: Cluster, step: Step, run: StepRun, log_file: str | None) -> None:
        """Record a step's end and apply its ActionOnFailure."""
        with self._changed:
            if step.state == "CANCELLED":  # the cluster was terminated while the step ran
                _set_cluster_state(cluster, "TERMINATED", cluster.state_change_code, cluster.last_state_change_reason)
                return
            step.end_date_time = utcnow()
            if run.failure is None:
                step.state = "COMPLETED"
                return
            step.state = "FAILED"
            reason, message = run.failure
            step.failure_details = {"Reason": reason, "Message": message[:2000]}
            if log_file:
                step.failure_details["LogFile"] = log_file
            if step.action_on_failure == "CONTINUE":
                return
            _cancel_steps(cluster, ("PENDING",), f"Cancelled because step {step.id} failed ({step.action_on_failure})")
            if step.action_on_failure in TERMINATE_ACTIONS:
                _set_cluster_state(cluster, "TERMINATED_WITH_ERRORS", "STEP_FAILURE", "Shut down as step failed")


# -- the patches -------------------------------------------------------------------------------------


def _auto_termination_policy(response: ElasticMapReduceResponse) -> dict[str, int] | None:
    """The request's ``AutoTerminationPolicy``, checked as EMR checks it."""
    policy = response._get_param("AutoTerminationPolicy")
    if policy is None:
        return None
    timeout = int(policy.get("IdleTimeout", DEFAULT_IDLE_TIMEOUT))
    low, high = IDLE_TIMEOUT_RANGE
    if not low <= timeout <= high:
        raise ValidationException(f"IdleTimeout must be between {low} and {high} seconds, not {timeout}.")
    return {"IdleTimeout": timeout}


def _policy_members() -> dict[tuple[type, str], Any]:
    """RunJobFlow keeps the cluster's auto-termination policy; Get/Put/Remove AutoTerminationPolicy answer."""
    respond_run_job_flow = ElasticMapReduceResponse.run_job_flow

    def run_job_flow(response: ElasticMapReduceResponse) -> ActionResult:
        policy = _auto_termination_policy(response)
        result = respond_run_job_flow(response)
        response.backend.describe_cluster(result.result["JobFlowId"]).auto_termination_policy = policy
        return result

    def get_auto_termination_policy(response: ElasticMapReduceResponse) -> ActionResult:
        cluster = response.backend.describe_cluster(response._get_param("ClusterId"))
        policy = getattr(cluster, "auto_termination_policy", None)
        return ActionResult({"AutoTerminationPolicy": policy} if policy else {})

    def put_auto_termination_policy(response: ElasticMapReduceResponse) -> EmptyResult:
        cluster = response.backend.describe_cluster(response._get_param("ClusterId"))
        cluster.auto_termination_policy = _auto_termination_policy(response)
        return EmptyResult()

    def remove_auto_termination_policy(response: ElasticMapReduceResponse) -> EmptyResult:
        response.backend.describe_cluster(response._get_param("ClusterId")).auto_termination_policy = None
        return EmptyResult()

    return {
        (ElasticMapReduceResponse, "run_job_flow"): run_job_flow,
        (ElasticMapReduceResponse, "get_auto_termination_policy"): get_auto_termination_policy,
        (ElasticMapReduceResponse, "put_auto_termination_policy"): put_auto_termination_policy,
        (ElasticMapReduceResponse, "remove_auto_termination_policy"): remove_auto_termination_policy,
    }


def _patched_members(workers: ClusterWorkers) -> dict[tuple[type, str], Any]:
    """Replacements for moto's EMR members, each calling the original where moto's part is still right."""
    run_job_flow = ElasticMapReduceBackend.run_job_flow
    add_job_flow_steps = ElasticMapReduceBackend.add_job_flow_steps
    step_status = Step.status.fget
    cluster_status = Cluster.status.fget

    def run_job_flow_and_launch(backend: ElasticMapReduceBackend, **kwargs: Any) -> Cluster:
        cluster = run_job_flow(backend, **kwargs)
        workers.launch(cluster)
        return cluster

    def add_job_flow_steps_queued(backend: ElasticMapReduceBackend, job_flow_id: str, steps: list) -> list[Step]:
        cluster = backend.describe_cluster(job_flow_id)
        return workers.add_steps(cluster, lambda: add_job_flow_steps(backend, job_flow_id, steps))

    def terminate_job_flows(backend: ElasticMapReduceBackend, job_flow_ids: list[str]) -> list[Cluster]:
        clusters = [backend.describe_cluster(job_flow_id) for job_flow_id in job_flow_ids]
        if any(cluster.termination_protected for cluster in clusters):
            raise ValidationException("Could not shut down one or more job flows since they are termination protected.")
        for cluster in clusters:
            workers.terminate(cluster)
        return clusters

    def step_status_with_failure(step: Step) -> dict[str, Any]:
        status = step_status(step)
        if failure := getattr(step, "failure_details", None):
            status["FailureDetails"] = failure
        return status

    def cluster_status_with_code(cluster: Cluster) -> dict[str, Any]:
        status = cluster_status(cluster)
        if code := getattr(cluster, "state_change_code", None):
            status["StateChangeReason"]["Code"] = code
        return status

    return {
        (ElasticMapReduceBackend, "run_job_flow"): run_job_flow_and_launch,
        (ElasticMapReduceBackend, "add_job_flow_steps"): add_job_flow_steps_queued,
        (ElasticMapReduceBackend, "terminate_job_flows"): terminate_job_flows,
        (Step, "status"): property(step_status_with_failure),
        (Cluster, "status"): property(cluster_status_with_code),
        **_policy_members(),
    }


def hive_home(context: SandboxContext) -> Path:
    """Where the sandbox's Hive engine keeps its metastore and warehouse (one engine per process)."""
    return context.home / "hive"


@extension("emr")
def emr_steps_run(context: SandboxContext) -> Undo:
    """Patch moto's EMR so steps run; the undo stops the workers, restores moto and stops the sandbox's Hive engine."""
    workers = ClusterWorkers(StepExecutor(context))
    replacements = _patched_members(workers)
    originals = {(owner, name): owner.__dict__.get(name, _ABSENT) for owner, name in replacements}
    for (owner, name), member in replacements.items():
        setattr(owner, name, member)

    def undo() -> None:
        workers.stop()
        for (owner, name), member in originals.items():
            if member is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, member)
        engine = HiveEngine.running()
        if engine is not None and engine.home == hive_home(context).resolve():
            engine.stop()

    return undo
