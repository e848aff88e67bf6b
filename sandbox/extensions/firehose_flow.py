"""Kinesis that records CloudWatch metrics, and Firehose that delivers a Kinesis source to S3 through its Lambda.

**Kinesis** (extension ``kinesis_metrics``). Puts and gets record in moto's CloudWatch (``AWS/Kinesis``, dimension
``StreamName``): ``IncomingBytes``/``IncomingRecords`` (moto's own), ``PutRecord.Bytes``/``.Success``,
``PutRecords.Bytes``/``.TotalRecords``/``.SuccessfulRecords``/``.Success``, ``WriteProvisionedThroughputExceeded``
and, per GetRecords call that returns records, ``GetRecords.Bytes``/``.Records``/``.IteratorAgeMilliseconds``/
``.Success``. Not as Kinesis: records beyond a shard's 1 MiB or 1,000 records in a second are counted in
``WriteProvisionedThroughputExceeded`` but accepted; empty GetRecords calls record nothing. A lock serialises
moto's shard updates, which are not thread-safe.

**Firehose** (extension ``stream_delivery``). The DirectPut path stays moto's (each ``PutRecordBatch`` written at
once, no processor). A ``KinesisStreamAsSource`` delivery stream gets a worker thread that, as Firehose does:

- reads each shard from where it stood at ``CreateDeliveryStream`` (LATEST), shards added later from their start;
- buffers for the ``ProcessingConfiguration`` Lambda (processor ``BufferSizeInMBs``/``BufferIntervalInSeconds``,
  defaults 1 and 60) and invokes it, in-process, with Firehose's transformation event. The response must name
  every ``recordId`` once, as ``Ok``, ``Dropped`` or ``ProcessingFailed``. A failed invocation (function error or
  timeout ``Lambda.FunctionError``, ``Lambda.JsonProcessingException``, ``Lambda.DuplicatedRecordId``,
  ``Lambda.MissingRecordId``, a missing function ``Lambda.ResourceNotFound``) is retried at once
  ``NumberOfRetries`` times (default 3), then its whole batch goes to the error output; so do ``ProcessingFailed``
  records (``Lambda.ProcessingFailedStatus``);
- buffers by ``BufferingHints`` (defaults 5 MiB, 300 s; Firehose allows 0 s) and writes the records concatenated
  to ``<prefix><stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>`` (``.gz`` with GZIP). ``!{timestamp:...}`` (yyyy,
  yy, MM, dd, HH, mm, ss, 'text') and ``!{firehose:random-string}`` are evaluated at the oldest record's arrival
  (``CustomTimeZone`` or UTC); a prefix without expressions gets ``yyyy/MM/dd/HH/`` appended;
- writes failures as JSON lines in Firehose's processing-failed format under ``ErrorOutputPrefix``
  (``!{firehose:error-output-type}`` is ``processing-failed``; without expressions ``processing-failed/yyyy/MM/
  dd/HH/`` is appended), compressed as the data is;
- retries an S3 write that fails every cycle (Firehose retries for up to 24 hours);
- records ``AWS/Firehose`` metrics (dimension ``DeliveryStreamName``): ``DataReadFromKinesisStream.Records``/
  ``.Bytes``, ``ExecuteProcessing.Success``/``.Duration``, ``SucceedProcessing.Records``/``.Bytes``,
  ``DeliveryToS3.Success``/``.Records``/``.Bytes``/``.DataFreshness``.

For a Kinesis source, what the sandbox lacks is refused with ``InvalidArgumentException``: destinations other
than S3, compression other than GZIP, format conversion, dynamic partitioning, S3 backup, non-Lambda processors.
An ``UpdateDestination`` applies from the next cycle (one to something unsupported pauses the worker; the records
wait in the stream). ``PutRecord(Batch)`` is refused, as Firehose refuses it. Deleting the delivery stream or
stopping the sandbox ends its worker once a processor invocation under way returns (both wait up to 30 s for it;
at stop the Lambda extension then kills it); the records it buffered are lost.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import gzip
import inspect
import json
import logging
import random
import re
import string
import threading
import time
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda.utils import get_backend as lambda_backend
from moto.core.exceptions import JsonRESTError
from moto.firehose.exceptions import InvalidArgumentException
from moto.firehose.models import DeliveryStream, FirehoseBackend, firehose_backends
from moto.kinesis.exceptions import ResourceNotFoundError
from moto.kinesis.models import KinesisBackend, kinesis_backends
from moto.kinesis.utils import decompose_shard_iterator
from moto.s3.models import s3_backends
from moto.utilities.utils import get_partition

from sandbox.extensions import SandboxContext, Undo, extension
from sandbox.extensions.lambda_run import put_metrics

log = logging.getLogger("sandbox.firehose")

MIB = 1024 * 1024
SHARD_WRITE_BYTES = MIB  # a shard takes 1 MiB/s and 1,000 records/s of writes
SHARD_WRITE_RECORDS = 1000
POLL_SECONDS = 0.5
JOIN_SECONDS = 30.0
READ_LIMIT = 10_000  # GetRecords' maximum
DEFAULT_HINTS = {"SizeInMBs": 5, "IntervalInSeconds": 300}
PROCESSOR_DEFAULTS = {"NumberOfRetries": "3", "BufferSizeInMBs": "1", "BufferIntervalInSeconds": "60"}
COMPRESSION = {"UNCOMPRESSED": "", "GZIP": ".gz"}  # supported formats and their file extensions
RESULTS = frozenset({"Ok", "Dropped", "ProcessingFailed"})
LAMBDA_ARN = re.compile(r"^arn:[\w-]+:lambda:([\w-]+):(\d{12}):function:[\w-]+(:[\w$-]+)?$")
EXPRESSION = re.compile(r"!\{([^:}]+):([^}]*)\}")
JAVA_TIME = re.compile(r"yyyy|yy|MM|dd|HH|mm|ss|'[^']*'")
STRFTIME = {"yyyy": "%Y", "yy": "%y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
MESSAGES = {
    "Lambda.FunctionError": "The Lambda function was successfully invoked but it returned an error result.",
    "Lambda.JsonProcessingException": "There was an error parsing returned records from the Lambda function. "
    "Ensure that the returned records follow the status model required by Firehose.",
    "Lambda.DuplicatedRecordId": "Multiple records were returned with the same record Id. "
    "Ensure that the Lambda function returns unique record Ids for each record.",
    "Lambda.MissingRecordId": "One or more record Ids were not returned. "
    "Ensure that the Lambda function returns all received record Ids.",
    "Lambda.ProcessingFailedStatus": "ProcessingFailed status set for record",
}
FAILED_STATUS = "Lambda.ProcessingFailedStatus"  # the error code of the records a processor marks ProcessingFailed

_KINESIS_LOCK = threading.RLock()  # moto's shards are not thread-safe: writes and reads take turns


def _millis(seconds: float) -> int:
    return int(seconds * 1000)


# -- Kinesis: CloudWatch metrics ---------------------------------------------------------------------


class WriteRates:
    """Bytes and records written to each shard in the current second."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str], tuple[int, int, int]] = {}  # (stream ARN, shard) -> second, bytes, n

    def over_limit(self, stream_arn: str, shard_id: str, size: int, second: int) -> bool:
        """Count one record written in ``second``; whether it takes the shard beyond its per-second write limits."""
        start, size_so_far, count = self._windows.get((stream_arn, shard_id), (second, 0, 0))
        if start != second:
            size_so_far, count = 0, 0
        self._windows[(stream_arn, shard_id)] = (second, size_so_far + size, count + 1)
        return size_so_far + size > SHARD_WRITE_BYTES or count + 1 > SHARD_WRITE_RECORDS


