"""SageMaker whose built-in XGBoost really trains and serves: moto's jobs and endpoints, real xgboost behind them.

moto 5.2.5 reports a training job Completed at once without an artifact, puts endpoints InService at once, lacks
``UpdateEndpoint`` and ``StopTrainingJob`` and answers ``InvokeEndpoint`` with canned bodies. Here, with the engine of
``sandbox.xgboost_engine``:

**Training** (``CreateTrainingJob``): a worker thread per job takes it InProgress through SageMaker's secondary
statuses (Starting, Downloading, Training, Uploading, each in ``SecondaryStatusTransitions``) to Completed, Failed or
Stopped. It reads every object under each channel's ``S3Prefix`` from the sandbox's S3 (``CompressionType`` Gzip
too), trains the ``train`` (and ``validation``) CSV channels, writes ``<S3OutputPath>/<job>/output/model.tar.gz`` and
sets ``ModelArtifacts``, ``FinalMetricDataList`` (``train:auc``, ``validation:auc``, ... of the best iteration when
early stopping is on), ``TrainingStartTime``/``EndTime``, ``TrainingTimeInSeconds`` and ``BillableTimeInSeconds``.
As SageMaker does: a name in use is refused (``ResourceInUse``) and so is a channel prefix without objects
(``ValidationException`` "No S3 objects found under S3 URL ..."); spot training needs ``MaxWaitTimeInSeconds`` >=
``MaxRuntimeInSeconds``; the container's failures end the job Failed with its words (``ClientError: ...`` for
hyperparameters and data, ``AlgorithmError: framework error: ... KeyError: 'SM_CHANNEL_TRAIN'`` without a ``train``
channel, as the 1.x container fails, but without its traceback); ``StopTrainingJob`` goes Stopping -> Stopped;
``MaxRuntimeInSeconds`` (counted from TrainingStartTime) stops the job with SecondaryStatus ``MaxRuntimeExceeded``.
The job's log (the container's lines, one per iteration as ``[3]#011train-auc:0.91234``) goes to CloudWatch Logs
``/aws/sagemaker/TrainingJobs``, stream ``<job>/algo-1-<epoch seconds>``, as it is written, so the provider's operator
prints it; the final metrics also go to CloudWatch (namespace ``/aws/sagemaker/TrainingJobs``, dimension ``Host``).
Not as SageMaker: the image must be the built-in XGBoost's (repository ``sagemaker-xgboost``, any tag) in algorithm
mode; any other image, script mode (``sagemaker_program``), non-S3Prefix data sources and what the engine lacks
(non-CSV data, k-fold) fail the job with a reason that says so, instead of moto's instant Completed. Starting,
Downloading and Uploading last at least ``PHASE_SECONDS`` each. ``InstanceCount`` > 1 trains once, as one host
(``algo-1``). Spot jobs are never interrupted and bill their full time; ``CheckpointConfig`` is accepted, but no
checkpoint is written or resumed from. Only Completed jobs have ``ModelArtifacts``; stopped jobs upload nothing.
``ListTrainingJobs`` stays moto's, which applies ``MaxResults`` before the filters.

**Endpoints**: ``CreateEndpoint`` (an existing name is refused with "Cannot create already existing endpoint")
goes Creating -> InService once every production variant's model (``PrimaryContainer.ModelDataUrl``, a
``model.tar.gz`` in the sandbox's S3) loads with xgboost, or Failed with SageMaker's FailureReason ("Failed to
download model data for container ..." or the ping health check's). ``UpdateEndpoint`` goes Updating -> InService on
the new config when its artifacts load; when they do not, the endpoint returns to InService on the OLD config with
the FailureReason, as SageMaker's rollback does; only an InService endpoint can be updated. Each transition lasts
at least ``TRANSITION_SECONDS``, so waiters and the provider's operators poll. ``DeploymentConfig`` (blue/green,
auto-rollback alarms) is accepted but traffic moves at once and alarms are not evaluated;
``RetainAllVariantProperties`` keeps the current weights and instance counts of variants that stay. Tests make the
next deployment of an endpoint fail with ``FAULTS.fail_next(name)`` (a failed health check), and make a training job
hang past its limit with ``FAULTS.hang_training(name)`` (before creating it). DescribeEndpoint
shows ``ProductionVariants`` (weights, instance counts, deployed image) of the live config and a
``DataCaptureConfig`` summary. ``DeleteEndpoint`` ends a deployment under way.

**InvokeEndpoint** scores ``text/csv`` bodies with the live config's model (each artifact loaded once), picking a
variant by weight (or ``TargetVariant``), and answers one prediction per line, ``text/csv``; the container's 4xx come
back as ``ModelError`` ("Received client error (415) from primary with message ..."), an unknown endpoint as
``ValidationError`` "Endpoint <name> of account <id> not found." (so does one Creating or Failed, which SageMaker
may word otherwise); an endpoint Updating serves its old config. Other content types than ``text/csv`` are
refused as the container refuses them, and ``Accept`` is ignored (CSV always). Each invocation
records ``Invocations``, ``Invocation4XXErrors``, ``Invocation5XXErrors`` and ``ModelLatency`` in ``AWS/SageMaker``
(dimensions ``EndpointName``, ``VariantName``); container errors are logged to ``/aws/sagemaker/Endpoints/<name>``.

**Data capture**: with ``DataCaptureConfig.EnableCapture``, captured invocations become SageMaker's JSON Lines
records (``captureData.endpointInput``/``endpointOutput`` per ``CaptureOptions``, ``eventMetadata.eventId``,
``inferenceTime``, ``inferenceId`` when given, ``eventVersion`` "0"). A content type listed in
``CaptureContentTypeHeader.CsvContentTypes`` (or ``JsonContentTypes``) is captured as text with encoding CSV (JSON);
any other, and every one when the header is absent, as BASE64, as SageMaker does. ``InitialSamplingPercentage``
captures evenly spread invocations (100: all, 50: every second one). Records are buffered per variant and hour and
written to ``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-mmm>-<uuid>.jsonl`` once the oldest is
``CAPTURE_FLUSH_SECONDS`` old (SageMaker: every few minutes), on DeleteEndpoint and when the sandbox stops; a write
that fails (no such bucket) drops its records with a warning, as capture is best-effort.

Stopping the sandbox stops running jobs (Stopped), waits for the workers and writes the buffered captures.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import hashlib
import json
import logging
import math
import random
import re
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.logs.models import logs_backends
from moto.s3.models import s3_backends
from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
from moto.sagemaker.models import FakeEndpoint, FakeTrainingJob, SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse
from moto.utilities.utils import get_partition

from sandbox import xgboost_engine as engine
from sandbox.extensions import SandboxContext, Undo, extension
from sandbox.extensions.lambda_run import put_metrics

log = logging.getLogger("sandbox.sagemaker")

XGBOOST_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/sagemaker-xgboost:[\w.-]+$")
PHASE_SECONDS = 0.5  # how long Starting, Downloading and Uploading last at least, so clients can see them
TRANSITION_SECONDS = 1.0  # how long Creating and Updating last at least
CAPTURE_FLUSH_SECONDS = 2.0  # the age at which buffered capture records are written
POLL_SECONDS = 0.25
JOIN_SECONDS = 30.0
TRAINING_JOBS = "/aws/sagemaker/TrainingJobs"  # the log group and the metric namespace
CHANNEL_PATH = "/opt/ml/input/data/"
CHANNELS = ("train", "validation")
LIVE_STATUSES = frozenset({"InService", "Updating", "SystemUpdating"})  # an endpoint that serves
S3_URI = re.compile(r"^s3://(?P<bucket>[^/]+)/?(?P<key>.*)$")
RETAINED = ("CurrentWeight", "DesiredWeight", "CurrentInstanceCount", "DesiredInstanceCount")
_MISSING = object()


class ModelError(ServiceException):
    """InvokeEndpoint's answer when the container answers 4xx/5xx (HTTP 424)."""

    code = "ModelError"

    def __init__(self, status: int, message: str, endpoint: str, account: str, region: str) -> None:
        kind = "client" if status < 500 else "server"
        group = f"/aws/sagemaker/Endpoints/{endpoint}"
        console = (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logEventViewer:group={group}"
        )
        super().__init__(
            f'Received {kind} error ({status}) from primary with message "{message}". '
            f"See {console} in account {account} for more information."
        )
        self.OriginalStatusCode = status
        self.OriginalMessage = message
        self.LogStreamArn = f"arn:aws:logs:{region}:{account}:log-group:{group}"


