"""loan_model_training and loan_model_drift with dag.test() against the sandbox: Hive builds the training set on
EMR, SageMaker's XGBoost really trains, the endpoint really scores and captures, drift is measured on real data.

Four quarters are ingested and processed first, as in production; the tests then share the endpoint, in order.
"""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime, timedelta
from itertools import count

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from loanlake.config import parse_config
from loanlake.ml import registry
from loanlake.ml.features import feature_row, to_csv
from loanlake.ml.operators import TrainingJobOperator
from sandbox import flow
from sandbox.demo import drift_run_date
from sandbox.extensions.sagemaker import FAULTS
from sandbox.generator import GeneratorSpec, origination_records
from sandbox.runner import run_dag

pytestmark = pytest.mark.integration

BUCKET = "loanlake-data"
QUARTERS = ["2016Q3", "2016Q4", "2017Q1", "2017Q2"]
_dates = count()


def _train():
    return run_dag("loan_model_training", datetime(2026, 6, 1, tzinfo=UTC) + timedelta(hours=next(_dates)))


def _drift():
    return run_dag("loan_model_drift", drift_run_date())


@pytest.fixture(scope="module")
def processed(sandbox):
    with pytest.MonkeyPatch.context() as patch:
        config = json.loads(sandbox.env()["AIRFLOW_VAR_LOANLAKE_CONFIG"]) | {"emr": {"poll_seconds": 2}}
        patch.setenv("AIRFLOW_VAR_LOANLAKE_CONFIG", json.dumps(config))
        ingest = run_dag("freddie_mac_ingest", datetime(2020, 9, 1, tzinfo=UTC), {"quarters": QUARTERS})
        assert ingest.state == "success", ingest
        processing = run_dag("loan_data_processing", datetime(2020, 9, 2, tzinfo=UTC), {"periods": QUARTERS})
        assert processing.state == "success", processing
        yield sandbox


@pytest.fixture
def config(processed, monkeypatch):
    """The sandbox's config with quick polling, plus the given ``ml`` keys, for one test."""

    def set_config(**ml):
        value = json.loads(processed.env()["AIRFLOW_VAR_LOANLAKE_CONFIG"])
        value["emr"] = {"poll_seconds": 2}
        value["ml"] = value["ml"] | ml
        monkeypatch.setenv("AIRFLOW_VAR_LOANLAKE_CONFIG", json.dumps(value))
        return parse_config(value)

    set_config()
    return set_config


def _registry(sandbox) -> registry.Registry:
    return registry.read(sandbox.boto3_client("s3"), BUCKET, "ml/registry/loanlake-credit-risk.json")


def _endpoint(sandbox) -> dict:
    return sandbox.boto3_client("sagemaker").describe_endpoint(EndpointName="loanlake-credit-risk")


def _validation(s3, root: str) -> tuple[np.ndarray, np.ndarray]:
    prefix = root.removeprefix(f"s3://{BUCKET}/") + "/validation/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]]
    lines = [line for key in keys for line in s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().split()]
    table = np.array([[float(v) if v else np.nan for v in line.split(",")] for line in lines])
    return table[:, 0], table[:, 1:]


