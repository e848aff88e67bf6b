"""The sandbox's Kinesis -> Firehose -> S3 flow: a worker reads the stream, the processing Lambda really runs,
Ok records land under the prefix, failed ones under the error prefix, and Kinesis records CloudWatch metrics.

Every test creates its own stream, delivery stream and function (deleted after it) in a bucket of the module.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import io
import json
import re
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration

ROLE = "loanlake-sandbox-test-firehose"
TIMEOUT = 60.0
PROCESSOR = """
import base64
import json


def handler(event, context):
    records = []
    for record in event["records"]:
        loan = json.loads(base64.b64decode(record["data"]))
        result = "ProcessingFailed" if loan["upb"] < 0 else "Dropped" if loan.get("test") else "Ok"
        data = json.dumps({"loan_id": loan["loan_id"], "upb": loan["upb"], "checked": True}) + "\\n"
        data = base64.b64encode(data.encode()).decode()
        records.append({"recordId": record["recordId"], "result": result, "data": data})
    return {"records": records}
"""
RAISES = "def handler(event, context):\n    raise RuntimeError('transformer down')\n"
LOSES_ONE = (
    "def handler(event, context):\n    return {'records': [dict(r, result='Ok') for r in event['records'][1:]]}\n"
)


@dataclass(frozen=True)
class Pipeline:
    name: str  # of the Kinesis stream, the delivery stream and the function
    function_arn: str
    prefix: str  # of delivered objects, and of error objects


def zip_of(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def loans(count: int) -> list[dict]:
    """Loan events; every fifth has a negative balance (the processor fails it), every seventh is a test record."""
    return [
        {"loan_id": f"F23Q1{n:07d}", "upb": -1.0 if n % 5 == 0 else 1000.0 + n, "test": n % 7 == 3}
        for n in range(count)
    ]


def _workers() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("sandbox-firehose-")]


@pytest.fixture(autouse=True)
def no_worker_left_behind() -> Iterator[None]:
    """Deleting its delivery stream ends a worker."""
    yield
    assert not _workers(), f"Firehose workers still running: {_workers()}"


@pytest.fixture(scope="module")
def clients(sandbox) -> dict[str, object]:
    return {name: sandbox.boto3_client(name) for name in ("kinesis", "firehose", "lambda", "cloudwatch", "s3", "iam")}


@pytest.fixture(scope="module")
def role(clients) -> str:
    iam = clients["iam"]
    try:
        return iam.get_role(RoleName=ROLE)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument="{}")["Role"]["Arn"]


@pytest.fixture(scope="module")
def bucket(clients) -> Iterator[str]:
    """A bucket of the module's own (default prefixes write at the bucket root), emptied and deleted at the end."""
    s3, name = clients["s3"], f"loanlake-firehose-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    yield name
    for key in keys(s3, name, ""):
        s3.delete_object(Bucket=name, Key=key)
    s3.delete_bucket(Bucket=name)


@pytest.fixture
def pipeline(clients, role, bucket) -> Iterator[Callable[..., Pipeline]]:
    """Build stream -> delivery stream (-> processor) -> S3 as infrastructure code would; all deleted after."""
    made: list[Callable[[], object]] = []

    def build(processor: str | None, *, shards: int = 2, retries: int = 3, **destination: object) -> Pipeline:
        name = f"loanlake-test-{uuid.uuid4().hex[:8]}"
        clients["kinesis"].create_stream(StreamName=name, ShardCount=shards)
        made.append(lambda: clients["kinesis"].delete_stream(StreamName=name))
        stream_arn = clients["kinesis"].describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamARN"
        ]
        config = {
            "RoleARN": role,
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "Prefix": f"{name}/data/!{{timestamp:yyyy/MM/dd/HH}}/",
            "ErrorOutputPrefix": f"{name}/errors/!{{firehose:error-output-type}}/!{{timestamp:yyyy/MM/dd}}/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1},
            "CompressionFormat": "GZIP",
        } | destination
        config = {key: value for key, value in config.items() if value is not None}  # None: leave it out
        function_arn = ""
        if processor is not None:
            function_arn = clients["lambda"].create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=role,
                Handler="app.handler",
                Code={"ZipFile": zip_of(processor)},
                Timeout=10,
            )["FunctionArn"]
            made.append(lambda: clients["lambda"].delete_function(FunctionName=name))
            parameters = {"LambdaArn": function_arn, "NumberOfRetries": str(retries), "BufferIntervalInSeconds": "1"}
            config["ProcessingConfiguration"] = {
                "Enabled": True,
                "Processors": [
                    {
                        "Type": "Lambda",
                        "Parameters": [{"ParameterName": k, "ParameterValue": v} for k, v in parameters.items()],
                    }
                ],
            }
        clients["firehose"].create_delivery_stream(
            DeliveryStreamName=name,
            DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn, "RoleARN": role},
            ExtendedS3DestinationConfiguration=config,
        )
        made.append(lambda: clients["firehose"].delete_delivery_stream(DeliveryStreamName=name))
        return Pipeline(name, function_arn, f"{name}/")

    yield build
    for undo in reversed(made):
        undo()