def _record_size(data: str, partition_key: str) -> int:
    """What a record counts against a shard's limits: its data (base64 on the wire) and partition key."""
    return len(base64.b64decode(data or "")) + len(partition_key or "")


def _stream_metrics(backend: KinesisBackend, stream_name: str, values: dict[str, tuple[float, str]]) -> None:
    put_metrics(backend.account_id, backend.region_name, "AWS/Kinesis", {"StreamName": stream_name}, values)


def _kinesis_members(rates: WriteRates) -> dict[str, Callable[..., Any]]:
    """Replacements of KinesisBackend's put_record, put_records and get_records that record metrics."""
    put_record = KinesisBackend.__dict__["put_record"]
    put_records = KinesisBackend.__dict__["put_records"]
    get_records = KinesisBackend.__dict__["get_records"]

    def put_record_measured(
        backend: KinesisBackend,
        stream_arn: str,
        stream_name: str,
        partition_key: str,
        explicit_hash_key: str,
        data: str,
    ) -> tuple[str, str]:
        with _KINESIS_LOCK:
            sequence_number, shard_id = put_record(
                backend, stream_arn, stream_name, partition_key, explicit_hash_key, data
            )
            stream = backend.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
            size = _record_size(data, partition_key)
            over = rates.over_limit(stream.arn, shard_id, size, int(time.time()))
        values = {"PutRecord.Bytes": (size, "Bytes"), "PutRecord.Success": (1, "Count")}
        _stream_metrics(backend, stream.stream_name, values | {"WriteProvisionedThroughputExceeded": (over, "Count")})
        return sequence_number, shard_id

    def put_records_measured(
        backend: KinesisBackend, stream_arn: str, stream_name: str, records: list[dict[str, Any]]
    ) -> dict[str, Any]:
        with _KINESIS_LOCK:
            response = put_records(backend, stream_arn, stream_name, records)
            stream = backend.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
            sizes = [_record_size(r.get("Data", ""), r.get("PartitionKey", "")) for r in records]
            placed, second = zip(response["Records"], sizes, strict=True), int(time.time())
            over = sum(rates.over_limit(stream.arn, entry["ShardId"], size, second) for entry, size in placed)
        values = {
            "PutRecords.Bytes": (sum(sizes), "Bytes"),
            "PutRecords.TotalRecords": (len(records), "Count"),
            "PutRecords.SuccessfulRecords": (len(records), "Count"),
            "PutRecords.Success": (1, "Count"),
            "WriteProvisionedThroughputExceeded": (over, "Count"),
        }
        _stream_metrics(backend, stream.stream_name, values)
        return response

    def get_records_measured(
        backend: KinesisBackend, stream_arn: str | None, shard_iterator: str, limit: int | None
    ) -> tuple[str, list, int]:
        with _KINESIS_LOCK:
            next_iterator, records, millis_behind = get_records(backend, stream_arn, shard_iterator, limit)
        if records:
            stream_name = decompose_shard_iterator(shard_iterator)[0]
            stream = backend.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
            values = {
                "GetRecords.Bytes": (sum(len(base64.b64decode(r.data)) for r in records), "Bytes"),
                "GetRecords.Records": (len(records), "Count"),
                "GetRecords.IteratorAgeMilliseconds": (_millis(time.time() - records[-1].created_at), "Milliseconds"),
                "GetRecords.Success": (1, "Count"),
            }
            _stream_metrics(backend, stream.stream_name, values)
        return next_iterator, records, millis_behind

    return {"put_record": put_record_measured, "put_records": put_records_measured, "get_records": get_records_measured}


