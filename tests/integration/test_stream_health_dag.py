"""stream_health with dag.test() against the sandbox: records really flow producer -> Kinesis -> Firehose (its
Lambda runs) -> S3; each planted fault is reported by name; remediation fixes what it can.

Every test declares a streaming spec of its own (names with a unique suffix), so tests never share resources.
"""

from __future__ import annotations

import io
import json
import os
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from botocore.exceptions import ClientError

from loanlake.streaming.producer import events, put_events
from sandbox import flow
from sandbox.runner import RunResult, run_dag

pytestmark = pytest.mark.integration

DAG_ID = "stream_health"
BUCKET = "loanlake-data"
CHECKS = ("checks.stream", "checks.delivery_stream", "checks.processor", "checks.delivery", "checks.buckets")
_dates = count()


def _run(remediate: bool = False) -> RunResult:
    logical_date = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=15 * next(_dates))
    return run_dag(DAG_ID, logical_date, {"remediate": remediate})


@pytest.fixture
def spec(sandbox, monkeypatch):
    """Set a fresh streaming spec for this test (on top of the sandbox's config); return it."""
    suffix = uuid.uuid4().hex[:8]
    config = json.loads(sandbox.env()["AIRFLOW_VAR_LOANLAKE_CONFIG"])
    config["streaming"] = {
        **config["streaming"],
        "stream": {"name": f"apps-{suffix}", "min_shards": 1, "max_shards": 4},
        "delivery": {
            **config["streaming"]["delivery"],
            "name": f"apps-{suffix}-to-s3",
            "prefix": f"streaming/{suffix}/apps/!{{timestamp:yyyy/MM/dd/HH}}/",
            "error_prefix": f"streaming/{suffix}/errors/!{{firehose:error-output-type}}/!{{timestamp:yyyy/MM/dd}}/",
        },
        "processor": {"function_name": f"transform-{suffix}"},
        "report_prefix": f"reports/{suffix}",
    }
    monkeypatch.setenv("AIRFLOW_VAR_LOANLAKE_CONFIG", json.dumps(config))
    yield config["streaming"] | {"suffix": suffix}
    firehose, kinesis, lam = (sandbox.boto3_client(name) for name in ("firehose", "kinesis", "lambda"))
    for undo in (
        lambda: firehose.delete_delivery_stream(DeliveryStreamName=f"apps-{suffix}-to-s3"),
        lambda: kinesis.delete_stream(StreamName=f"apps-{suffix}"),
        lambda: lam.delete_function(FunctionName=f"transform-{suffix}"),
    ):
        try:
            undo()
        except ClientError as error:  # a test that planted "missing" left nothing to delete
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise


def _report(sandbox, spec: dict) -> dict:
    """The newest report the run wrote under the spec's report prefix."""
    s3 = sandbox.boto3_client("s3")
    objects = s3.list_objects_v2(Bucket=BUCKET, Prefix=spec["report_prefix"] + "/").get("Contents", [])
    newest = max(objects, key=lambda o: o["LastModified"])
    return json.loads(s3.get_object(Bucket=BUCKET, Key=newest["Key"])["Body"].read())


def _failed_checks(report: dict) -> set[str]:
    return {f"{f['component']}/{f['check']}" for f in report["findings"] if not f["ok"]}


def _healthy(sandbox, spec) -> None:
    """Build everything as declared (remediation from nothing), and check that a plain run then passes."""
    built = _run(remediate=True)
    assert built.state == "success", built
    created = {action["action"] for action in _report(sandbox, spec)["remediation"]}
    assert {"create_stream", "create_processor", "create_delivery"} <= created
    checked = _run()
    assert checked.state == "success", checked
    assert all(checked.tasks[task] == "success" for task in CHECKS), checked
    assert _report(sandbox, spec)["problems"] == []


