"""The sandbox's Lambda: Python functions really run, each invocation in a subprocess, with Lambda's answers.

Every test deploys functions of its own (deleted after it) from a zip written here.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
import re
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration

BUCKET = "loanlake-data"
ROLE = "loanlake-sandbox-test-lambda"

ECHO = """
import logging
import os

import boto3

log = logging.getLogger("echo")
log.setLevel(logging.INFO)


def handler(event, context):
    print("echo got", event)
    log.info("echoing for %s", context.aws_request_id)
    key = f"tests/lambda/{context.function_name}.txt"
    boto3.client("s3").put_object(Bucket=os.environ["BUCKET"], Key=key, Body=os.environ["GREETING"].encode())
    return {
        "event": event,
        "greeting": os.environ["GREETING"],
        "region": os.environ["AWS_REGION"],
        "name": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
        "context_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "key": key,
    }
"""
SLOW = """
import subprocess
import time


def handler(event, context):
    child = subprocess.Popen(["sleep", "60"])
    print(f"child pid {child.pid}")
    time.sleep(60)
"""
BROKEN = """
def handler(event, context):
    return parse(event)


def parse(event):
    raise ValueError(f"cannot parse {event['loan']}")
"""


def zip_of(source: str, name: str = "app.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, source)
    return buffer.getvalue()


def lambda_processes() -> list[int]:
    """Live (not zombie) processes running the sandbox's Lambda runtime, or started by one (``sleep 60``)."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if (b"lambda_runtime.py" in cmdline or cmdline.strip() == b"sleep 60") and state not in "ZX":
            pids.append(int(proc.name))
    return pids


@pytest.fixture(autouse=True)
def nothing_left_behind() -> Iterator[None]:
    """No invocation's process or background thread outlives the test for long."""
    yield
    deadline = time.monotonic() + 10
    while (left := lambda_processes() + _threads()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"Lambda invocations still running: {left}"


def _threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("sandbox-lambda-")]


@pytest.fixture(scope="module")
def client(sandbox) -> object:
    return sandbox.boto3_client("lambda")


@pytest.fixture(scope="module")
def role(sandbox) -> str:
    iam = sandbox.boto3_client("iam")
    try:
        return iam.get_role(RoleName=ROLE)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument="{}")["Role"]["Arn"]


@pytest.fixture
def deploy(client, role) -> Iterator[Callable[..., str]]:
    """Create functions as a deployment would; every one is deleted after the test."""
    names: list[str] = []

    def create(source: str, **options: object) -> str:
        name = f"loanlake-test-{uuid.uuid4().hex[:10]}"
        spec = {"Runtime": "python3.11", "Handler": "app.handler", "Timeout": 10} | options
        client.create_function(FunctionName=name, Role=role, Code={"ZipFile": zip_of(source)}, **spec)
        names.append(name)
        return name

    yield create
    for name in names:
        client.delete_function(FunctionName=name)


def invoke(client, name: str, event: object, **options: object) -> tuple[dict, object, str]:
    """Response, decoded payload and log tail of a synchronous invocation."""
    response = client.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail", **options)
    payload = json.loads(response["Payload"].read())
    return response, payload, base64.b64decode(response["LogResult"]).decode()


def test_handler_runs_with_its_environment_and_reaches_the_sandbox(client, deploy, s3) -> None:
    name = deploy(ECHO, Environment={"Variables": {"GREETING": "hello loans", "BUCKET": BUCKET}})

    response, payload, log_tail = invoke(client, name, {"loan": "F123Q1000001"})

    assert "FunctionError" not in response
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert payload["event"] == {"loan": "F123Q1000001"}
    assert (payload["greeting"], payload["region"]) == ("hello loans", "us-east-1")
    assert payload["name"] == payload["context_name"] == name
    assert 0 < payload["remaining_ms"] <= 10_000
    written = s3.get_object(Bucket=BUCKET, Key=payload["key"])["Body"].read()  # boto3 in the function hit the sandbox
    assert written == b"hello loans"
    assert "echo got {'loan': 'F123Q1000001'}" in log_tail
    assert re.search(r"^\[INFO\]\t\S+Z\t(\S+)\techoing for \1$", log_tail, re.MULTILINE)  # the runtime's log format
    assert log_tail.startswith("START RequestId: ") and "\nREPORT RequestId: " in log_tail
    s3.delete_object(Bucket=BUCKET, Key=payload["key"])