# -- Firehose: records, buffers, configuration ---------------------------------------------------------


@dataclass(frozen=True)
class SourceRecord:
    """A record read from the source stream (``data`` is replaced by the Lambda's output once transformed)."""

    data: bytes
    arrival: float  # when Kinesis took it, seconds since the epoch
    shard_id: str
    partition_key: str
    sequence_number: str

    @property
    def record_id(self) -> str:
        return f"{self.shard_id}:{self.sequence_number}"


@dataclass(frozen=True)
class Failure:
    """A record that goes to the error output, and why."""

    record: SourceRecord
    code: str
    message: str
    attempts: int
    ended: float


@dataclass
class Buffer:
    """Records waiting for a size or an age to be reached."""

    records: list[SourceRecord] = field(default_factory=list)
    size: int = 0
    since: float = 0.0

    def add(self, records: list[SourceRecord], now: float) -> None:
        if records and not self.records:
            self.since = now
        self.records += records
        self.size += sum(len(record.data) for record in records)

    def due(self, now: float, size_limit: float, interval: float) -> bool:
        return bool(self.records) and (self.size >= size_limit or now - self.since >= interval)

    def take(self) -> list[SourceRecord]:
        records, self.records, self.size = self.records, [], 0
        return records


@dataclass(frozen=True)
class Processor:
    """The Lambda processor of a destination and its parameters."""

    arn: str
    retries: int
    size: float  # bytes
    interval: float  # seconds

    @classmethod
    def of(cls, destination: dict[str, Any]) -> Processor | None:
        processing = destination.get("ProcessingConfiguration") or {}
        lambdas = [p for p in processing.get("Processors") or [] if p.get("Type") == "Lambda"]
        if not processing.get("Enabled", True) or not lambdas:
            return None
        given = {p["ParameterName"]: p["ParameterValue"] for p in lambdas[0].get("Parameters") or []}
        params = PROCESSOR_DEFAULTS | given
        size = float(params["BufferSizeInMBs"]) * MIB
        return cls(
            params.get("LambdaArn", ""), int(params["NumberOfRetries"]), size, float(params["BufferIntervalInSeconds"])
        )


