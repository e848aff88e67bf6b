"""orphan_sweeper with dag.test() against the sandbox: it ends what outlived its run, and nothing else."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from sandbox.extensions.sagemaker import FAULTS
from sandbox.runner import run_dag

pytestmark = pytest.mark.integration

BUCKET = "loanlake-data"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
VARIANT = {"InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
_dates = count()


def _sweep(dry_run: bool = False, **conf: object):
    logical_date = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=next(_dates))
    return run_dag("orphan_sweeper", logical_date, conf or {"dry_run": dry_run})


@pytest.fixture
def config(sandbox, monkeypatch):
    value = json.loads(sandbox.env()["AIRFLOW_VAR_LOANLAKE_CONFIG"])
    value["sweeper"] = {"cluster_max_age_hours": 0, "training_grace_minutes": 0}
    value["ml"] = value["ml"] | {"keep_models": 1}
    monkeypatch.setenv("AIRFLOW_VAR_LOANLAKE_CONFIG", json.dumps(value))


def _cluster(emr, name: str, tags: dict[str, str]) -> str:
    return emr.run_job_flow(
        Name=name,
        ReleaseLabel="emr-7.4.0",
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Tags=[{"Key": key, "Value": value} for key, value in tags.items()],
    )["JobFlowId"]


def _state(emr, cluster: str) -> str:
    return emr.describe_cluster(ClusterId=cluster)["Cluster"]["Status"]["State"]


def _mark_running(dag_id: str, run_id: str) -> None:
    """Make a finished run look as if it were still running, as a long run's would."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    with create_session() as session:
        session.query(DagRun).filter_by(dag_id=dag_id, run_id=run_id).update({"state": DagRunState.RUNNING})


def _hanging_job(sandbox, name: str) -> None:
    s3, sagemaker = sandbox.boto3_client("s3"), sandbox.boto3_client("sagemaker")
    prefix = f"sweeper-test/{name}"
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/train/part-0", Body=b"1,0.5\n0,0.1\n1,0.9\n0,0.2\n")
    FAULTS.hang_training(name)
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": XGBOOST, "TrainingInputMode": "File"},
        RoleArn="arn:aws:iam::123456789012:role/loanlake-sagemaker",
        HyperParameters={"objective": "binary:logistic", "num_round": "2"},
        InputDataConfig=[
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{prefix}/train/"}},
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/{prefix}/out/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 1},
    )
    deadline = time.monotonic() + 30
    while sagemaker.describe_training_job(TrainingJobName=name)["SecondaryStatus"] != "Training":
        assert time.monotonic() < deadline, "the planted job never reached Training"
        time.sleep(0.2)
    time.sleep(1.5)  # past its MaxRuntimeInSeconds, still in progress


def _models(sandbox, names: list[str]) -> None:
    sagemaker = sandbox.boto3_client("sagemaker")
    for name in names:
        sagemaker.create_model(
            ModelName=name,
            PrimaryContainer={"Image": XGBOOST, "ModelDataUrl": f"s3://{BUCKET}/sweeper-test/{name}/model.tar.gz"},
            ExecutionRoleArn="arn:aws:iam::123456789012:role/loanlake-sagemaker",
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": name,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
        time.sleep(1.1)  # creation times a second apart, so "newest" is well defined


def test_the_sweeper_ends_what_outlived_its_run_and_keeps_the_rest(sandbox, config):
    emr, sagemaker = sandbox.boto3_client("emr"), sandbox.boto3_client("sagemaker")
    earlier = _sweep(dry_run=True)
    assert earlier.state == "success", earlier
    _mark_running("orphan_sweeper", earlier.run_id)
    managed = {"loanlake:managed": "true", "dag_id": "loan_data_processing"}
    orphan = _cluster(emr, "loanlake-sandbox-orphan", managed | {"run_id": "manual__long_gone"})
    in_use = _cluster(emr, "loanlake-sandbox-in-use", managed | {"dag_id": "orphan_sweeper", "run_id": earlier.run_id})
    foreign = _cluster(emr, "not-ours", {"team": "someone-else"})
    _hanging_job(sandbox, "loanlake-xgb-hanging-1")
    _models(sandbox, ["loanlake-xgb-old-1", "loanlake-xgb-old-2", "loanlake-xgb-new-3"])

    dry = _sweep(dry_run=True)

    assert dry.state == "success", dry
    assert _state(emr, orphan) == "WAITING", "a dry run changes nothing"
    hanging = sagemaker.describe_training_job(TrainingJobName="loanlake-xgb-hanging-1")
    assert hanging["TrainingJobStatus"] == "InProgress"

    mistyped = _sweep(dryrun=True)

    assert mistyped.state == "failed", mistyped
    for sweep in ("sweep_clusters", "stop_overdue_training", "remove_surplus_models"):
        assert "'dryrun', not a Param of orphan_sweeper; its Params are 'dry_run'" in mistyped.errors[sweep]
    assert _state(emr, orphan) == "WAITING", "a mistyped dry_run sweeps nothing"
    assert "sweep(s) failed: clusters, models, training_jobs" in mistyped.errors["report"], "and the run fails"
    hanging = sagemaker.describe_training_job(TrainingJobName="loanlake-xgb-hanging-1")
    assert hanging["TrainingJobStatus"] == "InProgress"
    kept = {m["ModelName"] for m in sagemaker.list_models(NameContains="loanlake-xgb-", MaxResults=100)["Models"]}
    assert {"loanlake-xgb-old-1", "loanlake-xgb-old-2"} <= kept

    swept = _sweep()

    assert swept.state == "success", swept
    assert _state(emr, orphan) == "TERMINATED"
    assert _state(emr, in_use) == "WAITING", "its run is still running"
    assert _state(emr, foreign) == "WAITING", "not this package's"
    job = sagemaker.describe_training_job(TrainingJobName="loanlake-xgb-hanging-1")
    assert job["TrainingJobStatus"] in ("Stopping", "Stopped")
    names = {m["ModelName"] for m in sagemaker.list_models(NameContains="loanlake-xgb-", MaxResults=100)["Models"]}
    assert "loanlake-xgb-new-3" in names and not names & {"loanlake-xgb-old-1", "loanlake-xgb-old-2"}
    report = json.loads(sandbox.boto3_client("s3").get_object(Bucket=BUCKET, Key=_report_key(sandbox))["Body"].read())
    assert report["dry_run"] is False
    assert any(orphan in line for line in report["actions"]["clusters"])
    assert any("loanlake-xgb-hanging-1" in line for line in report["actions"]["training_jobs"])
    assert "deleted model loanlake-xgb-old-1" in report["actions"]["models"]
    emr.terminate_job_flows(JobFlowIds=[in_use, foreign])


def _report_key(sandbox) -> str:
    objects = sandbox.boto3_client("s3").list_objects_v2(Bucket=BUCKET, Prefix="reports/sweeper/")["Contents"]
    return max(objects, key=lambda o: o["LastModified"])["Key"]