def test_records_flow_end_to_end_and_failed_ones_are_reported(sandbox, spec):
    _healthy(sandbox, spec)
    s3, kinesis = sandbox.boto3_client("s3"), sandbox.boto3_client("kinesis")
    produced, bad_every = 600, 40

    result = put_events(kinesis, spec["stream"]["name"], events(produced, seed=11, bad_every=bad_every))

    assert result.accepted == produced and not result.failed
    bad = produced // bad_every
    root = f"streaming/{spec['suffix']}/"

    def delivered() -> list[dict]:
        return flow.records(s3, BUCKET, root + "apps/")

    def failed() -> list[dict]:
        return flow.records(s3, BUCKET, root + "errors/")

    flow.wait_for(lambda: len(delivered()) + len(failed()), produced)
    good = delivered()
    assert len(good) == produced - bad, "every valid event is delivered once"
    assert len({event["application_id"] for event in good}) == produced - bad
    assert len(failed()) == bad, "every invalid one is under the error prefix"
    assert all(record["errorCode"] == "Lambda.ProcessingFailedStatus" for record in failed())
    assert all(s3_key.startswith(root + "errors/processing-failed/") for s3_key in _keys(s3, root + "errors/"))

    after = _run()

    assert after.state == "failed", after
    assert after.tasks["checks.delivery"] == "failed"
    assert after.tasks["checks.stream"] == "success", "the stream itself is healthy"
    report = _report(sandbox, spec)
    assert _failed_checks(report) == {"delivery/errors"}
    assert "error prefix" in report["problems"][0]
    assert "delivery/errors" in after.errors["report"]


def _keys(s3, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for p in pages for o in p.get("Contents", [])]


def test_a_missing_stream_is_reported_and_remediation_creates_everything(sandbox, spec):
    before = _run()

    assert before.state == "failed"
    report = _report(sandbox, spec)
    assert {"stream/exists", "delivery_stream/exists", "processor/exists"} <= _failed_checks(report)
    assert "does not exist" in before.errors["report"]
    assert report["healthy"] is False and report["remediation"] == []

    _healthy(sandbox, spec)
    summary = sandbox.boto3_client("kinesis").describe_stream_summary(StreamName=spec["stream"]["name"])
    assert summary["StreamDescriptionSummary"]["EncryptionType"] == "KMS"


def _put_traffic(sandbox, stream: str, records_per_minute: float) -> None:
    """Traffic as CloudWatch records it (one busy minute): what the sizing check reads."""
    sandbox.boto3_client("cloudwatch").put_metric_data(
        Namespace="AWS/Kinesis",
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": "StreamName", "Value": stream}],
                "Timestamp": datetime.now(UTC) - timedelta(minutes=2),
                "Value": value,
                "Unit": unit,
            }
            for name, value, unit in (
                ("IncomingRecords", records_per_minute, "Count"),
                ("IncomingBytes", records_per_minute * 300, "Bytes"),
            )
        ],
    )


def test_too_few_shards_for_the_traffic_is_resized_within_bounds(sandbox, spec):
    _healthy(sandbox, spec)
    stream = spec["stream"]["name"]
    _put_traffic(sandbox, stream, records_per_minute=150_000)  # 2,500 records/s: 3 shards

    before = _run()

    assert before.state == "failed" and before.tasks["checks.stream"] == "failed"
    assert "stream/shards" in _failed_checks(_report(sandbox, spec))
    assert "traffic needs 3" in before.errors["checks.stream"]

    fixed = _run(remediate=True)

    report = _report(sandbox, spec)
    assert [action["done"] for action in report["remediation"] if action["action"] == "update_shard_count"] == [
        f"shards of {stream}: 1 -> 2 -> 3"
    ]
    kinesis = sandbox.boto3_client("kinesis")
    assert kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["OpenShardCount"] == 3
    # The fake traffic is no delivery, so only the freshness check may still complain.
    assert _failed_checks(report) - {"delivery/fresh"} == {"stream/shards"}
    assert fixed.tasks["remediate"] == "success"


def test_traffic_beyond_max_shards_says_so_and_stops_at_the_bound(sandbox, spec):
    _healthy(sandbox, spec)
    _put_traffic(sandbox, spec["stream"]["name"], records_per_minute=600_000)  # 10,000 records/s: 10 shards

    _run(remediate=True)

    report = _report(sandbox, spec)
    problem = next(line for line in report["problems"] if "stream/shards" in line)
    assert "needs 10" in problem and "max_shards 4 caps it" in problem
    summary = sandbox.boto3_client("kinesis").describe_stream_summary(StreamName=spec["stream"]["name"])
    assert summary["StreamDescriptionSummary"]["OpenShardCount"] == 4