@dataclass
class S3Object:
    """An object to write; ``records`` and ``oldest`` describe delivered data (0 for error output)."""

    bucket: str
    key: str
    body: bytes
    records: int
    oldest: float
    failed_writes: int = 0


class TransformError(Exception):
    """An invocation of the processor that failed as a whole: Firehose's error code."""

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(message or MESSAGES[code])
        self.code = code


def destination_config(stream: DeliveryStream) -> dict[str, Any]:
    destination = stream.destinations[0]
    return destination.get("ExtendedS3") or destination.get("S3") or {}


def unsupported(destination: dict[str, Any]) -> str | None:
    """What in an S3 destination the sandbox cannot deliver, or None."""
    processing = destination.get("ProcessingConfiguration") or {}
    processors = (processing.get("Processors") or []) if processing.get("Enabled", True) else []
    processor = Processor.of(destination)
    conversion = destination.get("DataFormatConversionConfiguration") or {}
    compression = destination.get("CompressionFormat") or "UNCOMPRESSED"
    checks = {
        "no S3 destination": not destination.get("BucketARN"),
        f"CompressionFormat {compression}": compression not in COMPRESSION,
        "data format conversion": bool(conversion) and conversion.get("Enabled", True),
        "dynamic partitioning": (destination.get("DynamicPartitioningConfiguration") or {}).get("Enabled", False),
        "S3 backup": destination.get("S3BackupMode") == "Enabled",
        "processors other than Lambda": any(p.get("Type") != "Lambda" for p in processors),
        "a Lambda processor without a function ARN": processor is not None and not LAMBDA_ARN.match(processor.arn),
    }
    problems = [name for name, failed in checks.items() if failed]
    for name in ("Prefix", "ErrorOutputPrefix"):
        try:
            evaluate_prefix(
                destination.get(name) or "", datetime.datetime.now(datetime.UTC), name == "ErrorOutputPrefix"
            )
        except ValueError as error:
            problems.append(str(error))
    return "; ".join(problems) or None


# -- S3 keys -----------------------------------------------------------------------------------------


def java_time(pattern: str, moment: datetime.datetime) -> str:
    """A Java DateTimeFormatter pattern (its common letters and quoted text) applied to a moment."""
    return JAVA_TIME.sub(
        lambda m: m.group(0)[1:-1] if m.group(0)[0] == "'" else moment.strftime(STRFTIME[m.group(0)]), pattern
    )


def evaluate_prefix(prefix: str, moment: datetime.datetime, error_output: bool = False) -> str:
    """A prefix's ``!{namespace:value}`` expressions evaluated; those the sandbox lacks raise ValueError."""

    def expand(match: re.Match[str]) -> str:
        namespace, value = match.groups()
        if namespace == "timestamp":
            return java_time(value, moment)
        if (namespace, value) == ("firehose", "random-string"):
            return "".join(random.choices(string.ascii_lowercase + string.digits, k=11))
        if (namespace, value) == ("firehose", "error-output-type") and error_output:
            return "processing-failed"
        raise ValueError(f"the prefix expression {match.group(0)}")

    return EXPRESSION.sub(expand, prefix)


def data_prefix(destination: dict[str, Any], moment: datetime.datetime) -> str:
    prefix = destination.get("Prefix") or ""
    return evaluate_prefix(prefix, moment) if "!{" in prefix else f"{prefix}{moment:%Y/%m/%d/%H/}"


def error_prefix(destination: dict[str, Any], moment: datetime.datetime) -> str:
    prefix = destination.get("ErrorOutputPrefix") or ""
    return (
        evaluate_prefix(prefix, moment, True) if "!{" in prefix else f"{prefix}processing-failed/{moment:%Y/%m/%d/%H/}"
    )


