"""The stream-health checks: each compares one part of the running stream with the declared spec.

Every function takes boto3 clients and ``loanlake.config.StreamingConfig`` and returns ``Finding`` s, one per
check, failures carrying the fix remediation would apply. An API error other than "not found" propagates:
the task retries it, since it says nothing about the stream's health.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from loanlake.config import StreamingConfig
from loanlake.streaming.findings import COMPONENTS, Finding, failed, passed
from loanlake.streaming.prefixes import window_prefixes
from loanlake.streaming.sizing import Traffic, required_shards, target_shards

STREAM, DELIVERY_STREAM, PROCESSOR, DELIVERY, BUCKETS = COMPONENTS
PUBLIC_ACCESS_BLOCK = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
NOT_FOUND = ("ResourceNotFoundException",)


@dataclass(frozen=True)
class StreamMetrics:
    """The stream's CloudWatch figures over the window: per-minute sums, and the worst iterator age."""

    incoming_bytes: Sequence[float]
    incoming_records: Sequence[float]
    read_bytes: Sequence[float]
    throttled: float
    iterator_age_ms: float

    @property
    def traffic(self) -> Traffic:
        return Traffic.from_minute_sums(self.incoming_bytes, self.read_bytes, self.incoming_records)

    @property
    def records(self) -> int:
        return int(sum(self.incoming_records))


def stream_metrics(cloudwatch: Any, stream: str, start: datetime, end: datetime) -> StreamMetrics:
    """One ``GetMetricData`` call for the five ``AWS/Kinesis`` metrics the checks need."""
    wanted = {
        "incoming_bytes": ("IncomingBytes", "Sum"),
        "incoming_records": ("IncomingRecords", "Sum"),
        "read_bytes": ("GetRecords.Bytes", "Sum"),
        "throttled": ("WriteProvisionedThroughputExceeded", "Sum"),
        "iterator_age_ms": ("GetRecords.IteratorAgeMilliseconds", "Maximum"),
    }
    queries = [
        {
            "Id": query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/Kinesis",
                    "MetricName": metric,
                    "Dimensions": [{"Name": "StreamName", "Value": stream}],
                },
                "Period": 60,
                "Stat": stat,
            },
        }
        for query_id, (metric, stat) in wanted.items()
    ]
    values: dict[str, list[float]] = {query_id: [] for query_id in wanted}
    for page in cloudwatch.get_paginator("get_metric_data").paginate(
        MetricDataQueries=queries, StartTime=start, EndTime=end
    ):
        for result in page["MetricDataResults"]:
            values[result["Id"]] += [float(value) for value in result["Values"]]
    return StreamMetrics(
        values["incoming_bytes"],
        values["incoming_records"],
        values["read_bytes"],
        sum(values["throttled"]),
        max(values["iterator_age_ms"], default=0.0),
    )


def _missing(error: ClientError) -> bool:
    return error.response["Error"]["Code"] in NOT_FOUND


def check_stream(kinesis: Any, spec: StreamingConfig, metrics: StreamMetrics) -> list[Finding]:
    """Present and ACTIVE, retention and encryption as declared, shards within bounds and enough for the traffic."""
    declared = spec.stream
    try:
        summary = kinesis.describe_stream_summary(StreamName=declared.name)["StreamDescriptionSummary"]
    except ClientError as error:
        if not _missing(error):
            raise
        return [failed(STREAM, "exists", f"stream {declared.name} does not exist", {"action": "create_stream"})]
    findings = [passed(STREAM, "exists", f"stream {declared.name}")]
    status = summary["StreamStatus"]
    if status == "ACTIVE":
        findings.append(passed(STREAM, "active", "ACTIVE"))
    else:
        findings.append(failed(STREAM, "active", f"{status}, not ACTIVE (resharding or being created/deleted)"))
    retention = summary["RetentionPeriodHours"]
    if retention >= declared.retention_hours:
        findings.append(passed(STREAM, "retention", f"{retention} h (declared {declared.retention_hours} h)"))
    else:
        fix = {"action": "increase_retention", "hours": declared.retention_hours}
        findings.append(failed(STREAM, "retention", f"{retention} h, declared {declared.retention_hours} h", fix))
    findings.append(_encryption(summary, declared.kms_key_id))
    findings.append(_shards(summary["OpenShardCount"], metrics.traffic, declared.min_shards, declared.max_shards))
    if metrics.throttled:
        findings.append(
            failed(
                STREAM,
                "throttling",
                f"{metrics.throttled:,.0f} records refused with WriteProvisionedThroughputExceeded in the window",
            )
        )
    else:
        findings.append(passed(STREAM, "throttling", "no WriteProvisionedThroughputExceeded"))
    age, bound = metrics.iterator_age_ms / 1000, declared.max_iterator_age_seconds
    if age <= bound:
        findings.append(passed(STREAM, "iterator_age", f"slowest reader {age:,.0f} s behind (bound {bound} s)"))
    else:
        findings.append(failed(STREAM, "iterator_age", f"slowest reader {age:,.0f} s behind, bound {bound} s"))
    return findings


