"""What the stream_health tasks need from Airflow at run time: config, clients, the findings of the check tasks."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from loanlake.alerts import AlertedElsewhere
from loanlake.config import LoanlakeConfig
from loanlake.s3keys import run_part
from loanlake.streaming import checks, findings, packaging, remediation
from loanlake.streaming.findings import COMPONENTS, Finding
from loanlake.tasks import aws_client
from loanlake.tasks import config as _config
from loanlake.tasks import fail as _fail

log = logging.getLogger("loanlake.streaming")

FINDINGS_KEY = "findings"


def check_task_id(component: str) -> str:
    return f"checks.{component}"


def _arns(config: LoanlakeConfig) -> tuple[str, str]:
    """The stream's and the processor's ARNs, from the caller's account (they may not exist yet)."""
    identity = aws_client(config, "sts").get_caller_identity()
    partition, account = identity["Arn"].split(":")[1], identity["Account"]
    spec = config.streaming
    return (
        f"arn:{partition}:kinesis:{config.region}:{account}:stream/{spec.stream.name}",
        f"arn:{partition}:lambda:{config.region}:{account}:function:{spec.processor.function_name}",
    )


def _processor_zip(config: LoanlakeConfig) -> packaging.LambdaZip:
    return packaging.build_zip(packaging.lambda_source_dir(config.streaming.processor.source))


def _buckets(config: LoanlakeConfig) -> list[str]:
    """The buckets the pipeline writes: the data bucket, and the one EMR writes its logs to."""
    return list(dict.fromkeys([config.data_bucket, config.emr.log_uri.removeprefix("s3://").split("/", 1)[0]]))


def _metrics(config: LoanlakeConfig, now: datetime) -> checks.StreamMetrics:
    start = now - timedelta(minutes=config.streaming.window_minutes)
    return checks.stream_metrics(aws_client(config, "cloudwatch"), config.streaming.stream.name, start, now)


def run_check(component: str, context: dict[str, Any]) -> None:
    """Run one component's checks, log a PASS/FAIL line each, keep them in XCom; fail at once on a problem."""
    config = _config()
    spec, now = config.streaming, datetime.now(UTC)
    if component == checks.STREAM:
        found = checks.check_stream(aws_client(config, "kinesis"), spec, _metrics(config, now))
    elif component == checks.PROCESSOR:
        found = checks.check_processor(aws_client(config, "lambda"), spec, _processor_zip(config).code_sha256)
    elif component == checks.DELIVERY_STREAM:
        stream_arn, processor_arn = _arns(config)
        found = checks.check_delivery_stream(
            aws_client(config, "firehose"), spec, config.data_bucket, stream_arn, processor_arn
        )
    elif component == checks.DELIVERY:
        found = checks.check_delivery(aws_client(config, "s3"), spec, config.data_bucket, _metrics(config, now), now)
    else:
        found = checks.check_buckets(aws_client(config, "s3"), _buckets(config))
    for finding in found:
        log.info(finding.line)
    context["ti"].xcom_push(key=FINDINGS_KEY, value=[finding.to_dict() for finding in found])
    failures = findings.problems(found)
    if failures:  # the report's alert lists every problem, this one's included
        raise AlertedElsewhere(f"{component}: {len(failures)} problem(s): " + "; ".join(f.line for f in failures))


def _collected(context: dict[str, Any]) -> tuple[list[Finding], list[str]]:
    """Every check task's findings, and the components whose task left none (it could not run)."""
    found, missing = [], []
    for component in COMPONENTS:
        pushed = context["ti"].xcom_pull(task_ids=check_task_id(component), key=FINDINGS_KEY)
        if pushed is None:
            missing.append(component)
        else:
            found += [Finding.from_dict(item) for item in pushed]
    return found, missing


def remediate(enabled: bool, context: dict[str, Any]) -> list[dict[str, Any]]:
    """With ``remediate=true``: apply the fixes the failed checks carry; the actions taken."""
    if not enabled:
        log.info("remediation is off (Param remediate=false): nothing changed")
        return []
    config = _config()
    found, _ = _collected(context)
    if not findings.problems(found):
        log.info("nothing to remediate")
        return []
    stream_arn, processor_arn = _arns(config)
    clients = remediation.Clients(
        aws_client(config, "kinesis"),
        aws_client(config, "firehose"),
        aws_client(config, "lambda"),
        aws_client(config, "s3"),
    )
    target = remediation.Target(config.data_bucket, stream_arn, processor_arn, _processor_zip(config).content)
    return remediation.remediate(found, config.streaming, clients, target)


def report(context: dict[str, Any]) -> str:
    """The run's report: JSON to S3, a table in the log; fails listing every problem remediation did not fix."""
    config = _config()
    found, missing = _collected(context)
    actions = context["ti"].xcom_pull(task_ids="remediate") or []
    fixed = {item for action in actions for item in action["fixes"]}
    remaining = [f for f in findings.problems(found) if findings.key(f) not in fixed]
    unchecked = [f"{component}: the check could not run (see its task log)" for component in missing]
    now = datetime.now(UTC)
    body = {
        "run_id": context["run_id"],
        "checked_at": now.isoformat(),
        "window_minutes": config.streaming.window_minutes,
        "healthy": not remaining and not unchecked,
        "findings": [f.to_dict() for f in found],
        "remediation": actions,
        "problems": [f.line for f in remaining] + unchecked,
    }
    key = f"{config.streaming.report_prefix}/{now:%Y/%m/%d}/{run_part(context['run_id'])}.json"
    aws_client(config, "s3").put_object(
        Bucket=config.data_bucket, Key=key, Body=json.dumps(body, indent=2).encode(), ContentType="application/json"
    )
    uri = f"s3://{config.data_bucket}/{key}"
    log.info("stream health report %s\n%s", uri, findings.table(found, fixed))
    for action in actions:
        log.info("remediated: %s", action["done"])
    if body["problems"]:
        count = len(body["problems"])
        raise _fail(f"stream unhealthy ({count} problem(s), report {uri}): " + "; ".join(body["problems"]))
    return uri