def s3_object(
    stream: DeliveryStream, destination: dict[str, Any], records: list[SourceRecord], errors: bool
) -> S3Object:
    """The object Firehose writes for records (data, or failures already made JSON lines), key and compression."""
    oldest = min(record.arrival for record in records)
    zone = zoneinfo.ZoneInfo(destination.get("CustomTimeZone") or "UTC")
    moment = datetime.datetime.fromtimestamp(oldest, zone)
    prefix = error_prefix(destination, moment) if errors else data_prefix(destination, moment)
    compression = destination.get("CompressionFormat") or "UNCOMPRESSED"
    extension_ = destination.get("FileExtension") or COMPRESSION[compression]
    name = f"{stream.delivery_stream_name}-{stream.version_id}-{moment:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}{extension_}"
    body = b"".join(record.data for record in records)
    body = gzip.compress(body) if compression == "GZIP" else body
    bucket = destination["BucketARN"].split(":")[-1]
    return S3Object(bucket, prefix + name, body, 0 if errors else len(records), oldest)


def failure_line(failure: Failure, lambda_arn: str) -> bytes:
    """One record of the error output, in Firehose's processing-failed format."""
    line = {
        "attemptsMade": failure.attempts,
        "arrivalTimestamp": _millis(failure.record.arrival),
        "errorCode": failure.code,
        "errorMessage": failure.message,
        "attemptEndingTimestamp": _millis(failure.ended),
        "rawData": base64.b64encode(failure.record.data).decode(),
        "lambdaArn": lambda_arn,
    }
    return json.dumps(line).encode() + b"\n"


def transformed(payload: bytes, sent: dict[str, SourceRecord]) -> dict[str, tuple[str, bytes]]:
    """recordId -> (result, data) from the processor's response; a TransformError if it breaks the contract."""
    try:
        entries = json.loads(payload)["records"]
        results = [
            (e["recordId"], e["result"], base64.b64decode(e["data"], validate=True) if e["result"] == "Ok" else b"")
            for e in entries
        ]
    except (ValueError, KeyError, TypeError):
        raise TransformError("Lambda.JsonProcessingException") from None
    if any(result not in RESULTS for _, result, _ in results):
        raise TransformError("Lambda.JsonProcessingException")
    ids = [record_id for record_id, _, _ in results]
    if len(set(ids)) != len(ids):
        raise TransformError("Lambda.DuplicatedRecordId")
    if set(ids) != set(sent):
        raise TransformError("Lambda.MissingRecordId")
    return {record_id: (result, data) for record_id, result, data in results}


def split_results(
    batch: list[SourceRecord], results: dict[str, tuple[str, bytes]], attempts: int
) -> tuple[list[SourceRecord], list[Failure]]:
    """The records to deliver, with the processor's data, and those it failed; Dropped ones are gone."""
    ended = time.time()
    ok = [dataclasses.replace(r, data=results[r.record_id][1]) for r in batch if results[r.record_id][0] == "Ok"]
    failed = [
        Failure(record, FAILED_STATUS, MESSAGES[FAILED_STATUS], attempts, ended)
        for record in batch
        if results[record.record_id][0] == "ProcessingFailed"
    ]
    return ok, failed


def invoke_processor(arn: str, event: dict[str, Any]) -> bytes:
    """Invoke the processor through the sandbox's Lambda; a TransformError when the invocation fails."""
    region, account = LAMBDA_ARN.match(arn).group(1, 2)  # type: ignore[union-attr]  # checked at creation
    response_headers: dict[str, str] = {}
    try:
        payload = lambda_backend(account, region).invoke(arn, None, json.dumps(event), {}, response_headers)
    except JsonRESTError as error:  # the function is missing or cannot run here
        raise TransformError(f"Lambda.{error.error_type.removesuffix('Exception')}", error.message) from None
    if response_headers.get("x-amz-function-error"):
        raise TransformError("Lambda.FunctionError")
    return payload


def _chunks(records: list[SourceRecord], size: float) -> Iterator[list[SourceRecord]]:
    """Consecutive batches of about ``size`` bytes (at least one record each)."""
    batch: list[SourceRecord] = []
    batch_size = 0
    for record in records:
        if batch and batch_size + len(record.data) > size:
            yield batch
            batch, batch_size = [], 0
        batch.append(record)
        batch_size += len(record.data)
    if batch:
        yield batch


# -- the worker of a delivery stream -------------------------------------------------------------------