def _encryption(summary: dict[str, Any], kms_key_id: str | None) -> Finding:
    kind, key = summary.get("EncryptionType", "NONE"), summary.get("KeyId")
    if kms_key_id is None:
        return passed(STREAM, "encryption", f"{kind} (none declared)")
    if kind == "KMS" and key == kms_key_id:
        return passed(STREAM, "encryption", f"KMS with {key}")
    fix = {"action": "start_encryption", "key_id": kms_key_id}
    return failed(STREAM, "encryption", f"{kind} {key or ''}".strip() + f", declared KMS with {kms_key_id}", fix)


def _shards(shards: int, traffic: Traffic, min_shards: int, max_shards: int) -> Finding:
    needed = required_shards(traffic)
    target = target_shards(traffic, min_shards, max_shards)
    rates = (
        f"peak {traffic.write_kb_per_s:,.1f} KB/s in, {traffic.read_kb_per_s:,.1f} KB/s out, "
        f"{traffic.records_per_s:,.1f} records/s"
    )
    # Resizing to the bound does not make the check pass when the traffic needs more: a partial fix.
    fix = {"action": "update_shard_count", "target": target, "partial": needed > max_shards}
    beyond = f"; max_shards {max_shards} caps it: raise it" if needed > max_shards else ""
    if shards < min_shards or shards > max_shards:
        detail = f"{shards} open, outside bounds {min_shards}-{max_shards}, traffic needs {needed} ({rates}){beyond}"
        return failed(STREAM, "shards", detail, fix)
    if shards < needed:
        return failed(STREAM, "shards", f"{shards} open, traffic needs {needed} ({rates}){beyond}", fix)
    return passed(STREAM, "shards", f"{shards} open, traffic needs {needed} ({rates})")


def check_processor(lambda_client: Any, spec: StreamingConfig, code_sha256: str) -> list[Finding]:
    """Present and Active, runtime supported, handler/role/timeout as declared, code equal to the repo's build."""
    declared = spec.processor
    try:
        function = lambda_client.get_function_configuration(FunctionName=declared.function_name)
    except ClientError as error:
        if not _missing(error):
            raise
        detail = f"function {declared.function_name} does not exist"
        return [failed(PROCESSOR, "exists", detail, {"action": "create_processor"})]
    findings = [passed(PROCESSOR, "exists", f"function {declared.function_name}")]
    state = function.get("State", "Active")
    if state == "Active":
        findings.append(passed(PROCESSOR, "active", "Active"))
    else:
        reason = function.get("StateReason") or "no reason given"
        findings.append(failed(PROCESSOR, "active", f"{state}: {reason}"))
    runtime = function.get("Runtime")
    if runtime in declared.supported_runtimes:
        findings.append(passed(PROCESSOR, "runtime", f"{runtime} (supported)"))
    else:
        detail = f"{runtime} is not supported ({', '.join(declared.supported_runtimes)})"
        findings.append(failed(PROCESSOR, "runtime", detail, {"action": "update_processor_configuration"}))
    drifted = [
        f"{name} {actual!r}, declared {wanted!r}"
        for name, actual, wanted in (
            ("handler", function.get("Handler"), declared.handler),
            ("role", function.get("Role"), declared.role_arn),
            ("timeout", function.get("Timeout"), declared.timeout_seconds),
        )
        if actual != wanted
    ]
    if drifted:
        fix = {"action": "update_processor_configuration"}
        findings.append(failed(PROCESSOR, "configuration", "; ".join(drifted), fix))
    else:
        findings.append(passed(PROCESSOR, "configuration", "handler, role and timeout as declared"))
    deployed = function.get("CodeSha256")
    if deployed == code_sha256:
        findings.append(passed(PROCESSOR, "code", f"CodeSha256 {deployed} matches include/lambda/{declared.source}"))
    else:
        detail = f"CodeSha256 {deployed}, the build of include/lambda/{declared.source} is {code_sha256}"
        findings.append(failed(PROCESSOR, "code", detail, {"action": "update_processor_code"}))
    return findings


