"""The sandbox's SageMaker: built-in XGBoost jobs really train, endpoints score with the artifact, data capture lands.

Every request goes over HTTP to the session's sandbox through boto3 (and, once, the Amazon provider's hook). The data
is a small synthetic CSV with a learnable signal, in a bucket of this module's own; every job and endpoint has a
name of its own.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import textwrap
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from botocore.exceptions import ClientError
from sagemaker.core import image_uris

from sandbox.site import REGION, ROOT

pytestmark = pytest.mark.integration

BUCKET = "loanlake-test-sagemaker"
IMAGE = image_uris.retrieve("xgboost", REGION, "1.7-1")
ROLE = "arn:aws:iam::123456789012:role/loanlake-sagemaker-test"
HYPERPARAMETERS = {
    "objective": "binary:logistic",
    "eval_metric": "auc",
    "num_round": "60",
    "early_stopping_rounds": "5",
    "max_depth": "3",
    "eta": "0.3",
    "subsample": "0.9",
    "min_child_weight": "1",
    "scale_pos_weight": "1",
    "seed": "7",
}
ROWS, FEATURES = 2000, 5
LONG_RUNNING = {**HYPERPARAMETERS, "num_round": "1000000", "eta": "0.001", "early_stopping_rounds": "1000000"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def csv_of(features: np.ndarray, labels: np.ndarray | None = None) -> str:
    """SageMaker's CSV: the label first (for training), no header, an empty field for a missing value."""
    lines = []
    for index, row in enumerate(features):
        fields = ["" if np.isnan(value) else f"{value:.6f}" for value in row]
        lines.append(",".join(fields if labels is None else [str(int(labels[index])), *fields]))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def clients(sandbox) -> dict[str, Any]:
    return {name: sandbox.boto3_client(name) for name in ("s3", "sagemaker", "sagemaker-runtime", "logs")}


@pytest.fixture(scope="module")
def data(clients) -> dict[str, Any]:
    """Train (1,600 rows) and validation (400) CSVs in S3: the label depends on two features; 2% of values missing."""
    rng = np.random.default_rng(20260101)
    features = rng.normal(size=(ROWS, FEATURES))
    labels = (features[:, 0] - 0.8 * features[:, 1] + 0.5 * rng.normal(size=ROWS) > 0).astype(int)
    features[rng.random(size=features.shape) < 0.02] = np.nan
    s3 = clients["s3"]
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="data/train/part-00000.csv", Body=csv_of(features[:1000], labels[:1000]))
    s3.put_object(Bucket=BUCKET, Key="data/train/part-00001.csv", Body=csv_of(features[1000:1600], labels[1000:1600]))
    s3.put_object(Bucket=BUCKET, Key="data/validation/part-00000.csv", Body=csv_of(features[1600:], labels[1600:]))
    s3.put_object(Bucket=BUCKET, Key="data/bad/part-00000.csv", Body="1,0.5,0.1\n0,0.2,abc\n")
    return {"features": features[1600:], "labels": labels[1600:]}