class RuntimeValidationError(ServiceException):
    code = "ValidationError"


class DeploymentError(Exception):
    """Why an endpoint's config cannot serve; the message becomes the endpoint's FailureReason."""


class Interrupted(Exception):
    """A training job ends before its time: Stopped, with this SecondaryStatus and message."""

    def __init__(self, secondary: str, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.secondary = secondary
        self.message = message
        self.reason = reason


# -- the sandbox's S3 and CloudWatch Logs, in-process -----------------------------------------------------------


def _split(uri: str) -> tuple[str, str]:
    match = S3_URI.match(uri or "")
    if not match:
        raise engine.Unsupported(f"{uri!r} is not an s3:// URI.")
    return match["bucket"], match["key"]


def _s3(account: str, region: str) -> Any:
    return s3_backends[account][get_partition(region)]


def s3_objects(account: str, region: str, uri: str) -> list[Any]:
    """Every object whose key starts with the URI's key (S3Prefix semantics); none when the bucket is missing."""
    bucket, prefix = _split(uri)
    backend = _s3(account, region)
    try:
        keys, _, _, _ = backend.list_objects(backend.get_bucket(bucket), prefix, None, None, None)
    except Exception:  # MissingBucket and the like: nothing there for SageMaker either
        return []
    return [key for key in keys if not key.name.endswith("/")]


def s3_read(account: str, region: str, uri: str) -> Any | None:
    """The object (moto's FakeKey) at a URI, or None."""
    bucket, key = _split(uri)
    try:
        return _s3(account, region).get_object(bucket, key)
    except Exception:
        return None


def write_log(account: str, region: str, group: str, stream: str, lines: list[str]) -> None:
    """Append lines to a CloudWatch Logs stream, creating group and stream as the service does."""
    backend = logs_backends[account][region]
    with _LOGS_LOCK:
        backend.ensure_log_group(group)
        if stream not in backend.groups[group].streams:
            backend.create_log_stream(group, stream)
        stamp = int(time.time() * 1000)
        backend.put_log_events(group, stream, [{"timestamp": stamp, "message": line} for line in lines])


_LOGS_LOCK = threading.Lock()  # moto's log streams are not thread-safe


def _patch(members: dict[tuple[type, str], Any]) -> Undo:
    """Set class members (new ones too); the undo restores or removes them."""
    originals = {(owner, name): owner.__dict__.get(name, _MISSING) for owner, name in members}
    for (owner, name), member in members.items():
        setattr(owner, name, member)

    def restore() -> None:
        for (owner, name), member in originals.items():
            if member is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, member)

    return restore


# -- training jobs -----------------------------------------------------------------------------------------------