def destination_settings(spec: StreamingConfig, bucket: str, processor_arn: str) -> dict[str, Any]:
    """The ExtendedS3 destination the spec declares, as ``CreateDeliveryStream`` takes it."""
    delivery = spec.delivery
    parameters = {
        "LambdaArn": processor_arn,
        "NumberOfRetries": str(delivery.processor_retries),
        "BufferSizeInMBs": f"{delivery.processor_buffer_size_mb:g}",
        "BufferIntervalInSeconds": str(delivery.processor_buffer_interval_seconds),
    }
    return {
        "RoleARN": delivery.role_arn,
        "BucketARN": f"arn:aws:s3:::{bucket}",
        "Prefix": delivery.prefix,
        "ErrorOutputPrefix": delivery.error_prefix,
        "BufferingHints": {"SizeInMBs": delivery.buffer_size_mb, "IntervalInSeconds": delivery.buffer_interval_seconds},
        "CompressionFormat": delivery.compression,
        "ProcessingConfiguration": {
            "Enabled": True,
            "Processors": [
                {
                    "Type": "Lambda",
                    "Parameters": [{"ParameterName": k, "ParameterValue": v} for k, v in parameters.items()],
                }
            ],
        },
    }


def check_delivery_stream(
    firehose: Any, spec: StreamingConfig, bucket: str, stream_arn: str, processor_arn: str
) -> list[Finding]:
    """Present and ACTIVE, reading the declared stream, delivering where and how the spec says, through its Lambda."""
    name = spec.delivery.name
    try:
        description = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    except ClientError as error:
        if not _missing(error):
            raise
        return [
            failed(DELIVERY_STREAM, "exists", f"delivery stream {name} does not exist", {"action": "create_delivery"})
        ]
    findings = [passed(DELIVERY_STREAM, "exists", f"delivery stream {name}")]
    status = description["DeliveryStreamStatus"]
    if status == "ACTIVE":
        findings.append(passed(DELIVERY_STREAM, "active", "ACTIVE"))
    else:
        reason = (description.get("FailureDescription") or {}).get("Details", "")
        findings.append(failed(DELIVERY_STREAM, "active", f"{status}, not ACTIVE {reason}".strip()))
    source = (description.get("Source") or {}).get("KinesisStreamSourceDescription", {}).get("KinesisStreamARN")
    if source == stream_arn:
        findings.append(passed(DELIVERY_STREAM, "source", f"reads {stream_arn}"))
    else:
        detail = f"reads {source or 'no Kinesis stream'}, declared {stream_arn} (a source cannot change: recreate it)"
        findings.append(failed(DELIVERY_STREAM, "source", detail))
    destinations = description.get("Destinations") or [{}]
    actual = destinations[0].get("ExtendedS3DestinationDescription") or {}
    drifted = _destination_drift(actual, destination_settings(spec, bucket, processor_arn))
    if drifted:
        fix = {"action": "update_destination"}
        findings.append(failed(DELIVERY_STREAM, "destination", "; ".join(drifted), fix))
    else:
        findings.append(
            passed(DELIVERY_STREAM, "destination", f"s3://{bucket}/{spec.delivery.prefix} through {processor_arn}")
        )
    return findings


