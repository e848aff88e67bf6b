"""Remediation: make the streaming resources what the spec declares. It creates, resizes, updates; it never deletes.

``remediate`` takes the fixes the checks attached to their failures and applies them in dependency order
(buckets, the stream, then the processor, then the delivery stream that needs both), each followed by its
waiter, so a fix that returns has taken effect. A bucket's protection is only ever added, never weakened.
Kinesis changes a shard count by at most a doubling or a halving per call: larger changes go in steps.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from botocore.waiter import WaiterModel, create_waiter_with_client

from loanlake.config import StreamingConfig
from loanlake.streaming.checks import PUBLIC_ACCESS_BLOCK, destination_settings
from loanlake.streaming.findings import Finding, key

log = logging.getLogger("loanlake.streaming")

WAIT_SECONDS = 600  # the longest any one fix may take to settle


@dataclass(frozen=True)
class Clients:
    kinesis: Any
    firehose: Any
    lambda_client: Any
    s3: Any


@dataclass(frozen=True)
class Target:
    """Where the fixes go: the bucket, the stream's ARN, the processor's ARN and its deployment zip."""

    bucket: str
    stream_arn: str
    processor_arn: str
    processor_zip: bytes


@contextmanager
def _unless_it_exists(code: str) -> Iterator[None]:
    """A create that finds its resource made already (by an earlier try of this task) carries on to the wait."""
    try:
        yield
    except ClientError as error:
        if error.response["Error"]["Code"] != code:
            raise
        log.info("remediation: %s (an earlier try made it); waiting for it as for a new one", code)


def _delivery_waiter(firehose: Any, delay: int) -> Any:
    """Firehose has no boto3 waiter: one from a waiter model, as botocore builds its own."""
    model = WaiterModel(
        {
            "version": 2,
            "waiters": {
                "DeliveryStreamActive": {
                    "operation": "DescribeDeliveryStream",
                    "delay": delay,
                    "maxAttempts": max(1, WAIT_SECONDS // delay),
                    "acceptors": [
                        {
                            "matcher": "path",
                            "argument": "DeliveryStreamDescription.DeliveryStreamStatus",
                            "expected": "ACTIVE",
                            "state": "success",
                        },
                        {
                            "matcher": "path",
                            "argument": "DeliveryStreamDescription.DeliveryStreamStatus",
                            "expected": "CREATING_FAILED",
                            "state": "failure",
                        },
                    ],
                }
            },
        }
    )
    return create_waiter_with_client("DeliveryStreamActive", model, firehose)


def remediate(
    findings: Iterable[Finding], spec: StreamingConfig, clients: Clients, target: Target
) -> list[dict[str, Any]]:
    """Apply every fix the failed findings carry; per action taken, what it did and the checks it resolved."""
    fixes: dict[str, dict[str, tuple[dict[str, Any], list[str]]]] = {}  # action -> fix -> (fix, checks it fixes)
    for finding in findings:
        if not finding.ok and finding.fix:
            identity = json.dumps({k: v for k, v in finding.fix.items() if k != "partial"}, sort_keys=True)
            fix, keys = fixes.setdefault(finding.fix["action"], {}).setdefault(identity, (finding.fix, []))
            if not fix.get("partial"):
                keys.append(key(finding))
    if "create_stream" in fixes:  # a new stream has the default retention and no encryption
        for action in ("increase_retention", "start_encryption"):
            fixes.setdefault(action, {action: ({"action": action}, [])})
    actions = _actions(spec, clients, target)
    done = []
    for action, apply in actions.items():  # in dependency order
        for fix, keys in fixes.get(action, {}).values():
            line = apply(fix)
            if line:
                log.info("remediation: %s", line)
                done.append({"action": action, "fixes": keys, "done": line})
    return done


def _actions(spec: StreamingConfig, clients: Clients, target: Target) -> dict[str, Callable[[dict[str, Any]], str]]:
    stream, processor, delivery = spec.stream, spec.processor, spec.delivery
    kinesis, lambda_client, firehose = clients.kinesis, clients.lambda_client, clients.firehose
    wait = {"Delay": spec.poll_seconds, "MaxAttempts": max(1, WAIT_SECONDS // spec.poll_seconds)}

    def stream_active() -> None:
        kinesis.get_waiter("stream_exists").wait(StreamName=stream.name, WaiterConfig=wait)

    def create_stream(_: dict[str, Any]) -> str:
        with _unless_it_exists("ResourceInUseException"):
            kinesis.create_stream(
                StreamName=stream.name, ShardCount=stream.min_shards, StreamModeDetails={"StreamMode": "PROVISIONED"}
            )
        stream_active()
        return f"created stream {stream.name} with {stream.min_shards} shard(s)"

    def increase_retention(_: dict[str, Any]) -> str:
        summary = kinesis.describe_stream_summary(StreamName=stream.name)["StreamDescriptionSummary"]
        if summary["RetentionPeriodHours"] >= stream.retention_hours:
            return ""
        kinesis.increase_stream_retention_period(StreamName=stream.name, RetentionPeriodHours=stream.retention_hours)
        stream_active()
        return f"retention of {stream.name} raised to {stream.retention_hours} h"

    def start_encryption(_: dict[str, Any]) -> str:
        if stream.kms_key_id is None:
            return ""
        kinesis.start_stream_encryption(StreamName=stream.name, EncryptionType="KMS", KeyId=stream.kms_key_id)
        stream_active()
        return f"KMS encryption of {stream.name} with {stream.kms_key_id}"

    def update_shard_count(fix: dict[str, Any]) -> str:
        summary = kinesis.describe_stream_summary(StreamName=stream.name)["StreamDescriptionSummary"]
        current, wanted = summary["OpenShardCount"], fix["target"]
        steps = []
        while current != wanted:
            current = min(wanted, current * 2) if wanted > current else max(wanted, math.ceil(current / 2))
            kinesis.update_shard_count(StreamName=stream.name, TargetShardCount=current, ScalingType="UNIFORM_SCALING")
            stream_active()
            steps.append(str(current))
        return f"shards of {stream.name}: {summary['OpenShardCount']} -> {' -> '.join(steps)}" if steps else ""

    def create_processor(_: dict[str, Any]) -> str:
        with _unless_it_exists("ResourceConflictException"):
            lambda_client.create_function(
                FunctionName=processor.function_name,
                Runtime=processor.runtime,
                Role=processor.role_arn,
                Handler=processor.handler,
                Code={"ZipFile": target.processor_zip},
                Timeout=processor.timeout_seconds,
                MemorySize=processor.memory_mb,
                Description=f"loanlake: include/lambda/{processor.source}",
            )
        lambda_client.get_waiter("function_active_v2").wait(FunctionName=processor.function_name, WaiterConfig=wait)
        return f"created function {processor.function_name} from include/lambda/{processor.source}"

    def update_processor_configuration(_: dict[str, Any]) -> str:
        lambda_client.update_function_configuration(
            FunctionName=processor.function_name,
            Runtime=processor.runtime,
            Role=processor.role_arn,
            Handler=processor.handler,
            Timeout=processor.timeout_seconds,
            MemorySize=processor.memory_mb,
        )
        lambda_client.get_waiter("function_updated_v2").wait(FunctionName=processor.function_name, WaiterConfig=wait)
        return f"configuration of {processor.function_name} set as declared"

    def update_processor_code(_: dict[str, Any]) -> str:
        lambda_client.update_function_code(FunctionName=processor.function_name, ZipFile=target.processor_zip)
        lambda_client.get_waiter("function_updated_v2").wait(FunctionName=processor.function_name, WaiterConfig=wait)
        return f"code of {processor.function_name} redeployed from include/lambda/{processor.source}"

    def create_delivery(_: dict[str, Any]) -> str:
        with _unless_it_exists("ResourceInUseException"):
            firehose.create_delivery_stream(
                DeliveryStreamName=delivery.name,
                DeliveryStreamType="KinesisStreamAsSource",
                KinesisStreamSourceConfiguration={"KinesisStreamARN": target.stream_arn, "RoleARN": delivery.role_arn},
                ExtendedS3DestinationConfiguration=destination_settings(spec, target.bucket, target.processor_arn),
            )
        _delivery_waiter(firehose, spec.poll_seconds).wait(DeliveryStreamName=delivery.name)
        return f"created delivery stream {delivery.name} from {stream.name} to s3://{target.bucket}/{delivery.prefix}"

    def update_destination(_: dict[str, Any]) -> str:
        description = firehose.describe_delivery_stream(DeliveryStreamName=delivery.name)["DeliveryStreamDescription"]
        firehose.update_destination(
            DeliveryStreamName=delivery.name,
            CurrentDeliveryStreamVersionId=description["VersionId"],
            DestinationId=description["Destinations"][0]["DestinationId"],
            ExtendedS3DestinationUpdate=destination_settings(spec, target.bucket, target.processor_arn),
        )
        _delivery_waiter(firehose, spec.poll_seconds).wait(DeliveryStreamName=delivery.name)
        return f"destination of {delivery.name} set as declared"

    def secure_bucket(fix: dict[str, Any]) -> str:
        bucket = fix["bucket"]
        clients.s3.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration=dict.fromkeys(PUBLIC_ACCESS_BLOCK, True)
        )
        try:
            clients.s3.get_bucket_encryption(Bucket=bucket)
        except ClientError as error:  # only a bucket without default encryption gets SSE-S3; a KMS one stays
            if error.response["Error"]["Code"] != "ServerSideEncryptionConfigurationNotFoundError":
                raise
            clients.s3.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
        return f"s3://{bucket}: public access blocked, encrypted by default"

    return {
        "secure_bucket": secure_bucket,
        "create_stream": create_stream,
        "increase_retention": increase_retention,
        "start_encryption": start_encryption,
        "update_shard_count": update_shard_count,
        "create_processor": create_processor,
        "update_processor_configuration": update_processor_configuration,
        "update_processor_code": update_processor_code,
        "create_delivery": create_delivery,
        "update_destination": update_destination,
    }