class TrainingJobs:
    """A worker thread per training job; the lock guards every job's state."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self._stop_requested: dict[str, float] = {}  # ARN -> when StopTrainingJob asked (monotonic seconds)
        self._threads: list[threading.Thread] = []

    def launch(self, backend: SageMakerModelBackend, job: FakeTrainingJob) -> None:
        """Take over a job moto just created: InProgress, Starting, nothing reported yet; start its worker."""
        with self.lock:
            now = utcnow()
            job.training_job_status = "InProgress"
            job.secondary_status = "Starting"
            job.secondary_status_transitions = [
                {"Status": "Starting", "StartTime": now, "StatusMessage": "Launching requested ML instances"}
            ]
            job.training_start_time = job.training_end_time = job.model_artifacts = None
            job.final_metric_data_list = []
            job.failure_reason = job.training_time_in_seconds = job.billable_time_in_seconds = None
            job.algorithm_specification = {**job.algorithm_specification, "MetricDefinitions": []}
            run = TrainingRun(self, backend.account_id, backend.region_name, job)
            worker = threading.Thread(target=run.execute, name=f"sandbox-sagemaker-{job.training_job_name}")
            worker.daemon = True
            self._threads = [thread for thread in self._threads if thread.is_alive()] + [worker]
        worker.start()

    def stop_job(self, job: FakeTrainingJob) -> None:
        """StopTrainingJob: Stopping now, Stopped when the worker notices (after the current iteration)."""
        with self.lock:
            if job.training_job_status != "InProgress":
                raise ValidationError(
                    f"The request was rejected because the training job is in status {job.training_job_status}."
                )
            self._stop_requested[job.arn] = time.monotonic()
            job.training_job_status = "Stopping"
            transition(job, "Stopping", "Stopping the training job")

    def stop_requested(self, job: FakeTrainingJob) -> float | None:
        """When StopTrainingJob asked to stop the job, or None."""
        return self._stop_requested.get(job.arn)

    def stop(self) -> None:
        """Stop every job (Stopped), wait for the workers."""
        self.stopping.set()
        for thread in self._threads:
            thread.join(JOIN_SECONDS)
            if thread.is_alive():
                log.warning("SageMaker training worker %s still runs after %.0f s", thread.name, JOIN_SECONDS)
        self._threads = []


def transition(job: FakeTrainingJob, status: str, message: str, final: bool = False) -> None:
    """Enter a secondary status, ending the previous one (the list is replaced, never changed in place)."""
    now = utcnow()
    previous = [{**item, "EndTime": item.get("EndTime", now)} for item in job.secondary_status_transitions]
    entry = {"Status": status, "StartTime": now, "StatusMessage": message} | ({"EndTime": now} if final else {})
    job.secondary_status = status
    job.secondary_status_transitions = [*previous, entry]
    job.last_modified_time = now


@dataclass
class TrainingRun:
    """One job's life in its worker thread."""

    jobs: TrainingJobs
    account: str
    region: str
    job: FakeTrainingJob
    stream: str = ""
    deadline: float = math.inf

    def execute(self) -> None:
        job = self.job
        try:
            self._pause()
            self._phase("Downloading", "Downloading input data", started=True)
            data = {channel["ChannelName"]: self._download(channel) for channel in job.input_data_config or []}
            self._pause()
            self._phase("Training", "Training image download completed. Training in progress.")
            if FAULTS.hangs(job.training_job_name):
                self.deadline = math.inf
                while True:
                    self._pause()
            trained = self._train(data)
            self._phase("Uploading", "Uploading generated training model")
            self._pause()
            self._upload(trained)
            self._end("Completed", "Completed", "Training job completed")
        except Interrupted as stop:
            self._log(f"Training stopped: {stop.message}")
            asked = self.jobs.stop_requested(job)
            if asked is not None:  # Stopping lasts a moment, as on SageMaker
                self.jobs.stopping.wait(max(0.0, asked + PHASE_SECONDS - time.monotonic()))
            self._end("Stopped", stop.secondary, stop.message, stop.reason)
        except (engine.UserError, engine.AlgorithmError, engine.Unsupported) as error:
            prefix = {engine.UserError: "ClientError: ", engine.AlgorithmError: "AlgorithmError: "}
            reason = prefix.get(type(error), "") + str(error)
            self._log(f"Reporting training FAILURE\n{reason}", "ERROR")
            self._end("Failed", "Failed", "Training job failed", reason)
        except Exception as error:  # a sandbox bug: the job fails, the sandbox goes on
            log.exception("SageMaker training job %s failed in the sandbox", job.training_job_name)
            self._end("Failed", "Failed", "Training job failed", f"InternalServerError: sandbox failure: {error}")

    # -- phases ------------------------------------------------------------------------------------
    def _phase(self, status: str, message: str, started: bool = False) -> None:
        with self.jobs.lock:
            self._check()
            if started:
                self.job.training_start_time = utcnow()
                limit = (self.job.stopping_condition or {}).get("MaxRuntimeInSeconds", 86400)
                self.deadline = time.monotonic() + float(limit)
            transition(self.job, status, message)

    def _pause(self) -> None:
        """Let the current secondary status be seen; a stop request ends the job meanwhile."""
        end = time.monotonic() + PHASE_SECONDS
        while (left := end - time.monotonic()) > 0:
            self._check()
            self.jobs.stopping.wait(min(left, POLL_SECONDS))
        self._check()

    def _check(self) -> None:
        """Raise Interrupted when the job must stop: StopTrainingJob, MaxRuntimeInSeconds, the sandbox stopping."""
        if self.jobs.stopping.is_set():
            raise Interrupted("Stopped", "Training job stopped", "The sandbox stopped while the job ran.")
        if self.jobs.stop_requested(self.job) is not None:
            raise Interrupted("Stopped", "Training job stopped")
        if time.monotonic() > self.deadline:
            limit = self.job.stopping_condition["MaxRuntimeInSeconds"]
            message = f"Training job stopped because it exceeded its MaxRuntimeInSeconds ({limit} s)."
            raise Interrupted("MaxRuntimeExceeded", message, message)

    def _end(self, status: str, secondary: str, message: str, reason: str | None = None) -> None:
        with self.jobs.lock:
            job = self.job
            transition(job, secondary, message, final=True)
            job.training_job_status = status
            job.failure_reason = reason
            job.training_end_time = job.last_modified_time
            if job.training_start_time is not None:
                seconds = max(1, math.ceil((job.training_end_time - job.training_start_time).total_seconds()))
                job.training_time_in_seconds = seconds
                job.billable_time_in_seconds = seconds * int((job.resource_config or {}).get("InstanceCount", 1))

    # -- work --------------------------------------------------------------------------------------
    def _download(self, channel: dict[str, Any]) -> list[tuple[str, bytes]]:
        """A channel's objects as (URI, bytes), decompressed; data sources the sandbox lacks are refused."""
        source = (channel.get("DataSource") or {}).get("S3DataSource")
        name = channel["ChannelName"]
        if not source or source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise engine.Unsupported(f"The sandbox reads S3Prefix data sources only (channel '{name}').")
        if channel.get("RecordWrapperType", "None") != "None":
            raise engine.Unsupported(f"The sandbox does not read RecordIO-wrapped channels (channel '{name}').")
        bucket, _ = _split(source["S3Uri"])
        files = []
        for key in s3_objects(self.account, self.region, source["S3Uri"]):
            if key.name.rsplit("/", 1)[-1].startswith("."):
                raise engine.UserError("Hidden file found in the data path! Remove that before training.")
            data = key.value
            if channel.get("CompressionType") == "Gzip":
                data = gzip.decompress(data)
            files.append((f"s3://{bucket}/{key.name}", data))
        return files

    def _train(self, data: dict[str, list[tuple[str, bytes]]]) -> engine.Trained:
        job = self.job
        image = job.algorithm_specification.get("TrainingImage") or ""
        hyperparameters = dict(job.hyper_parameters or {})
        if not XGBOOST_IMAGE.match(image):
            raise engine.Unsupported(
                f"The sandbox trains SageMaker's built-in XGBoost image only (repository sagemaker-xgboost); "
                f"this job's image is {image or job.algorithm_specification.get('AlgorithmName')!r}."
            )
        if "sagemaker_program" in hyperparameters or "code" in data:
            raise engine.Unsupported("The sandbox runs the XGBoost image in algorithm mode only, not script mode.")
        self._log("Imported framework sagemaker_xgboost_container.training")
        self._log("Running XGBoost Sagemaker in algorithm mode")
        if "train" not in data:
            raise engine.AlgorithmError(
                "framework error: \nKeyError: 'SM_CHANNEL_TRAIN'\n\n'SM_CHANNEL_TRAIN', exit code: 1"
            )
        config = engine.training_config(hyperparameters)
        channels = {channel["ChannelName"]: channel for channel in job.input_data_config}
        for name, channel in channels.items():
            if name not in CHANNELS:
                raise engine.UserError(f"Extraneous channel found: {name}")
            engine.check_content_type(name, channel.get("ContentType"))
        self._log("Determined delimiter of CSV input is ','")
        matrices = {
            name: engine.read_csv(files, config.csv_weights if name == "train" else 0) for name, files in data.items()
        }
        for name, matrix in matrices.items():
            if matrix is None:
                kind = "training" if name == "train" else "validation"
                raise engine.UserError(f"No data in {kind} channel path {CHANNEL_PATH}{name}")
        self._log("Single node training.")
        self._log(f"Train matrix has {matrices['train'].num_row()} rows and {matrices['train'].num_col()} columns")
        if "validation" in matrices:
            self._log(f"Validation matrix has {matrices['validation'].num_row()} rows")
        trained = engine.train(config, matrices["train"], matrices.get("validation"), self._log_raw, self._must_stop)
        if trained.booster is None:
            self._check()  # raises what stopped it
        return trained

    def _must_stop(self) -> bool:
        try:
            self._check()
        except Interrupted:
            return True
        return False

    def _upload(self, trained: engine.Trained) -> None:
        job = self.job
        uri = "/".join([job.output_data_config["S3OutputPath"].rstrip("/"), job.training_job_name, "output"])
        bucket, key = _split(f"{uri}/model.tar.gz")
        try:
            _s3(self.account, self.region).put_object(bucket, key, engine.artifact(trained.booster))
        except Exception as error:
            raise engine.UserError(f"Failed to upload the model to s3://{bucket}/{key}: {error}") from None
        now = utcnow()
        metrics = [{"MetricName": name, "Value": value, "Timestamp": now} for name, value in trained.metrics.items()]
        with self.jobs.lock:
            job.model_artifacts = {"S3ModelArtifacts": f"s3://{bucket}/{key}"}
            job.final_metric_data_list = metrics
            job.algorithm_specification = {
                **job.algorithm_specification,
                "MetricDefinitions": [metric_definition(name) for name in trained.metrics],
            }
        values = {name: (value, "None") for name, value in trained.metrics.items()}
        put_metrics(self.account, self.region, TRAINING_JOBS, {"Host": f"{job.training_job_name}/algo-1"}, values)

    # -- the job's log -----------------------------------------------------------------------------
    def _log(self, message: str, level: str = "INFO") -> None:
        self._log_raw(f"[{datetime.datetime.now(datetime.UTC):%Y-%m-%d:%H:%M:%S}:{level}] {message}")

    def _log_raw(self, line: str) -> None:
        if not self.stream:
            self.stream = f"{self.job.training_job_name}/algo-1-{int(time.time())}"
        write_log(self.account, self.region, TRAINING_JOBS, self.stream, line.splitlines())