class ShardReader:
    """A consumer's position in each shard of a stream, read in-process through KinesisBackend.get_records."""

    def __init__(self, stream_arn: str) -> None:
        self.stream_arn = stream_arn
        _, _, _, self.region, self.account, resource = stream_arn.split(":", 5)
        self.stream_name = resource.partition("/")[2]
        self._iterators: dict[str, str] = {}

    def start_at_latest(self) -> None:
        """Position every shard after its last record (raises if the stream does not exist)."""
        with _KINESIS_LOCK:
            for shard_id in self._backend().describe_stream(self.stream_arn, None).shards:
                self._iterators[shard_id] = self._iterator(shard_id, "LATEST")

    def read(self) -> list[SourceRecord]:
        """Records put since the last read, shard after shard; none while the stream does not exist."""
        records = []
        with _KINESIS_LOCK:
            try:
                shard_ids = list(self._backend().describe_stream(self.stream_arn, None).shards)
            except ResourceNotFoundError:
                return []
            for shard_id in shard_ids:
                iterator = self._iterators.get(shard_id) or self._iterator(shard_id, "TRIM_HORIZON")
                self._iterators[shard_id], found, _ = self._backend().get_records(None, iterator, READ_LIMIT)
                records += [
                    SourceRecord(
                        base64.b64decode(r.data), r.created_at, shard_id, r.partition_key, str(r.sequence_number)
                    )
                    for r in found
                ]
        return records

    def _backend(self) -> KinesisBackend:
        return kinesis_backends[self.account][self.region]

    def _iterator(self, shard_id: str, kind: str) -> str:
        return self._backend().get_shard_iterator(None, self.stream_name, shard_id, kind, None, None)  # type: ignore[arg-type]