def test_log_tail_only_when_asked(client, deploy) -> None:
    name = deploy(ECHO, Environment={"Variables": {"GREETING": "hi", "BUCKET": BUCKET}})

    response = client.invoke(FunctionName=name, Payload=b"{}")

    assert "LogResult" not in response
    assert json.loads(response["Payload"].read())["greeting"] == "hi"


def test_new_code_runs_after_update_function_code(client, deploy) -> None:
    name = deploy("def handler(event, context):\n    return 'v1'\n")
    assert invoke(client, name, {})[1] == "v1"

    client.update_function_code(FunctionName=name, ZipFile=zip_of("def handler(event, context):\n    return 'v2'\n"))

    assert invoke(client, name, {})[1] == "v2"


def test_timeout_kills_the_function_and_its_children(client, deploy) -> None:
    name = deploy(SLOW, Timeout=1)

    started = time.monotonic()
    response, payload, log_tail = invoke(client, name, {})

    assert time.monotonic() - started < 10
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert payload["errorMessage"].endswith("Error: Task timed out after 1.00 seconds")
    assert "Task timed out after 1.00 seconds" in log_tail
    assert "child pid " in log_tail  # what it printed before it was killed is in its log


def test_handler_exception_is_an_unhandled_function_error(client, deploy) -> None:
    name = deploy(BROKEN)

    response, payload, log_tail = invoke(client, name, {"loan": "F123Q1000002"})

    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "cannot parse F123Q1000002"
    handler_frame, parse_frame = payload["stackTrace"]  # the runtime's own frames left out, as on Lambda
    assert ", in handler\n" in handler_frame and ", in parse\n" in parse_frame
    assert "[ERROR] ValueError: cannot parse F123Q1000002" in log_tail


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        ("missing.handler", "Runtime.ImportModuleError", "Unable to import module 'missing'"),
        ("app.nowhere", "Runtime.HandlerNotFound", "Handler 'nowhere' missing on module 'app'"),
    ],
)
def test_a_handler_that_cannot_load_is_a_runtime_error(client, deploy, handler, error_type, message) -> None:
    name = deploy(ECHO, Handler=handler)

    response, payload, _ = invoke(client, name, {})

    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == error_type
    assert payload["errorMessage"].startswith(message)


def test_other_runtimes_are_refused_clearly(client, deploy) -> None:
    name = deploy("exports.handler = async () => 1;", Runtime="nodejs20.x", Handler="index.handler")

    with pytest.raises(ClientError) as refused:
        client.invoke(FunctionName=name, Payload=b"{}")

    assert refused.value.response["Error"]["Code"] == "InvalidRuntimeException"
    assert "Python functions only" in refused.value.response["Error"]["Message"]


def test_event_invocation_runs_in_the_background(client, deploy, s3) -> None:
    name = deploy(ECHO, Environment={"Variables": {"GREETING": "later", "BUCKET": BUCKET}})

    response = client.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")

    assert response["StatusCode"] == 202
    key = f"tests/lambda/{name}.txt"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount"):
        time.sleep(0.2)
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"later"
    s3.delete_object(Bucket=BUCKET, Key=key)


def test_invocations_are_logged_and_measured(sandbox, client, deploy) -> None:
    name = deploy(BROKEN)
    invoke(client, name, {"loan": "a"})
    invoke(client, name, {"loan": "b"})

    logs = sandbox.boto3_client("logs")
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    assert sum("[ERROR] ValueError: cannot parse" in event["message"] for event in events) == 2
    now = datetime.datetime.now(datetime.UTC)
    sums = {
        metric: sandbox.boto3_client("cloudwatch").get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName=metric,
            Dimensions=[{"Name": "FunctionName", "Value": name}],
            StartTime=now - datetime.timedelta(minutes=5),
            EndTime=now + datetime.timedelta(minutes=1),
            Period=3600,
            Statistics=["Sum"],
        )["Datapoints"][0]["Sum"]
        for metric in ("Invocations", "Errors")
    }
    assert sums == {"Invocations": 2, "Errors": 2}