def keys(s3, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def lines(s3, bucket: str, prefix: str) -> list[str]:
    """Every line of every object under a prefix (gunzipped when the key says .gz)."""
    found = []
    for key in keys(s3, bucket, prefix):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        found += (gzip.decompress(body) if key.endswith(".gz") else body).decode().splitlines()
    return found


def loan_count(s3, bucket: str, prefix: str) -> int:
    """Loan events under a prefix (without a processor they are concatenated, with no delimiter)."""
    return "".join(lines(s3, bucket, prefix)).count('"loan_id"')


def put(kinesis, stream: str, events: list[dict]) -> list[bytes]:
    """Put the events as a producer does (one PutRecords call); the bytes put, in order."""
    data = [json.dumps(event).encode() for event in events]
    response = kinesis.put_records(
        StreamName=stream, Records=[{"Data": d, "PartitionKey": d[:20].decode()} for d in data]
    )
    assert response["FailedRecordCount"] == 0
    return data


def wait_for(count: Callable[[], int], expected: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while count() < expected and time.monotonic() < deadline:
        time.sleep(0.5)
    assert count() == expected


def metric_sum(cloudwatch, namespace: str, metric: str, dimension: tuple[str, str]) -> float:
    now = datetime.datetime.now(datetime.UTC)
    datapoints = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": dimension[0], "Value": dimension[1]}],
        StartTime=now - datetime.timedelta(minutes=10),
        EndTime=now + datetime.timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(point["Sum"] for point in datapoints)


def test_processed_records_land_in_s3_and_failures_in_the_error_prefix(clients, pipeline, bucket) -> None:
    flow = pipeline(PROCESSOR)
    events = loans(60)
    data = put(clients["kinesis"], flow.name, events)
    good = [e for e in events if e["upb"] >= 0 and not e["test"]]
    bad = [d for d, e in zip(data, events, strict=True) if e["upb"] < 0]
    dropped = [e for e in events if e["upb"] >= 0 and e["test"]]
    s3 = clients["s3"]

    wait_for(lambda: len(lines(s3, bucket, f"{flow.prefix}data/")), len(good))
    wait_for(lambda: len(lines(s3, bucket, f"{flow.prefix}errors/")), len(bad))

    delivered = [json.loads(line) for line in lines(s3, bucket, f"{flow.prefix}data/")]
    assert sorted(d["loan_id"] for d in delivered) == sorted(e["loan_id"] for e in good)
    assert all(d["checked"] for d in delivered)  # what the processor returned, not what was put
    errors = [json.loads(line) for line in lines(s3, bucket, f"{flow.prefix}errors/")]
    assert sorted(base64.b64decode(e["rawData"]) for e in errors) == sorted(bad)  # exactly the bytes put
    assert {(e["errorCode"], e["attemptsMade"], e["lambdaArn"]) for e in errors} == {
        ("Lambda.ProcessingFailedStatus", 1, flow.function_arn)
    }
    assert all(e["arrivalTimestamp"] <= e["attemptEndingTimestamp"] for e in errors)
    assert len(delivered) + len(errors) + len(dropped) == len(events)  # nothing lost
    day = datetime.datetime.now(datetime.UTC)
    for key in keys(s3, bucket, flow.prefix):
        assert re.fullmatch(
            rf"{flow.prefix}(data/\d{{4}}/\d\d/\d\d/\d\d|errors/processing-failed/{day:%Y}/\d\d/\d\d)/"
            rf"{flow.name}-1-\d{{4}}(-\d\d){{5}}-[0-9a-f-]{{36}}\.gz",
            key,
        ), key


def test_kinesis_records_cloudwatch_metrics_of_writes_and_reads(clients, pipeline, bucket) -> None:
    flow = pipeline(None)
    data = put(clients["kinesis"], flow.name, loans(40))
    wait_for(lambda: loan_count(clients["s3"], bucket, f"{flow.prefix}data/"), 40)
    cloudwatch, stream = clients["cloudwatch"], ("StreamName", flow.name)

    assert metric_sum(cloudwatch, "AWS/Kinesis", "IncomingRecords", stream) == 40
    assert metric_sum(cloudwatch, "AWS/Kinesis", "PutRecords.TotalRecords", stream) == 40
    assert metric_sum(cloudwatch, "AWS/Kinesis", "PutRecords.Bytes", stream) == sum(len(d) + 20 for d in data)
    assert metric_sum(cloudwatch, "AWS/Kinesis", "GetRecords.Records", stream) == 40  # Firehose's reads
    assert metric_sum(cloudwatch, "AWS/Kinesis", "WriteProvisionedThroughputExceeded", stream) == 0
    assert metric_sum(cloudwatch, "AWS/Firehose", "DeliveryToS3.Records", ("DeliveryStreamName", flow.name)) == 40
    now = datetime.datetime.now(datetime.UTC)
    query = {
        "Id": "incoming",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/Kinesis",
                "MetricName": "IncomingBytes",
                "Dimensions": [dict(zip(("Name", "Value"), stream, strict=True))],
            },
            "Period": 3600,
            "Stat": "Sum",
        },
    }
    result = cloudwatch.get_metric_data(
        MetricDataQueries=[query],
        StartTime=now - datetime.timedelta(hours=1),
        EndTime=now + datetime.timedelta(minutes=1),
    )["MetricDataResults"][0]
    assert sum(result["Values"]) == sum(len(d) + 20 for d in data)