def channel(name: str, prefix: str, bucket: str = BUCKET) -> dict[str, Any]:
    source = {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{prefix}", "S3DataDistributionType": "FullyReplicated"}
    return {"ChannelName": name, "ContentType": "text/csv", "DataSource": {"S3DataSource": source}}


def training_request(name: str, **changes: Any) -> dict[str, Any]:
    """A CreateTrainingJob request as the DAG sends it."""
    request = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": HYPERPARAMETERS,
        "InputDataConfig": [channel("train", "data/train/"), channel("validation", "data/validation/")],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    return request | changes


def wait_for(describe: Callable[[], dict], key: str, pending: set[str], timeout: float = 30) -> dict:
    """Poll until ``key`` leaves the pending states; the last description."""
    deadline = time.monotonic() + timeout
    while (description := describe())[key] in pending:
        assert time.monotonic() < deadline, f"still {description[key]} after {timeout} s"
        time.sleep(0.2)
    return description


def finished_job(sagemaker, name: str) -> dict:
    return wait_for(lambda: sagemaker.describe_training_job(TrainingJobName=name), "TrainingJobStatus", {"InProgress"})


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the Mann-Whitney statistic, ties ranked by their mean rank."""
    ranks = np.empty(len(scores))
    ranks[scores.argsort(kind="stable")] = np.arange(1, len(scores) + 1)
    _, groups, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.bincount(groups, weights=ranks) / counts)[groups]
    positives = labels == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def booster_at(s3, uri: str) -> xgb.Booster:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as archive:
        assert archive.getnames() == ["xgboost-model"]
        model = archive.extractfile("xgboost-model").read()
    booster = xgb.Booster()
    booster.load_model(bytearray(model))
    return booster


@pytest.fixture(scope="module")
def trained(clients, data) -> dict[str, Any]:
    """A training job run to its end; what was seen while it ran."""
    sagemaker = clients["sagemaker"]
    name = unique("loanlake-test-train")
    started = time.monotonic()
    sagemaker.create_training_job(**training_request(name))
    seen = []
    while (description := sagemaker.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] == "InProgress":
        if not seen or seen[-1] != description["SecondaryStatus"]:
            seen.append(description["SecondaryStatus"])
        assert time.monotonic() - started < 60
        time.sleep(0.1)
    return {"name": name, "seen": seen, "description": description}


def test_training_job_trains_and_reports_the_artifacts_validation_auc(clients, data, trained) -> None:
    description = trained["description"]

    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    transitions = [t["Status"] for t in description["SecondaryStatusTransitions"]]
    assert transitions == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert trained["seen"][0] == "Starting"  # InProgress from the start, Completed later
    assert set(trained["seen"]) <= set(transitions)
    assert all(t["EndTime"] >= t["StartTime"] for t in description["SecondaryStatusTransitions"])
    artifact = description["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == f"s3://{BUCKET}/models/{trained['name']}/output/model.tar.gz"
    assert description["TrainingStartTime"] <= description["TrainingEndTime"]
    assert description["BillableTimeInSeconds"] >= 1
    metrics = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    assert set(metrics) == {"train:auc", "validation:auc"}

    booster = booster_at(clients["s3"], artifact)
    predictions = booster.predict(xgb.DMatrix(data["features"], missing=np.nan))
    assert auc(data["labels"], predictions) == pytest.approx(metrics["validation:auc"], abs=1e-4)
    assert metrics["validation:auc"] > 0.85  # the signal was learnt
    assert booster.num_boosted_rounds() < 60  # early stopping kept the best iteration


def test_training_job_log_and_listing_show_the_job(clients, trained) -> None:
    logs, sagemaker = clients["logs"], clients["sagemaker"]
    name, created = trained["name"], trained["description"]["CreationTime"]
    group = "/aws/sagemaker/TrainingJobs"

    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{name}/")["logStreams"]
    assert [re.fullmatch(rf"{name}/algo-1-\d+", s["logStreamName"]) is not None for s in streams] == [True]
    events = logs.get_log_events(logGroupName=group, logStreamName=streams[0]["logStreamName"])["events"]
    lines = [event["message"] for event in events]
    assert any(re.fullmatch(r"\[0\]#011train-auc:\d\.\d{5}#011validation-auc:\d\.\d{5}", line) for line in lines)

    completed = sagemaker.list_training_jobs(StatusEquals="Completed")["TrainingJobSummaries"]
    assert name in {job["TrainingJobName"] for job in completed}
    earlier = sagemaker.list_training_jobs(CreationTimeBefore=created)["TrainingJobSummaries"]
    assert name not in {job["TrainingJobName"] for job in earlier}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"InputDataConfig": [channel("validation", "data/validation/")]},
            "AlgorithmError: framework error: \nKeyError: 'SM_CHANNEL_TRAIN'\n\n'SM_CHANNEL_TRAIN', exit code: 1",
        ),
        (
            {"InputDataConfig": [channel("train", "data/bad/")]},
            "ClientError: Failed to load csv data with exception:\ncould not convert string to float: 'abc' "
            f"(s3://{BUCKET}/data/bad/part-00000.csv, data row 2, column 3)",
        ),
        ({"HyperParameters": {**HYPERPARAMETERS, "eta": "2"}}, "ClientError: Hyperparameter eta: 2.0 is not in [0, 1]"),
        (
            {"HyperParameters": {**HYPERPARAMETERS, "max_dept": "3"}},
            "ClientError: Extraneous hyperparameter found: max_dept",
        ),
    ],
    ids=["no-train-channel", "non-numeric-csv", "eta-out-of-range", "unknown-hyperparameter"],
)
def test_failed_training_job_says_why(clients, data, changes, reason) -> None:
    sagemaker = clients["sagemaker"]
    name = unique("loanlake-test-fail")
    sagemaker.create_training_job(**training_request(name, **changes))

    description = finished_job(sagemaker, name)

    assert (description["TrainingJobStatus"], description["SecondaryStatus"]) == ("Failed", "Failed")
    assert description["FailureReason"] == reason
    assert "ModelArtifacts" not in description
    assert "Contents" not in clients["s3"].list_objects_v2(Bucket=BUCKET, Prefix=f"models/{name}/")


def test_create_training_job_refuses_a_name_in_use_and_an_empty_prefix(clients, trained) -> None:
    sagemaker = clients["sagemaker"]

    with pytest.raises(ClientError) as in_use:
        sagemaker.create_training_job(**training_request(trained["name"]))
    with pytest.raises(ClientError) as empty:
        sagemaker.create_training_job(**training_request(unique("t"), InputDataConfig=[channel("train", "nothing/")]))

    assert in_use.value.response["Error"]["Code"] == "ResourceInUse"
    assert in_use.value.response["Error"]["Message"].startswith("Training job names must be unique")
    assert trained["name"] in in_use.value.response["Error"]["Message"]
    assert empty.value.response["Error"]["Code"] == "ValidationException"
    assert f'No S3 objects found under S3 URL "s3://{BUCKET}/nothing/"' in empty.value.response["Error"]["Message"]


def test_stop_training_job_stops_it(clients, data) -> None:
    sagemaker = clients["sagemaker"]
    name = unique("loanlake-test-stop")
    sagemaker.create_training_job(**training_request(name, HyperParameters=LONG_RUNNING))
    wait_for(
        lambda: sagemaker.describe_training_job(TrainingJobName=name), "SecondaryStatus", {"Starting", "Downloading"}
    )

    sagemaker.stop_training_job(TrainingJobName=name)
    stopping = sagemaker.describe_training_job(TrainingJobName=name)
    stopped = wait_for(lambda: sagemaker.describe_training_job(TrainingJobName=name), "TrainingJobStatus", {"Stopping"})

    assert (stopping["TrainingJobStatus"], stopping["SecondaryStatus"]) == ("Stopping", "Stopping")
    assert (stopped["TrainingJobStatus"], stopped["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert "Contents" not in clients["s3"].list_objects_v2(Bucket=BUCKET, Prefix=f"models/{name}/")
    with pytest.raises(ClientError, match="the training job is in status Stopped"):
        sagemaker.stop_training_job(TrainingJobName=name)


def test_max_runtime_stops_the_job_with_a_reason(clients, data) -> None:
    sagemaker = clients["sagemaker"]
    name = unique("loanlake-test-runtime")
    request = training_request(name, HyperParameters=LONG_RUNNING, StoppingCondition={"MaxRuntimeInSeconds": 1})
    request |= {"EnableManagedSpotTraining": True, "CheckpointConfig": {"S3Uri": f"s3://{BUCKET}/checkpoints/{name}"}}
    with pytest.raises(ClientError, match="MaxWaitTimeInSeconds"):
        sagemaker.create_training_job(**request)
    sagemaker.create_training_job(
        **request | {"StoppingCondition": {"MaxRuntimeInSeconds": 1, "MaxWaitTimeInSeconds": 2}}
    )

    description = finished_job(sagemaker, name)

    assert (description["TrainingJobStatus"], description["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")
    assert "MaxRuntimeInSeconds (1 s)" in description["FailureReason"]


# -- endpoints -------------------------------------------------------------------------------------------------


def create_model(clients, artifact: str) -> str:
    name = unique("loanlake-test-model")
    container = {"Image": IMAGE, "ModelDataUrl": artifact}
    clients["sagemaker"].create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container)
    return name


def create_config(clients, model: str, capture: dict | None = None) -> str:
    """An endpoint config as the DAG sends it, with data capture when given."""
    name = unique("loanlake-test-config")
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": model,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
        "InitialVariantWeight": 1.0,
    }
    extra = {"DataCaptureConfig": capture} if capture else {}
    clients["sagemaker"].create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant], **extra)
    return name


def capture_config(prefix: str, **changes: Any) -> dict[str, Any]:
    config = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{BUCKET}/{prefix}",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
    }
    return config | changes


def endpoint_status(sagemaker, name: str) -> dict:
    return wait_for(lambda: sagemaker.describe_endpoint(EndpointName=name), "EndpointStatus", {"Creating", "Updating"})


def captured(s3, prefix: str, count: int, timeout: float = 15) -> list[tuple[str, dict]]:
    """(key, record) of the capture records under a prefix, once ``count`` are there."""
    deadline = time.monotonic() + timeout
    while True:
        records = []
        for obj in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []):
            body = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read().decode()
            records += [(obj["Key"], json.loads(line)) for line in body.splitlines()]
        if len(records) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.3)


@pytest.fixture(scope="module")
def endpoint(clients, trained) -> dict[str, Any]:
    """An endpoint serving the trained artifact with data capture (CSV, input and output, every invocation)."""
    sagemaker = clients["sagemaker"]
    artifact = trained["description"]["ModelArtifacts"]["S3ModelArtifacts"]
    name, prefix = unique("loanlake-test-endpoint"), unique("capture")
    config = create_config(clients, create_model(clients, artifact), capture_config(prefix))
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config)
    creating = sagemaker.describe_endpoint(EndpointName=name)
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
    yield {"name": name, "config": config, "prefix": prefix, "artifact": artifact, "creating": creating}
    sagemaker.delete_endpoint(EndpointName=name)


def test_endpoint_scores_with_the_deployed_artifact_and_captures_the_rows(clients, data, endpoint) -> None:
    sagemaker, runtime, s3 = clients["sagemaker"], clients["sagemaker-runtime"], clients["s3"]
    body = csv_of(data["features"][:25])
    rows = np.genfromtxt(io.StringIO(body), delimiter=",")  # what the endpoint gets: 6 decimals, NaN for missing

    response = runtime.invoke_endpoint(EndpointName=endpoint["name"], ContentType="text/csv", Body=body)
    answer = response["Body"].read().decode()
    described = sagemaker.describe_endpoint(EndpointName=endpoint["name"])
    records = captured(s3, f"{endpoint['prefix']}/", 1)

    assert endpoint["creating"]["EndpointStatus"] == "Creating"
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == endpoint["config"]
    assert [(v["VariantName"], v["CurrentWeight"], v["DesiredWeight"]) for v in described["ProductionVariants"]] == [
        ("AllTraffic", 1.0, 1.0)
    ]
    assert described["DataCaptureConfig"]["CaptureStatus"] == "Started"
    assert (response["ContentType"], response["InvokedProductionVariant"]) == ("text/csv", "AllTraffic")
    expected = booster_at(s3, endpoint["artifact"]).predict(xgb.DMatrix(rows, missing=np.nan))
    assert np.allclose([float(line) for line in answer.splitlines()], expected, atol=1e-7)
    assert len(answer.splitlines()) == len(rows)

    assert len(records) == 1
    key, record = records[0]
    hour, file = r"\d{4}/\d{2}/\d{2}/\d{2}", r"\d{2}-\d{2}-\d{3}-[0-9a-f-]{36}\.jsonl"
    assert re.fullmatch(rf"{endpoint['prefix']}/{endpoint['name']}/AllTraffic/{hour}/{file}", key), key
    assert record["eventVersion"] == "0"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", record["eventMetadata"]["inferenceTime"])
    uuid.UUID(record["eventMetadata"]["eventId"])
    sent, returned = record["captureData"]["endpointInput"], record["captureData"]["endpointOutput"]
    assert (sent["mode"], sent["encoding"], sent["observedContentType"]) == ("INPUT", "CSV", "text/csv")
    assert np.array_equal(np.genfromtxt(io.StringIO(sent["data"]), delimiter=","), rows, equal_nan=True)
    assert (returned["mode"], returned["encoding"], returned["data"]) == ("OUTPUT", "CSV", answer)


def test_invoke_endpoint_answers_errors_as_sagemaker(clients, endpoint) -> None:
    runtime = clients["sagemaker-runtime"]

    with pytest.raises(ClientError) as wrong_width:
        runtime.invoke_endpoint(EndpointName=endpoint["name"], ContentType="text/csv", Body="0.1,0.2,0.3")
    with pytest.raises(ClientError) as not_numbers:
        runtime.invoke_endpoint(EndpointName=endpoint["name"], ContentType="text/csv", Body="0.1,x,0.3,0.4,0.5")
    with pytest.raises(ClientError) as unknown:
        runtime.invoke_endpoint(EndpointName="loanlake-test-no-such-endpoint", ContentType="text/csv", Body="1")

    error = wrong_width.value.response
    assert (error["Error"]["Code"], error["OriginalStatusCode"]) == ("ModelError", 400)
    assert "Feature size of csv inference data 3 is not consistent with feature size of trained model 5" in str(error)
    assert not_numbers.value.response["OriginalStatusCode"] == 415
    assert "could not convert string to float: 'x'" in not_numbers.value.response["Error"]["Message"]
    assert unknown.value.response["Error"] == {
        "Code": "ValidationError",
        "Message": "Endpoint loanlake-test-no-such-endpoint of account 123456789012 not found.",
    }


def test_update_endpoint_rolls_back_on_a_missing_artifact_and_switches_on_a_good_one(clients, data, trained) -> None:
    sagemaker, runtime, s3 = clients["sagemaker"], clients["sagemaker-runtime"], clients["s3"]
    artifact = trained["description"]["ModelArtifacts"]["S3ModelArtifacts"]
    good = create_model(clients, artifact)
    missing_artifact = f"s3://{BUCKET}/models/{unique('none')}/output/model.tar.gz"
    first, broken = create_config(clients, good), create_config(clients, create_model(clients, missing_artifact))
    prefix = unique("capture")
    sampled = capture_config(prefix, InitialSamplingPercentage=50, CaptureOptions=[{"CaptureMode": "Input"}])
    sampled.pop("CaptureContentTypeHeader")
    second = create_config(clients, good, sampled)
    name = unique("loanlake-test-update")
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=first)
    endpoint_status(sagemaker, name)
    blue_green = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
            "TerminationWaitInSeconds": 0,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "loanlake-endpoint-errors"}]},
    }
    try:
        sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=broken, DeploymentConfig=blue_green)
        updating = sagemaker.describe_endpoint(EndpointName=name)
        rolled_back = endpoint_status(sagemaker, name)
        served = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body="0.1,0.2,0.3,0.4,0.5")
        sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=second, RetainAllVariantProperties=True)
        switched = endpoint_status(sagemaker, name)
        rows = ["0.1,0.2,0.3,0.4,0.5", "1,2,3,4,5", "-1,0,,1,2", "0,0,0,0,0"]
        for row in rows:
            runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=row)
        records = captured(s3, f"{prefix}/", 2)
    finally:
        sagemaker.delete_endpoint(EndpointName=name)

    assert (updating["EndpointStatus"], updating["EndpointConfigName"]) == ("Updating", first)
    assert (rolled_back["EndpointStatus"], rolled_back["EndpointConfigName"]) == ("InService", first)
    assert rolled_back["FailureReason"] == (
        f'Failed to download model data for container "container_1" from URL: "{missing_artifact}". Please ensure '
        "that there is an object located at the URL and that the role passed to CreateModel has permissions to "
        "download the object."
    )
    assert served["InvokedProductionVariant"] == "AllTraffic"  # the old config still serves
    assert (switched["EndpointStatus"], switched["EndpointConfigName"]) == ("InService", second)
    assert "FailureReason" not in switched
    assert switched["DataCaptureConfig"]["CurrentSamplingPercentage"] == 50
    inputs = [record["captureData"] for _, record in records]
    assert [set(data) for data in inputs] == [{"endpointInput"}, {"endpointInput"}]  # every second one, input only
    assert [d["endpointInput"]["encoding"] for d in inputs] == ["BASE64", "BASE64"]  # no CsvContentTypes given
    assert [base64.b64decode(d["endpointInput"]["data"]).decode() for d in inputs] == [rows[1], rows[3]]


def test_endpoint_whose_artifact_does_not_load_fails(clients) -> None:
    sagemaker, s3 = clients["sagemaker"], clients["s3"]
    key = f"models/{unique('garbage')}/model.tar.gz"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"not a tar.gz")
    name = unique("loanlake-test-broken")
    sagemaker.create_endpoint(
        EndpointName=name, EndpointConfigName=create_config(clients, create_model(clients, f"s3://{BUCKET}/{key}"))
    )

    failed = endpoint_status(sagemaker, name)
    with pytest.raises(ClientError, match=f"Endpoint {name} of account 123456789012 not found"):
        clients["sagemaker-runtime"].invoke_endpoint(EndpointName=name, ContentType="text/csv", Body="1,2,3,4,5")
    sagemaker.delete_endpoint(EndpointName=name)

    assert failed["EndpointStatus"] == "Failed"
    assert failed["FailureReason"] == (
        "The primary container for production variant AllTraffic did not pass the ping health check. "
        "Please check CloudWatch logs for this endpoint."
    )


def test_provider_hook_trains_and_reports_failures(data) -> None:
    from airflow.exceptions import AirflowException
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

    hook = SageMakerHook(aws_conn_id="aws_default")
    name = unique("loanlake-test-hook")

    hook.create_training_job(training_request(name), wait_for_completion=True, print_log=False, check_interval=1)
    with pytest.raises(AirflowException, match="Hyperparameter num_round: could not parse value"):
        bad = training_request(unique("loanlake-test-hook"), HyperParameters={**HYPERPARAMETERS, "num_round": "ten"})
        hook.create_training_job(bad, wait_for_completion=True, print_log=False, check_interval=1)

    assert hook.describe_training_job(name)["TrainingJobStatus"] == "Completed"


def test_provider_endpoint_operator_creates_then_updates_the_endpoint(clients, trained) -> None:
    from airflow.providers.amazon.aws.operators.sagemaker import SageMakerEndpointOperator

    artifact = trained["description"]["ModelArtifacts"]["S3ModelArtifacts"]
    name = unique("loanlake-test-operator")
    blue_green = {
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}}
    }

    def deploy(job: str) -> dict:
        variant = {"VariantName": "AllTraffic", "ModelName": job, "InitialInstanceCount": 1}
        config = {
            "Model": {"ModelName": job, "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": artifact}},
            "EndpointConfig": {
                "EndpointConfigName": job,
                "ProductionVariants": [variant | {"InstanceType": "ml.m5.large"}],
            },
            "Endpoint": {"EndpointName": name, "EndpointConfigName": job, "DeploymentConfig": blue_green},
        }
        config["Model"]["ExecutionRoleArn"] = ROLE
        operator = SageMakerEndpointOperator(
            task_id=f"deploy-{job}", config=config, aws_conn_id="aws_default", check_interval=1, max_ingestion_time=60
        )
        return operator.execute({})

    first, second = unique("loanlake-test-op"), unique("loanlake-test-op")
    try:
        created = deploy(first)
        updated = deploy(second)  # CreateEndpoint is refused, the operator falls back to UpdateEndpoint
    finally:
        with contextlib.suppress(ClientError):  # not created: the error above says why
            clients["sagemaker"].delete_endpoint(EndpointName=name)

    assert (created["Endpoint"]["EndpointStatus"], created["Endpoint"]["EndpointConfigName"]) == ("InService", first)
    assert (updated["Endpoint"]["EndpointStatus"], updated["Endpoint"]["EndpointConfigName"]) == ("InService", second)


STOP_SCRIPT = """
import boto3, threading, time
from pathlib import Path
from moto.server import ThreadedMotoServer
from sandbox.extensions import SandboxContext
from sandbox.extensions.sagemaker import sagemaker_runs_xgboost

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
url = "http://%s:%d" % server.get_host_and_port()
undo = sagemaker_runs_xgboost(SandboxContext(Path("/tmp"), url, "us-east-1", {}, {}))
client = lambda name: boto3.client(name, endpoint_url=url, region_name="us-east-1",
                                   aws_access_key_id="testing", aws_secret_access_key="testing")
s3, sagemaker = client("s3"), client("sagemaker")
s3.create_bucket(Bucket="loanlake-test-stop")
s3.put_object(Bucket="loanlake-test-stop", Key="train/a.csv", Body="1,0.5\\n0,0.1\\n" * 500)
request = REQUEST
sagemaker.create_training_job(**request)
while sagemaker.describe_training_job(TrainingJobName="stop-me")["SecondaryStatus"] != "Training":
    time.sleep(0.1)
undo()
job = sagemaker.describe_training_job(TrainingJobName="stop-me")
left = [t.name for t in threading.enumerate() if t.name.startswith("sandbox-sagemaker")]
server.stop()
print(job["TrainingJobStatus"], job["FailureReason"], left)
"""


def test_stopping_the_sandbox_stops_running_jobs_and_their_threads() -> None:
    request = training_request("stop-me", HyperParameters=LONG_RUNNING)
    request["InputDataConfig"] = [channel("train", "train/", bucket="loanlake-test-stop")]
    script = textwrap.dedent(STOP_SCRIPT).replace("REQUEST", repr(request))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "Stopped The sandbox stopped while the job ran. []"