def _destination_drift(actual: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """What differs, in words; the processor is compared by function (an ARN with or without a version)."""
    drifted = [
        f"{key} {actual.get(key)!r}, declared {wanted[key]!r}"
        for key in ("RoleARN", "BucketARN", "Prefix", "ErrorOutputPrefix", "BufferingHints", "CompressionFormat")
        if actual.get(key) != wanted[key]
    ]
    processing = actual.get("ProcessingConfiguration") or {}
    processors = [p for p in processing.get("Processors", []) if p.get("Type") == "Lambda"]
    wanted_parameters = _parameters(wanted["ProcessingConfiguration"]["Processors"][0])
    actual_parameters = _parameters((processors or [{}])[0])
    arn = actual_parameters.get("LambdaArn", "")
    if not processing.get("Enabled") or not processors:
        drifted.append("no Lambda processor enabled")
    elif arn.removesuffix(":$LATEST") != wanted_parameters["LambdaArn"]:
        drifted.append(f"processor {arn}, declared {wanted_parameters['LambdaArn']}")
    else:
        drifted += [
            f"processor {key} {actual_parameters.get(key)!r}, declared {value!r}"
            for key, value in wanted_parameters.items()
            if key != "LambdaArn" and key in actual_parameters and actual_parameters[key] != value
        ]
    return drifted


def _parameters(processor: dict[str, Any]) -> dict[str, str]:
    return {p["ParameterName"]: p["ParameterValue"] for p in processor.get("Parameters", [])}


def check_delivery(s3: Any, spec: StreamingConfig, bucket: str, metrics: StreamMetrics, now: datetime) -> list[Finding]:
    """Fresh objects under the destination prefix while records arrive; new objects under the error prefix."""
    start = now - timedelta(minutes=spec.window_minutes)
    delivery = spec.delivery
    delivered = _objects_since(s3, bucket, window_prefixes(delivery.prefix, start, now), start)
    stale_after = timedelta(seconds=delivery.buffer_interval_seconds, minutes=spec.freshness_slack_minutes)
    findings = []
    if metrics.records == 0:
        findings.append(passed(DELIVERY, "fresh", f"no records arrived in the last {spec.window_minutes} min"))
    else:
        newest = max((obj["LastModified"] for obj in delivered), default=None)
        if newest is not None and now - newest <= stale_after:
            detail = (
                f"{len(delivered)} object(s) delivered in the window, newest {(now - newest).total_seconds():,.0f} s "
                f"old, for {metrics.records:,} records in"
            )
            findings.append(passed(DELIVERY, "fresh", detail))
        else:
            age = "none in the window" if newest is None else f"newest {(now - newest).total_seconds():,.0f} s old"
            detail = (
                f"{metrics.records:,} records arrived in the last {spec.window_minutes} min but no object under "
                f"s3://{bucket}/{delivery.prefix} is younger than {stale_after.total_seconds():,.0f} s ({age})"
            )
            findings.append(failed(DELIVERY, "fresh", detail))
    errors = _objects_since(s3, bucket, window_prefixes(delivery.error_prefix, start, now, error=True), start)
    if errors:
        shown = ", ".join(obj["Key"] for obj in errors[:3]) + (" ..." if len(errors) > 3 else "")
        where = f"s3://{bucket}/{delivery.error_prefix}"
        detail = f"{len(errors)} new object(s) of failed records under the error prefix {where}: {shown}"
        findings.append(failed(DELIVERY, "errors", detail))
    else:
        findings.append(passed(DELIVERY, "errors", "no new objects under the error prefix"))
    return findings


def _objects_since(s3: Any, bucket: str, prefixes: Sequence[str], since: datetime) -> list[dict[str, Any]]:
    found = []
    for prefix in prefixes:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found += [obj for obj in page.get("Contents", []) if obj["LastModified"] >= since]
    return sorted(found, key=lambda obj: obj["LastModified"])


def check_buckets(s3: Any, buckets: Sequence[str]) -> list[Finding]:
    """Every bucket the pipeline writes: public access blocked (all four settings) and encrypted by default."""
    findings = []
    for bucket in buckets:
        fix = {"action": "secure_bucket", "bucket": bucket}
        try:
            block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchPublicAccessBlockConfiguration":
                raise
            block = {}
        open_settings = [setting for setting in PUBLIC_ACCESS_BLOCK if not block.get(setting)]
        if open_settings:
            detail = f"s3://{bucket}: public access not blocked ({', '.join(open_settings)} off)"
            findings.append(failed(BUCKETS, f"{bucket}/public_access", detail, fix))
        else:
            findings.append(passed(BUCKETS, f"{bucket}/public_access", f"s3://{bucket}: public access blocked"))
        try:
            rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "ServerSideEncryptionConfigurationNotFoundError":
                raise
            rules = []
        algorithms = [
            r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
            for r in rules
            if r.get("ApplyServerSideEncryptionByDefault")
        ]
        if algorithms:
            findings.append(
                passed(BUCKETS, f"{bucket}/encryption", f"s3://{bucket}: encrypted by default ({algorithms[0]})")
            )
        else:
            findings.append(failed(BUCKETS, f"{bucket}/encryption", f"s3://{bucket}: no default encryption", fix))
    return findings