def test_writes_beyond_a_shards_limit_are_counted(clients, pipeline) -> None:
    flow = pipeline(None, shards=1)
    records = [{"Data": b"x" * 500_000, "PartitionKey": "k"} for _ in range(3)]  # 1.5 MB in one second, one shard

    clients["kinesis"].put_records(StreamName=flow.name, Records=records)

    over = metric_sum(
        clients["cloudwatch"], "AWS/Kinesis", "WriteProvisionedThroughputExceeded", ("StreamName", flow.name)
    )
    assert over == 1  # the third record is past 1 MiB


@pytest.mark.parametrize(
    ("processor", "code"),
    [(RAISES, "Lambda.FunctionError"), (LOSES_ONE, "Lambda.MissingRecordId")],
    ids=["function-error", "missing-record-id"],
)
def test_a_failed_invocation_sends_its_whole_batch_to_the_error_prefix(
    clients, pipeline, bucket, processor, code
) -> None:
    flow = pipeline(processor, retries=1)
    data = put(clients["kinesis"], flow.name, loans(10))
    s3 = clients["s3"]

    wait_for(lambda: len(lines(s3, bucket, f"{flow.prefix}errors/")), 10)

    errors = [json.loads(line) for line in lines(s3, bucket, f"{flow.prefix}errors/")]
    assert sorted(base64.b64decode(e["rawData"]) for e in errors) == sorted(data)
    assert {(e["errorCode"], e["attemptsMade"]) for e in errors} == {(code, 2)}  # one retry
    assert not keys(s3, bucket, f"{flow.prefix}data/")