def test_a_delivery_stream_pointing_elsewhere_is_reported_and_set_back(sandbox, spec):
    _healthy(sandbox, spec)
    firehose = sandbox.boto3_client("firehose")
    name = spec["delivery"]["name"]
    description = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    firehose.update_destination(
        DeliveryStreamName=name,
        CurrentDeliveryStreamVersionId=description["VersionId"],
        DestinationId=description["Destinations"][0]["DestinationId"],
        ExtendedS3DestinationUpdate={"BucketARN": "arn:aws:s3:::loanlake-logs", "Prefix": "other/!{timestamp:yyyy}/"},
    )

    before = _run()

    assert before.tasks["checks.delivery_stream"] == "failed"
    assert _failed_checks(_report(sandbox, spec)) == {"delivery_stream/destination"}
    assert "loanlake-logs" in before.errors["checks.delivery_stream"]

    assert _run(remediate=True).state == "success"
    assert _run().state == "success"
    destination = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert destination["Destinations"][0]["ExtendedS3DestinationDescription"]["BucketARN"] == f"arn:aws:s3:::{BUCKET}"


def test_drifted_lambda_code_is_reported_and_redeployed(sandbox, spec):
    _healthy(sandbox, spec)
    lam = sandbox.boto3_client("lambda")
    function = spec["processor"]["function_name"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {'records': []}\n")
    lam.update_function_code(FunctionName=function, ZipFile=buffer.getvalue())

    before = _run()

    assert before.tasks["checks.processor"] == "failed"
    assert _failed_checks(_report(sandbox, spec)) == {"processor/code"}
    assert "CodeSha256" in before.errors["checks.processor"]

    assert _run(remediate=True).state == "success"
    assert "update_processor_code" in {a["action"] for a in _report(sandbox, spec)["remediation"]}
    assert _run().state == "success"


def test_a_stale_destination_is_reported_and_not_remediated(sandbox, spec):
    _healthy(sandbox, spec)
    _put_traffic(sandbox, spec["stream"]["name"], records_per_minute=600)  # records in, nothing delivered

    result = _run(remediate=True)

    assert result.state == "failed"
    report = _report(sandbox, spec)
    assert _failed_checks(report) == {"delivery/fresh"}
    assert report["remediation"] == [], "nothing to fix by remediation: the delivery itself must be looked at"
    assert "600 records arrived" in result.errors["report"]


def test_an_exposed_unencrypted_bucket_is_reported_and_protected_again(sandbox, spec):
    _healthy(sandbox, spec)
    s3 = sandbox.boto3_client("s3")
    s3.delete_public_access_block(Bucket="loanlake-logs")
    s3.delete_bucket_encryption(Bucket="loanlake-logs")

    before = _run()

    assert before.tasks["checks.buckets"] == "failed"
    assert _failed_checks(_report(sandbox, spec)) == {
        "buckets/loanlake-logs/public_access",
        "buckets/loanlake-logs/encryption",
    }
    assert "s3://loanlake-logs: no default encryption" in before.errors["report"]

    assert _run(remediate=True).state == "success"
    block = s3.get_public_access_block(Bucket="loanlake-logs")["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    rules = s3.get_bucket_encryption(Bucket="loanlake-logs")["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_a_retry_of_remediation_acting_on_the_same_findings_creates_nothing_twice(sandbox, spec):
    from loanlake.config import parse_config
    from loanlake.streaming import remediation, runtime
    from loanlake.streaming.findings import failed

    config = parse_config(json.loads(os.environ["AIRFLOW_VAR_LOANLAKE_CONFIG"]))
    stream_arn, processor_arn = runtime._arns(config)
    clients = remediation.Clients(*(sandbox.boto3_client(name) for name in ("kinesis", "firehose", "lambda", "s3")))
    target = remediation.Target(BUCKET, stream_arn, processor_arn, runtime._processor_zip(config).content)
    missing = [
        failed("stream", "exists", "missing", {"action": "create_stream"}),
        failed("processor", "exists", "missing", {"action": "create_processor"}),
        failed("delivery_stream", "exists", "missing", {"action": "create_delivery"}),
    ]

    first = remediation.remediate(missing, config.streaming, clients, target)
    again = remediation.remediate(missing, config.streaming, clients, target)  # the retry's stale findings

    assert [a["action"] for a in again] == [a["action"] for a in first]
    assert _run().state == "success", "everything exists once, as declared"