class DeliveryWorker:
    """Reads, transforms, buffers and delivers for one delivery stream, in a thread of its own."""

    def __init__(self, stream: DeliveryStream, reader: ShardReader, account: str, region: str) -> None:
        self.stream = stream
        self._reader = reader
        self._account, self._region = account, region
        self._incoming, self._outgoing = Buffer(), Buffer()
        self._pending: list[S3Object] = []
        self._paused_for: str | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sandbox-firehose-{stream.delivery_stream_name}")
        self._thread.daemon = True

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        self._stopping.set()

    def join(self) -> None:
        """Wait for the thread, which ends after its current step (an invocation under way ends first)."""
        self._thread.join(JOIN_SECONDS)
        if self._thread.is_alive():
            log.warning("Firehose worker %s still runs after %.0f s", self._thread.name, JOIN_SECONDS)

    def _run(self) -> None:
        name = self.stream.delivery_stream_name
        while not self._stopping.wait(POLL_SECONDS):
            if firehose_backends[self._account][self._region].delivery_streams.get(name) is not self.stream:
                return  # deleted (or moto reset) behind our back
            try:
                self._cycle(time.time())
            except Exception:  # a sandbox bug must not end delivery for good
                log.exception("Firehose worker for %s failed a cycle", name)

    def _cycle(self, now: float) -> None:
        destination = destination_config(self.stream)
        if self._paused(unsupported(destination)):
            return
        self._incoming.add(self._read(), now)
        processor = Processor.of(destination)
        if processor is None:
            self._outgoing.add(self._incoming.take(), now)
        elif self._incoming.due(now, processor.size, processor.interval):
            self._transform(destination, processor, self._incoming.take())
        hints = DEFAULT_HINTS | (destination.get("BufferingHints") or {})
        if self._outgoing.due(now, hints["SizeInMBs"] * MIB, hints["IntervalInSeconds"]):
            self._pending.append(s3_object(self.stream, destination, self._outgoing.take(), errors=False))
        self._write_pending()

    def _paused(self, problem: str | None) -> bool:
        """Whether the destination is one the sandbox cannot serve (logged once per problem)."""
        if problem and problem != self._paused_for:
            log.error("Firehose %s paused: the sandbox does not support %s", self.stream.delivery_stream_name, problem)
        self._paused_for = problem
        return problem is not None

    def _read(self) -> list[SourceRecord]:
        records = self._reader.read()
        if records:
            values = {
                "DataReadFromKinesisStream.Records": (len(records), "Count"),
                "DataReadFromKinesisStream.Bytes": (sum(len(r.data) for r in records), "Bytes"),
            }
            self._metrics(values)
        return records

    def _transform(self, destination: dict[str, Any], processor: Processor, records: list[SourceRecord]) -> None:
        """Each batch through the processor: Ok records to deliver, failures to the error output."""
        for batch in _chunks(records, processor.size):
            if self._stopping.is_set():
                return
            ok, failures = self._process(processor, batch)
            self._outgoing.add(ok, time.time())
            if failures:
                lines = [dataclasses.replace(f.record, data=failure_line(f, processor.arn)) for f in failures]
                self._pending.append(s3_object(self.stream, destination, lines, errors=True))

    def _process(self, processor: Processor, batch: list[SourceRecord]) -> tuple[list[SourceRecord], list[Failure]]:
        """Invoke, retrying a failed invocation ``NumberOfRetries`` times; the records to deliver and the failed."""
        sent = {record.record_id: record for record in batch}
        event = self._event(batch)
        attempt = 0
        while True:
            attempt += 1
            started = time.time()
            try:
                results = transformed(invoke_processor(processor.arn, event), sent)
            except TransformError as error:
                log.info(
                    "Firehose %s: processor attempt %d failed: %s", self.stream.delivery_stream_name, attempt, error
                )
                self._metrics({"ExecuteProcessing.Success": (0, "Count")})
                if self._stopping.is_set():
                    return [], []  # lost with the rest of the buffer, as documented
                if attempt > processor.retries:
                    return [], [Failure(record, error.code, str(error), attempt, time.time()) for record in batch]
                continue
            ok, failed = split_results(batch, results, attempt)
            values = {
                "ExecuteProcessing.Success": (1, "Count"),
                "ExecuteProcessing.Duration": (_millis(time.time() - started), "Milliseconds"),
                "SucceedProcessing.Records": (len(batch) - len(failed), "Count"),
                "SucceedProcessing.Bytes": (sum(len(r.data) for r in ok), "Bytes"),
            }
            self._metrics(values)
            return ok, failed

    def _event(self, batch: list[SourceRecord]) -> dict[str, Any]:
        """Firehose's transformation event for a Kinesis source."""
        records = []
        for record in batch:
            metadata = {
                "shardId": record.shard_id,
                "partitionKey": record.partition_key,
                "approximateArrivalTimestamp": _millis(record.arrival),
                "sequenceNumber": record.sequence_number,
                "subsequenceNumber": 0,
            }
            records.append(
                {
                    "recordId": record.record_id,
                    "approximateArrivalTimestamp": _millis(record.arrival),
                    "data": base64.b64encode(record.data).decode(),
                    "kinesisRecordMetadata": metadata,
                }
            )
        return {
            "invocationId": str(uuid.uuid4()),
            "deliveryStreamArn": self.stream.delivery_stream_arn,
            "sourceKinesisStreamArn": self._reader.stream_arn,
            "region": self._region,
            "records": records,
        }

    def _write_pending(self) -> None:
        """Write the objects in order; one that fails (no such bucket...) and those after it wait for the next cycle."""
        while self._pending:
            obj = self._pending[0]
            try:
                s3_backends[self._account][get_partition(self._region)].put_object(obj.bucket, obj.key, obj.body)
            except Exception as error:
                obj.failed_writes += 1
                if obj.failed_writes == 1:
                    name = self.stream.delivery_stream_name
                    log.warning("Firehose %s cannot write s3://%s/%s (retrying): %s", name, obj.bucket, obj.key, error)
                self._metrics({"DeliveryToS3.Success": (0, "Count")})
                return
            self._pending.pop(0)
            values = {"DeliveryToS3.Success": (1, "Count")}
            if obj.records:
                values |= {
                    "DeliveryToS3.Records": (obj.records, "Count"),
                    "DeliveryToS3.Bytes": (len(obj.body), "Bytes"),
                    "DeliveryToS3.DataFreshness": (time.time() - obj.oldest, "Seconds"),
                }
            self._metrics(values)

    def _metrics(self, values: dict[str, tuple[float, str]]) -> None:
        dimensions = {"DeliveryStreamName": self.stream.delivery_stream_name}
        put_metrics(self._account, self._region, "AWS/Firehose", dimensions, values)