def metric_definition(name: str) -> dict[str, str]:
    """The regex SageMaker's built-in XGBoost declares for a metric such as ``validation:auc``."""
    data, metric = name.split(":", 1)
    number = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
    return {"Name": name, "Regex": rf".*\[[0-9]+\].*#011{data}-{re.escape(metric)}:{number}.*"}


def _check_new_job(backend: SageMakerModelBackend, request: dict[str, Any]) -> None:
    """What CreateTrainingJob itself refuses: a name in use, a prefix without objects, spot without a wait time."""
    name = request["training_job_name"]
    if name in backend.training_jobs:
        arn = FakeTrainingJob.arn_formatter(name, backend.account_id, backend.region_name)
        raise ResourceInUseException(
            "Training job names must be unique within an AWS account and region, and a training job with this name "
            f"already exists ({arn})"
        )
    for channel in request.get("input_data_config") or []:
        uri = ((channel.get("DataSource") or {}).get("S3DataSource") or {}).get("S3Uri")
        if S3_URI.match(uri or "") and not s3_objects(backend.account_id, backend.region_name, uri):
            bucket, _ = _split(uri)
            raise ValidationError(
                f'No S3 objects found under S3 URL "{uri}" given in input data source. Please ensure that the bucket '
                f"exists in the selected region ({backend.region_name}), that objects exist under that S3 prefix, "
                f'and that the role "{request.get("role_arn")}" has "s3:ListBucket" permissions on bucket "{bucket}".'
            )
    stopping = request.get("stopping_condition") or {}
    runtime = stopping.get("MaxRuntimeInSeconds", 86400)
    if request.get("enable_managed_spot_training") and stopping.get("MaxWaitTimeInSeconds", 0) < runtime:
        raise ValidationError(
            "Invalid MaxWaitTimeInSeconds. It must be present and be greater than or equal to MaxRuntimeInSeconds"
        )