def test_the_first_model_deploys_and_scores_the_validation_set_with_its_reported_auc(config, processed):
    import xgboost

    result = _train()

    assert result.state == "success", result
    assert result.tasks["terminate_cluster"] == "success"
    live = _registry(processed).live
    assert live is not None and 0.70 <= live.validation_auc <= 0.85, live
    endpoint = _endpoint(processed)
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("InService", live.endpoint_config)
    s3 = processed.boto3_client("s3")
    artifact = s3.get_object(Bucket=BUCKET, Key=live.model_data.removeprefix(f"s3://{BUCKET}/"))["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(artifact)) as archive:
        booster = xgboost.Booster()
        booster.load_model(bytearray(archive.extractfile("xgboost-model").read()))
    labels, features = _validation(s3, live.training_root)
    scores = booster.predict(xgboost.DMatrix(features, missing=np.nan))
    positives = labels == 1
    auc = mannwhitneyu(scores[positives], scores[~positives]).statistic / (positives.sum() * (~positives).sum())
    assert auc == pytest.approx(live.validation_auc, abs=1e-4), "the artifact is the model the AUC was reported for"
    assert processed.boto3_client("lambda").get_function(FunctionName="loanlake-endpoint-proxy")


def test_a_retry_of_the_training_task_attaches_to_the_job_it_started(config, processed):
    sagemaker = processed.boto3_client("sagemaker")
    job = _registry(processed).live.job_name
    jobs_before = sagemaker.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
    operator = TrainingJobOperator(
        task_id="train", config={"TrainingJobName": job}, aws_conn_id="aws_default", deferrable=False
    )

    result = operator.execute({})

    assert result["Training"]["TrainingJobName"] == job
    assert sagemaker.list_training_jobs(MaxResults=100)["TrainingJobSummaries"] == jobs_before, "no second job"


def test_a_retry_of_the_deployment_creates_nothing_twice(config, processed):
    from airflow.sdk.exceptions import TaskDeferred

    from loanlake.ml import runtime
    from loanlake.ml.operators import EndpointDeployOperator

    live = _registry(processed).live
    request = runtime.deployment_request(live.job_name, live.model_data)  # what the first try deployed
    operator = EndpointDeployOperator(task_id="deploy_endpoint", config=request, aws_conn_id="aws_default")

    with pytest.raises(TaskDeferred):  # it updated the endpoint and now waits for it: no "already existing" error
        operator.execute({})

    flow.wait_for(lambda: _endpoint(processed)["EndpointStatus"] == "InService", True)
    assert _endpoint(processed)["EndpointConfigName"] == live.endpoint_config


def test_a_worse_model_is_not_deployed_and_the_endpoint_is_unchanged(config, processed):
    before = _endpoint(processed)["EndpointConfigName"]
    live = _registry(processed).live
    config(hyperparameters={"objective": "binary:logistic", "eval_metric": "auc", "num_round": "1", "max_depth": "1"})

    result = _train()

    assert result.state == "success", result
    assert result.tasks["deploy"] == "success" and result.tasks["deploy_endpoint"] == "skipped"
    assert _endpoint(processed)["EndpointConfigName"] == before
    record = _registry(processed)
    assert record.live == live
    held_back = record.history[0]
    assert not held_back["deployed"] and held_back["new_auc"] < live.validation_auc, held_back
    assert held_back["live_auc"] == live.validation_auc


def test_a_failing_update_leaves_the_old_model_serving_and_fails_the_run(config, processed, alerts):
    before = _endpoint(processed)["EndpointConfigName"]
    live = _registry(processed).live
    config(auc_tolerance=0.2)  # the same data trains the same model: let it through the gate
    FAULTS.fail_next("loanlake-credit-risk")

    result = _train()

    assert result.state == "failed"
    assert result.tasks["verify_endpoint"] == "failed"
    error = result.errors["verify_endpoint"]
    assert f"InService on config {before}" in error and "ping health check" in error, error
    assert _endpoint(processed)["EndpointConfigName"] == before
    assert _registry(processed).live == live, "the registry still names the model that serves"
    (alert,) = alerts()
    assert alert["subject"] == "[loanlake sandbox] loan_model_training.verify_endpoint failed"
    assert f"SageMaker endpoint loanlake-credit-risk: InService on {before}: " in alert["text"]
    assert "ping health check" in alert["text"]


def _score(sandbox, period: str, shift: float, loans: int) -> None:
    """Loans of a vintage scored by the endpoint, one request each: what data capture records."""
    runtime = sandbox.boto3_client("sagemaker-runtime")
    spec = GeneratorSpec(seed=99, loans=loans, layout="r47", vintage_shift=shift)
    for record in origination_records("quarterly", period, spec):
        body = to_csv(feature_row(record))
        runtime.invoke_endpoint(EndpointName="loanlake-credit-risk", ContentType="text/csv", Body=body)


def _captured_rows(sandbox) -> int:
    s3 = sandbox.boto3_client("s3")
    return len(flow.records(s3, BUCKET, "ml/capture/loanlake-credit-risk/"))


def _clear_capture(sandbox) -> None:
    s3 = sandbox.boto3_client("s3")
    for obj in s3.list_objects_v2(Bucket=BUCKET, Prefix="ml/capture/").get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=obj["Key"])


def test_drift_needs_enough_rows_ignores_stable_traffic_and_retrains_on_a_shifted_vintage(config, processed):
    _clear_capture(processed)
    _score(processed, "2017Q1", 0.0, 50)
    assert flow.wait_for(lambda: _captured_rows(processed), 50) == 50

    too_few = _drift()

    assert too_few.state == "success", too_few
    assert too_few.tasks["signal_drift"] == "skipped"
    assert "no verdict: 50 rows captured, fewer than the 200 needed" in _latest_report(processed)["summary"]

    _clear_capture(processed)
    for quarter in QUARTERS:  # the training vintages' mix (rates follow each quarter's market), other loans
        _score(processed, quarter, 0.0, 100)
    flow.wait_for(lambda: _captured_rows(processed), 400)

    stable = _drift()

    assert stable.tasks["signal_drift"] == "skipped"
    assert _latest_report(processed)["verdict"] == "none", _latest_report(processed)["summary"]

    _clear_capture(processed)
    _score(processed, "2019Q1", 1.5, 400)  # a later, riskier mix
    flow.wait_for(lambda: _captured_rows(processed), 400)

    shifted = _drift()

    assert shifted.tasks["signal_drift"] == "success", shifted
    report = _latest_report(processed)
    assert report["verdict"] == "major" and report["retrain"], report["summary"]
    assert {"credit_score", "orig_ltv", "orig_dti"} & set(report["top_features"])
    chart = processed.boto3_client("s3").get_object(Bucket=BUCKET, Key=_latest_key(processed, "chart.png"))
    assert chart["Body"].read(8) == b"\x89PNG\r\n\x1a\n"

    config(drift={"min_records": 200, "cooldown_days": 14})

    held_back = _drift()

    assert held_back.tasks["signal_drift"] == "skipped"
    assert "holding back" in _latest_report(processed)["decision"]


def _latest_key(sandbox, name: str) -> str:
    s3 = sandbox.boto3_client("s3")
    objects = [o for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="reports/drift/")["Contents"]]
    return max((o for o in objects if o["Key"].endswith(name)), key=lambda o: o["LastModified"])["Key"]


def _latest_report(sandbox) -> dict:
    body = sandbox.boto3_client("s3").get_object(Bucket=BUCKET, Key=_latest_key(sandbox, "report.json"))["Body"]
    return json.loads(body.read())