class DeliveryWorkers:
    """The running workers, by delivery stream ARN."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workers: dict[str, DeliveryWorker] = {}

    def start(self, worker: DeliveryWorker) -> None:
        with self._lock:
            self._workers[worker.stream.delivery_stream_arn] = worker
        worker.start()

    def stop(self, arn: str) -> None:
        with self._lock:
            worker = self._workers.pop(arn, None)
        if worker is not None:
            worker.request_stop()
            worker.join()

    def stop_all(self) -> None:
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            worker.request_stop()
        for worker in workers:
            worker.join()


def _firehose_members(workers: DeliveryWorkers) -> dict[str, Callable[..., Any]]:
    """Replacements of FirehoseBackend's create_delivery_stream, delete_delivery_stream and put_record_batch."""
    create = FirehoseBackend.__dict__["create_delivery_stream"]
    delete = FirehoseBackend.__dict__["delete_delivery_stream"]
    put_record_batch = FirehoseBackend.__dict__["put_record_batch"]
    signature = inspect.signature(create)

    def create_delivery_stream(backend: FirehoseBackend, *args: Any, **kwargs: Any) -> str:
        request = signature.bind(backend, *args, **kwargs).arguments
        if request.get("delivery_stream_type") != "KinesisStreamAsSource":
            return create(backend, *args, **kwargs)
        reader = _source_reader(request.get("kinesis_stream_source_configuration"))
        destination = request.get("extended_s3_destination_configuration") or request.get(
            "s3_destination_configuration"
        )
        problem = unsupported(destination or {})
        if problem:
            raise InvalidArgumentException(f"The sandbox's Firehose does not support, for a Kinesis source: {problem}.")
        arn = create(backend, *args, **kwargs)
        reader.start_at_latest()
        stream = backend.delivery_streams[request["delivery_stream_name"]]
        workers.start(DeliveryWorker(stream, reader, backend.account_id, backend.region_name))
        return arn

    def delete_delivery_stream(backend: FirehoseBackend, delivery_stream_name: str) -> None:
        stream = backend.delivery_streams.get(delivery_stream_name)
        delete(backend, delivery_stream_name)
        if stream is not None:
            workers.stop(stream.delivery_stream_arn)

    def put_record_batch_direct(backend: FirehoseBackend, delivery_stream_name: str, records: list) -> dict[str, Any]:
        stream = backend.delivery_streams.get(delivery_stream_name)
        if stream is not None and stream.delivery_stream_type == "KinesisStreamAsSource":
            raise InvalidArgumentException(
                "This operation is not permitted on KinesisStreamAsSource delivery stream type."
            )
        return put_record_batch(backend, delivery_stream_name, records)

    return {
        "create_delivery_stream": create_delivery_stream,
        "delete_delivery_stream": delete_delivery_stream,
        "put_record_batch": put_record_batch_direct,
    }


def _source_reader(source: dict[str, Any] | None) -> ShardReader:
    """A reader of the source stream, which must exist."""
    arn = (source or {}).get("KinesisStreamARN")
    if not arn:
        raise InvalidArgumentException("KinesisStreamSourceConfiguration is required for KinesisStreamAsSource.")
    reader = ShardReader(arn)
    try:
        kinesis_backends[reader.account][reader.region].describe_stream(arn, None)
    except ResourceNotFoundError:
        raise InvalidArgumentException(f"Kinesis stream {arn} does not exist.") from None
    return reader


def _patch(owner: type, members: dict[str, Callable[..., Any]]) -> Undo:
    originals = {name: owner.__dict__[name] for name in members}
    for name, member in members.items():
        setattr(owner, name, member)

    def restore() -> None:
        for name, member in originals.items():
            setattr(owner, name, member)

    return restore


@extension("kinesis_metrics")
def kinesis_records_metrics(context: SandboxContext) -> Undo:
    """Patch moto's Kinesis to record CloudWatch metrics of writes and reads; the undo restores moto."""
    return _patch(KinesisBackend, _kinesis_members(WriteRates()))


# Named to sort after "lambda_run" and "kinesis_metrics": undone first, the workers stop before what they call.
@extension("stream_delivery")
def firehose_reads_kinesis(context: SandboxContext) -> Undo:
    """Patch moto's Firehose to deliver Kinesis sources; the undo stops the workers, restores moto."""
    workers = DeliveryWorkers()
    restore = _patch(FirehoseBackend, _firehose_members(workers))

    def undo() -> None:
        workers.stop_all()
        restore()

    return undo