# -- endpoints ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """A production variant that serves, and the booster of its model."""

    name: str
    booster: Any


@dataclass(frozen=True)
class Live:
    """What an endpoint serves: its config's variants and data capture."""

    variants: tuple[Variant, ...]
    capture: dict[str, Any]


class Faults:
    """A test's switches: the next deployment of an endpoint fails, as a failed health check makes it; a training
    job hangs in Training, past its MaxRuntimeInSeconds, until it is stopped (a container that ignores the limit)."""

    HEALTH_CHECK = (
        "The primary container for production variant AllTraffic did not pass the ping health check. "
        "Please check CloudWatch logs for this endpoint."
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, str] = {}
        self._hanging: set[str] = set()

    def fail_next(self, endpoint: str, reason: str = HEALTH_CHECK) -> None:
        with self._lock:
            self._pending[endpoint] = reason

    def take(self, endpoint: str) -> str | None:
        with self._lock:
            return self._pending.pop(endpoint, None)

    def hang_training(self, job: str) -> None:
        with self._lock:
            self._hanging.add(job)

    def hangs(self, job: str) -> bool:
        with self._lock:
            return job in self._hanging


FAULTS = Faults()


class Endpoints:
    """Deployments (a thread each), the live config of every endpoint, the loaded artifacts."""

    def __init__(self, lock: threading.RLock, stopping: threading.Event) -> None:
        self.lock = lock
        self._stopping = stopping
        self._live: dict[str, Live] = {}  # endpoint ARN -> what it serves
        self._boosters: dict[tuple[str, str], Any] = {}  # (ModelDataUrl, ETag) -> booster
        self._threads: list[threading.Thread] = []

    def create(self, backend: SageMakerModelBackend, endpoint: FakeEndpoint) -> None:
        with self.lock:
            endpoint.endpoint_status = "Creating"
            endpoint.production_variants = []
            endpoint.data_capture_config = None
            self._deploy(backend, endpoint, endpoint.endpoint_config_name, retain=False)

    def update(self, backend: SageMakerModelBackend, endpoint: FakeEndpoint, config_name: str, retain: bool) -> None:
        with self.lock:
            if endpoint.endpoint_status != "InService":
                raise ValidationError(f'Cannot update in-progress endpoint "{endpoint.arn}".')
            backend.describe_endpoint_config(config_name)  # ValidationException when it does not exist
            endpoint.endpoint_status = "Updating"
            endpoint.last_modified_time = utcnow()
            self._deploy(backend, endpoint, config_name, retain)

    def delete(self, endpoint: FakeEndpoint) -> None:
        with self.lock:
            self._live.pop(endpoint.arn, None)

    def live(self, endpoint: FakeEndpoint) -> Live | None:
        with self.lock:
            return self._live.get(endpoint.arn)

    def stop(self) -> None:
        """Wait for the deployments, which end at once once the shared ``stopping`` event is set."""
        for thread in self._threads:
            thread.join(JOIN_SECONDS)
        self._threads = []

    def _deploy(self, backend: SageMakerModelBackend, endpoint: FakeEndpoint, config_name: str, retain: bool) -> None:
        worker = threading.Thread(
            target=self._run,
            args=(backend, endpoint, config_name, retain, time.monotonic() + TRANSITION_SECONDS),
            name=f"sandbox-sagemaker-endpoint-{endpoint.endpoint_name}",
            daemon=True,
        )
        self._threads = [thread for thread in self._threads if thread.is_alive()] + [worker]
        worker.start()

    def _run(
        self, backend: SageMakerModelBackend, endpoint: FakeEndpoint, config_name: str, retain: bool, until: float
    ) -> None:
        """Load the config's artifacts, then switch the endpoint to it, or fail / roll back with the reason."""
        config = backend.endpoint_configs.get(config_name)
        try:
            if config is None:
                raise DeploymentError(f"The endpoint configuration {config_name} was deleted during the deployment.")
            if fault := FAULTS.take(endpoint.endpoint_name):
                raise DeploymentError(fault)
            boosters = {v["VariantName"]: self._booster(backend, endpoint, v) for v in config.production_variants}
            failure = None
        except DeploymentError as error:
            failure = str(error)
        self._stopping.wait(max(0.0, until - time.monotonic()))
        with self.lock:
            if backend.endpoints.get(endpoint.endpoint_name) is not endpoint:
                return  # deleted meanwhile
            endpoint.last_modified_time = utcnow()
            endpoint.failure_reason = failure
            if failure is None:
                current = {v["VariantName"]: v for v in endpoint.production_variants} if retain else {}
                summaries = [variant_summary(backend, v, current) for v in config.production_variants]
                variants = tuple(Variant(name, booster) for name, booster in boosters.items())
                self._live[endpoint.arn] = Live(variants, config.data_capture_config or {})
                endpoint.production_variants = summaries
                endpoint.endpoint_config_name = config_name
                endpoint.data_capture_config = capture_summary(config.data_capture_config)
            endpoint.endpoint_status = "InService" if endpoint.arn in self._live else "Failed"

    def _booster(self, backend: SageMakerModelBackend, endpoint: FakeEndpoint, variant: dict[str, Any]) -> Any:
        """A variant's booster, from its model's artifact; DeploymentError with SageMaker's FailureReason otherwise."""
        model = backend._models.get(variant["ModelName"])
        if model is None:
            raise DeploymentError(f'Could not find model "{variant["ModelName"]}".')
        container = model.primary_container or (model.containers or [{}])[0]
        image = container.get("Image") or ""
        if not XGBOOST_IMAGE.match(image) or len(model.containers or []) > 1:
            raise DeploymentError(
                "The sandbox serves SageMaker's built-in XGBoost image only, one container per model; "
                f"model {model.model_name} has {image!r}."
            )
        url = container.get("ModelDataUrl") or ""
        key = s3_read(backend.account_id, backend.region_name, url) if url.startswith("s3://") else None
        if key is None:
            raise DeploymentError(
                f'Failed to download model data for container "container_1" from URL: "{url}". Please ensure that '
                "there is an object located at the URL and that the role passed to CreateModel has permissions to "
                "download the object."
            )
        with self.lock:
            cached = self._boosters.get((url, key.etag))
        if cached is not None:
            return cached
        try:
            booster = engine.load_artifact(key.value)
        except ValueError as error:
            group = f"/aws/sagemaker/Endpoints/{endpoint.endpoint_name}"
            write_log(
                backend.account_id,
                backend.region_name,
                group,
                f"{variant['VariantName']}/i-sandbox",
                [f"Unable to load model: {error}"],
            )
            raise DeploymentError(
                f"The primary container for production variant {variant['VariantName']} did not pass the ping "
                "health check. Please check CloudWatch logs for this endpoint."
            ) from None
        with self.lock:
            return self._boosters.setdefault((url, key.etag), booster)