def test_without_processor_or_prefix_records_are_delivered_as_put(clients, pipeline, bucket) -> None:
    flow = pipeline(None, Prefix=None, ErrorOutputPrefix=None, CompressionFormat=None)
    day = datetime.datetime.now(datetime.UTC)
    data = put(clients["kinesis"], flow.name, loans(5))
    s3 = clients["s3"]

    def mine() -> list[str]:
        return [key for key in keys(s3, bucket, f"{day:%Y}/") if f"/{flow.name}-1-" in key]

    wait_for(lambda: len(mine()), 1)

    (key,) = mine()
    assert re.fullmatch(rf"\d{{4}}/\d\d/\d\d/\d\d/{flow.name}-1-\d{{4}}(-\d\d){{5}}-[0-9a-f-]{{36}}", key)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert sorted(body.replace(b"}{", b"}\n{").split(b"\n")) == sorted(data)  # concatenated, no delimiter
    s3.delete_object(Bucket=bucket, Key=key)


def test_records_put_before_the_delivery_stream_existed_are_not_delivered(clients, pipeline, bucket, role) -> None:
    flow = pipeline(None)
    put(clients["kinesis"], flow.name, loans(3))
    wait_for(lambda: loan_count(clients["s3"], bucket, f"{flow.prefix}data/"), 3)
    clients["firehose"].delete_delivery_stream(DeliveryStreamName=flow.name)
    assert not _workers()
    stream_arn = clients["kinesis"].describe_stream_summary(StreamName=flow.name)["StreamDescriptionSummary"][
        "StreamARN"
    ]

    clients["firehose"].create_delivery_stream(  # a new one starts at LATEST, as Firehose does
        DeliveryStreamName=flow.name,
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn, "RoleARN": role},
        ExtendedS3DestinationConfiguration={
            "RoleARN": role,
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "Prefix": f"{flow.prefix}again/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1},
        },
    )
    put(clients["kinesis"], flow.name, loans(2))

    wait_for(lambda: loan_count(clients["s3"], bucket, f"{flow.prefix}again/"), 2)


def test_direct_put_keeps_working_and_a_kinesis_source_refuses_it(clients, pipeline, role, bucket) -> None:
    flow = pipeline(None)
    with pytest.raises(ClientError) as refused:
        clients["firehose"].put_record_batch(DeliveryStreamName=flow.name, Records=[{"Data": b"x"}])
    assert refused.value.response["Error"]["Code"] == "InvalidArgumentException"

    direct = f"{flow.name}-direct"
    clients["firehose"].create_delivery_stream(
        DeliveryStreamName=direct,
        ExtendedS3DestinationConfiguration={
            "RoleARN": role,
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "Prefix": f"{flow.prefix}direct/",
        },
    )
    try:
        response = clients["firehose"].put_record_batch(
            DeliveryStreamName=direct, Records=[{"Data": b"a"}, {"Data": b"b"}]
        )
        assert response["FailedPutCount"] == 0
        assert lines(clients["s3"], bucket, f"{flow.prefix}direct/") == ["ab"]  # moto's DirectPut: written at once
    finally:
        clients["firehose"].delete_delivery_stream(DeliveryStreamName=direct)


def test_what_the_sandbox_cannot_deliver_is_refused_at_creation(clients, role, bucket) -> None:
    name = f"loanlake-test-{uuid.uuid4().hex[:8]}"
    clients["kinesis"].create_stream(StreamName=name, ShardCount=1)
    stream_arn = clients["kinesis"].describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    try:
        with pytest.raises(ClientError) as refused:
            clients["firehose"].create_delivery_stream(
                DeliveryStreamName=name,
                DeliveryStreamType="KinesisStreamAsSource",
                KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn, "RoleARN": role},
                ExtendedS3DestinationConfiguration={
                    "RoleARN": role,
                    "BucketARN": f"arn:aws:s3:::{bucket}",
                    "CompressionFormat": "Snappy",
                },
            )
        assert refused.value.response["Error"]["Code"] == "InvalidArgumentException"
        assert "CompressionFormat Snappy" in refused.value.response["Error"]["Message"]
        assert name not in clients["firehose"].list_delivery_streams()["DeliveryStreamNames"]
    finally:
        clients["kinesis"].delete_stream(StreamName=name)