def variant_summary(
    backend: SageMakerModelBackend, variant: dict[str, Any], retained: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """DescribeEndpoint's ProductionVariantSummary of a config's variant (retained: the current one's settings)."""
    model = backend._models[variant["ModelName"]]
    image = (model.primary_container or {}).get("Image", "")
    digest = hashlib.sha256(image.encode()).hexdigest()
    weight = float(variant.get("InitialVariantWeight", 1.0))
    summary: dict[str, Any] = {
        "VariantName": variant["VariantName"],
        "DeployedImages": [{"SpecifiedImage": image, "ResolvedImage": f"{image.split(':')[0]}@sha256:{digest}"}],
        "CurrentWeight": weight,
        "DesiredWeight": weight,
    }
    if "InitialInstanceCount" in variant:
        summary["CurrentInstanceCount"] = summary["DesiredInstanceCount"] = variant["InitialInstanceCount"]
    if "ServerlessConfig" in variant:
        summary["CurrentServerlessConfig"] = summary["DesiredServerlessConfig"] = variant["ServerlessConfig"]
    kept = retained.get(variant["VariantName"], {})
    return summary | {name: kept[name] for name in RETAINED if name in kept}


def capture_summary(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """DescribeEndpoint's DataCaptureConfigSummary."""
    if not config:
        return None
    enabled = bool(config.get("EnableCapture", True))
    summary = {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": int(config.get("InitialSamplingPercentage", 0)),
        "DestinationS3Uri": config.get("DestinationS3Uri", ""),
    }
    return summary | ({"KmsKeyId": config["KmsKeyId"]} if config.get("KmsKeyId") else {})


# -- invocations and data capture --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """One scored invocation, as data capture records it."""

    account: str
    region: str
    endpoint: str
    variant: str
    request: bytes
    content_type: str
    response: bytes
    inference_id: str | None


@dataclass
class CaptureFile:
    """Records waiting to become one ``.jsonl`` object."""

    bucket: str
    key: str
    account: str
    region: str
    since: float
    lines: list[str] = field(default_factory=list)


class Captures:
    """Data-capture records: sampled, buffered per destination, variant and hour, written by a flusher thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[tuple[str, str, str], CaptureFile] = {}  # (bucket, hour prefix, account) -> file
        self._counts: dict[str, int] = {}  # endpoint ARN -> invocations seen
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-sagemaker-capture", daemon=True)
        self._thread.start()

    def record(self, endpoint_arn: str, config: dict[str, Any], exchange: Exchange) -> None:
        """Buffer the invocation's record when the endpoint's DataCaptureConfig samples it."""
        if not config.get("EnableCapture", True) or not S3_URI.match(config.get("DestinationS3Uri") or ""):
            return
        percentage = float(config.get("InitialSamplingPercentage", 0))
        with self._lock:
            n = self._counts[endpoint_arn] = self._counts.get(endpoint_arn, 0) + 1
        if math.floor(n * percentage / 100) == math.floor((n - 1) * percentage / 100):
            return
        modes = {option.get("CaptureMode") for option in config.get("CaptureOptions") or []}
        headers = config.get("CaptureContentTypeHeader") or {}
        data: dict[str, Any] = {}
        if modes & {"Input", "InputAndOutput"}:
            data["endpointInput"] = capture_part("INPUT", exchange.request, exchange.content_type, headers)
        if modes & {"Output", "InputAndOutput"}:
            data["endpointOutput"] = capture_part("OUTPUT", exchange.response, "text/csv", headers)
        now = datetime.datetime.now(datetime.UTC)
        metadata = {"eventId": str(uuid.uuid4()), "inferenceTime": f"{now:%Y-%m-%dT%H:%M:%SZ}"}
        if exchange.inference_id:
            metadata["inferenceId"] = exchange.inference_id
        line = json.dumps({"captureData": data, "eventMetadata": metadata, "eventVersion": "0"}, separators=(",", ":"))
        bucket, prefix = _split(config["DestinationS3Uri"])
        parts = (prefix.strip("/"), exchange.endpoint, exchange.variant, f"{now:%Y/%m/%d/%H}")
        hour = "/".join(part for part in parts if part)
        with self._lock:
            name = f"{hour}/{now:%M-%S}-{now.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
            new = CaptureFile(bucket, name, exchange.account, exchange.region, time.monotonic())
            self._files.setdefault((bucket, hour, exchange.account), new).lines.append(line)

    def flush(self, everything: bool = False) -> None:
        """Write the files whose oldest record is CAPTURE_FLUSH_SECONDS old (all of them when ``everything``)."""
        now = time.monotonic()
        with self._lock:
            due = [k for k, f in self._files.items() if everything or now - f.since >= CAPTURE_FLUSH_SECONDS]
            files = [self._files.pop(k) for k in due]
        for file in files:
            body = ("\n".join(file.lines) + "\n").encode()
            try:
                _s3(file.account, file.region).put_object(file.bucket, file.key, body)
            except Exception as error:
                log.warning(
                    "data capture: %d records for s3://%s/%s dropped: %s", len(file.lines), file.bucket, file.key, error
                )

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(JOIN_SECONDS)
        self.flush(everything=True)

    def _run(self) -> None:
        while not self._stopping.wait(POLL_SECONDS):
            try:
                self.flush()
            except Exception:  # a sandbox bug must not end capture for good
                log.exception("data capture flush failed")


def capture_part(mode: str, data: bytes, content_type: str, headers: dict[str, list[str]]) -> dict[str, str]:
    """One side of a capture record: CSV or JSON text when its content type is listed, else BASE64."""
    media_type = content_type.split(";")[0].strip()
    encoding = next(
        (
            kind
            for kind, key in (("CSV", "CsvContentTypes"), ("JSON", "JsonContentTypes"))
            if media_type in (headers.get(key) or [])
        ),
        "BASE64",
    )
    text = None
    if encoding != "BASE64":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            encoding = "BASE64"
    if text is None:
        text = base64.b64encode(data).decode()
    return {"observedContentType": content_type, "mode": mode, "data": text, "encoding": encoding}


class Invocations:
    """InvokeEndpoint on the live config's boosters, with metrics and data capture."""

    def __init__(self, endpoints: Endpoints, captures: Captures) -> None:
        self._endpoints = endpoints
        self._captures = captures

    def invoke(self, account: str, region: str, name: str, body: bytes, headers: Any) -> tuple[bytes, str]:
        """(body, variant) of an invocation; ValidationError or ModelError as SageMaker answers them."""
        endpoint = sagemaker_backends[account][region].endpoints.get(name)
        live = (
            self._endpoints.live(endpoint)
            if endpoint is not None and endpoint.endpoint_status in LIVE_STATUSES
            else None
        )
        if live is None:
            raise RuntimeValidationError(f"Endpoint {name} of account {account} not found.")
        target = headers.get("X-Amzn-SageMaker-Target-Variant")
        if target:
            variant = next((v for v in live.variants if v.name == target), None)
            if variant is None:
                raise RuntimeValidationError(f"Target variant {target} not found for endpoint {name}.")
        else:  # by the current weights (UpdateEndpointWeightsAndCapacities changes them)
            weights = {v["VariantName"]: v.get("CurrentWeight") for v in endpoint.production_variants}
            shares = [1.0 if weights.get(v.name) is None else weights[v.name] for v in live.variants]
            variant = random.choices(live.variants, weights=shares)[0]
        content_type = headers.get("Content-Type") or "application/octet-stream"
        started = time.perf_counter()
        try:
            answer = engine.score(variant.booster, body, content_type)
        except engine.PayloadError as error:
            self._metrics(account, region, name, variant.name, started, error.status)
            group = f"/aws/sagemaker/Endpoints/{name}"
            write_log(account, region, group, f"{variant.name}/i-sandbox", [error.message])
            raise ModelError(error.status, error.message, name, account, region) from None
        self._metrics(account, region, name, variant.name, started, 200)
        inference_id = headers.get("X-Amzn-SageMaker-Inference-Id")
        exchange = Exchange(account, region, name, variant.name, body, content_type, answer, inference_id)
        self._captures.record(endpoint.arn, live.capture, exchange)
        return answer, variant.name

    @staticmethod
    def _metrics(account: str, region: str, name: str, variant: str, started: float, status: int) -> None:
        values = {
            "Invocations": (1, "Count"),
            "Invocation4XXErrors": (int(400 <= status < 500), "Count"),
            "Invocation5XXErrors": (int(status >= 500), "Count"),
            "ModelLatency": ((time.perf_counter() - started) * 1e6, "Microseconds"),
        }
        put_metrics(account, region, "AWS/SageMaker", {"EndpointName": name, "VariantName": variant}, values)


# -- the patches -------------------------------------------------------------------------------------------------


def _backend_members(jobs: TrainingJobs, endpoints: Endpoints, captures: Captures) -> dict[tuple[type, str], Any]:
    """Replacements and additions on SageMakerModelBackend, each calling moto's original where moto is right."""
    create_training_job = SageMakerModelBackend.create_training_job
    create_endpoint = SageMakerModelBackend.create_endpoint
    delete_endpoint = SageMakerModelBackend.delete_endpoint
    create_model = SageMakerModelBackend.create_model
    create_endpoint_config = SageMakerModelBackend.create_endpoint_config

    def create_new_model(backend: SageMakerModelBackend, model_name: str, *args: Any, **kwargs: Any) -> Any:
        if model_name in backend._models:  # moto overwrites; SageMaker refuses a name in use
            raise ValidationError(f'Cannot create already existing model "{backend._models[model_name].arn}".')
        return create_model(backend, model_name, *args, **kwargs)

    def create_new_endpoint_config(backend: SageMakerModelBackend, endpoint_config_name: str, *args: Any, **kw: Any):
        if endpoint_config_name in backend.endpoint_configs:  # as above
            arn = backend.endpoint_configs[endpoint_config_name].endpoint_config_arn
            raise ValidationError(f'Cannot create already existing endpoint configuration "{arn}".')
        return create_endpoint_config(backend, endpoint_config_name, *args, **kw)

    def create_training_job_and_run(backend: SageMakerModelBackend, **request: Any) -> FakeTrainingJob:
        _check_new_job(backend, request)
        job = create_training_job(backend, **request)
        jobs.launch(backend, job)
        return job

    def stop_training_job(backend: SageMakerModelBackend, training_job_name: str) -> None:
        backend.describe_training_job(training_job_name)  # ValidationException when it does not exist
        jobs.stop_job(backend.training_jobs[training_job_name])

    def create_endpoint_and_deploy(
        backend: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str, tags: list
    ) -> FakeEndpoint:
        if endpoint_name in backend.endpoints:
            arn = FakeEndpoint.arn_formatter(endpoint_name, backend.account_id, backend.region_name)
            raise ValidationError(f'Cannot create already existing endpoint "{arn}".')
        endpoint = create_endpoint(backend, endpoint_name, endpoint_config_name, tags)
        endpoints.create(backend, endpoint)
        return endpoint

    def update_endpoint(
        backend: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str, retain: bool
    ) -> str:
        backend.describe_endpoint(endpoint_name)  # ValidationException when it does not exist
        endpoint = backend.endpoints[endpoint_name]
        endpoints.update(backend, endpoint, endpoint_config_name, retain)
        return endpoint.arn

    def delete_endpoint_and_flush(backend: SageMakerModelBackend, endpoint_name: str) -> None:
        endpoint = backend.endpoints.get(endpoint_name)
        delete_endpoint(backend, endpoint_name)
        if endpoint is not None:
            endpoints.delete(endpoint)
            captures.flush(everything=True)

    return {
        (SageMakerModelBackend, "create_training_job"): create_training_job_and_run,
        (SageMakerModelBackend, "stop_training_job"): stop_training_job,
        (SageMakerModelBackend, "create_endpoint"): create_endpoint_and_deploy,
        (SageMakerModelBackend, "update_endpoint"): update_endpoint,
        (SageMakerModelBackend, "delete_endpoint"): delete_endpoint_and_flush,
        (SageMakerModelBackend, "create_model"): create_new_model,
        (SageMakerModelBackend, "create_endpoint_config"): create_new_endpoint_config,
    }


def _response_members(invocations: Invocations) -> dict[tuple[type, str], Any]:
    """Handlers the server dispatches to by action name: StopTrainingJob, UpdateEndpoint, InvokeEndpoint."""

    def stop_training_job(response: SageMakerResponse) -> EmptyResult:
        response.sagemaker_backend.stop_training_job(response._get_param("TrainingJobName"))
        return EmptyResult()

    def update_endpoint(response: SageMakerResponse) -> ActionResult:
        arn = response.sagemaker_backend.update_endpoint(
            response._get_param("EndpointName"),
            response._get_param("EndpointConfigName"),
            bool(response._get_param("RetainAllVariantProperties", False)),
        )
        return ActionResult({"EndpointArn": arn})

    def invoke_endpoint(response: SageMakerRuntimeResponse) -> tuple[int, dict[str, str], bytes]:
        name = urllib.parse.unquote(response.path.split("/")[2])  # /endpoints/<name>/invocations
        body, variant = invocations.invoke(
            response.current_account, response.region, name, response.raw_body or b"", response.headers
        )
        return 200, {"Content-Type": "text/csv", "x-Amzn-Invoked-Production-Variant": variant}, body

    return {
        (SageMakerResponse, "stop_training_job"): stop_training_job,
        (SageMakerResponse, "update_endpoint"): update_endpoint,
        (SageMakerRuntimeResponse, "invoke_endpoint"): invoke_endpoint,
    }


@extension("sagemaker")
def sagemaker_runs_xgboost(context: SandboxContext) -> Undo:
    """Patch moto's SageMaker to train and serve XGBoost; the undo stops the workers, writes captures, restores moto."""
    jobs = TrainingJobs()
    endpoints = Endpoints(jobs.lock, jobs.stopping)
    captures = Captures()
    restore = _patch(_backend_members(jobs, endpoints, captures) | _response_members(Invocations(endpoints, captures)))

    def undo() -> None:
        jobs.stop()
        endpoints.stop()
        captures.stop()
        restore()

    return undo
