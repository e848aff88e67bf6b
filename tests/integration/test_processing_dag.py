"""loan_data_processing with dag.test() against the sandbox: a transient EMR cluster whose Hive steps run on Spark."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from dag_runs import cluster_of

from loanlake.emr import scripts
from loanlake.emr.steps import HQL_SCRIPTS
from sandbox.runner import run_dag

pytestmark = pytest.mark.integration

DAG_ID = "loan_data_processing"
BUCKET = "loanlake-data"
PERIOD = "2017Q1"
_dates = count()


def _run(conf: dict):
    return run_dag(DAG_ID, datetime(2021, 1, 1, tzinfo=UTC) + timedelta(hours=next(_dates)), conf)


@pytest.fixture(scope="module")
def ingested(sandbox):
    """The quarter in raw/, landed by the ingest DAG as in production."""
    result = run_dag("freddie_mac_ingest", datetime(2020, 6, 1, tzinfo=UTC), {"quarters": [PERIOD]})
    assert result.state == "success", result
    return sandbox


@pytest.fixture
def config(monkeypatch, ingested):
    """The sandbox's loanlake_config with quick step polling, plus the given ``emr`` keys, for one test."""

    def set_config(**emr):
        value = json.loads(ingested.env()["AIRFLOW_VAR_LOANLAKE_CONFIG"])
        value["emr"] = {"poll_seconds": 2, **emr}
        monkeypatch.setenv("AIRFLOW_VAR_LOANLAKE_CONFIG", json.dumps(value))

    set_config()
    return set_config


def _keys(s3, prefix: str) -> list[str]:
    return [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        for o in page.get("Contents", [])
    ]


def test_processing_runs_every_step_on_a_transient_cluster(config, ingested):
    emr, s3 = ingested.boto3_client("emr"), ingested.boto3_client("s3")

    result = _run({"periods": [PERIOD]})

    assert result.state == "success", result
    assert not result.failed_tasks, result
    cluster = cluster_of(emr, result.run_id)
    assert cluster["ReleaseLabel"] == "emr-7.4.0"
    assert {a["Name"] for a in cluster["Applications"]} >= {"Hive", "Sqoop", "HCatalog"}
    assert cluster["LogUri"] == "s3://loanlake-logs/emr/"
    policy = emr.get_auto_termination_policy(ClusterId=cluster["Id"])
    assert policy["AutoTerminationPolicy"] == {"IdleTimeout": 3600}, "idle clusters end even if the teardown does not"
    assert cluster["AutoTerminate"] is False, "the cluster waits for the steps a retry may add"
    assert cluster["Status"]["State"] == "TERMINATED", "the teardown ended the cluster"
    tags = {t["Key"]: t["Value"] for t in cluster["Tags"]}
    assert tags == {
        "dag_id": DAG_ID,
        "run_id": result.run_id,
        "owner": "data-engineering",
        "environment": "sandbox",
        "loanlake:managed": "true",
        "for-use-with-amazon-emr-managed-policies": "true",
    }
    on_cluster = emr.list_steps(ClusterId=cluster["Id"])["Steps"][::-1]  # newest first, as on AWS
    assert [s["Name"] for s in on_cluster] == [f"{PERIOD} {name.removesuffix('.hql')}" for name in HQL_SCRIPTS]
    assert {s["Status"]["State"] for s in on_cluster} == {"COMPLETED"}
    for prefix in ("processed/", "quarantine/", "quality/"):
        assert [k for k in _keys(s3, prefix) if f"period={PERIOD}/" in k], f"nothing under {prefix} for {PERIOD}"


def test_a_failing_step_fails_the_run_naming_the_step_and_its_log_and_the_cluster_still_ends(config, ingested, alerts):
    emr, s3 = ingested.boto3_client("emr"), ingested.boto3_client("s3")
    # The published scripts live under a content hash: a broken copy already at that key stands in for a bad
    # deployment (publish_scripts never overwrites a key it finds).
    config(code_prefix="code/broken")
    root = f"code/broken/{scripts.content_hash(scripts.read_scripts(HQL_SCRIPTS))}"
    s3.put_object(Bucket=BUCKET, Key=f"{root}/raw_tables.hql", Body=b"CREATE TABLE oops (;\n")

    result = _run({"periods": [PERIOD]})

    assert result.state == "failed", result
    assert result.tasks["terminate_cluster"] == "success", "the teardown ran after the failure"
    cluster = cluster_of(emr, result.run_id)
    assert cluster["Status"]["State"] == "TERMINATED"
    error = result.errors["wait_for_step[1]"]
    assert error.startswith(f"AirflowFailException: EMR step '{PERIOD} raw_tables' (s-"), error
    assert "is FAILED" in error
    assert f"step log: s3://loanlake-logs/emr/{cluster['Id']}/steps/s-" in error and "/stderr.gz" in error
    assert "earlier step failed" in result.errors["wait_for_step[2]"], "the later steps were cancelled"
    assert result.tasks["check_quarantine_share"] == "upstream_failed"
    log_key = error.split("step log: s3://loanlake-logs/")[1].split()[0].rstrip(";")
    assert ingested.boto3_client("s3").head_object(Bucket="loanlake-logs", Key=log_key)
    (alert,) = alerts()  # one alert: the failed step's; the cancelled ones after it send none
    assert alert["subject"] == "[loanlake sandbox] loan_data_processing.wait_for_step[1] failed"
    step = error.split("(")[1].split(")")[0]
    assert f"EMR cluster {cluster['Id']}" in alert["text"] and f"periods {PERIOD}" in alert["text"]
    assert f"EMR step {step}, its log: s3://loanlake-logs/{log_key}" in alert["text"]


def test_a_run_without_periods_fails_before_creating_a_cluster(config, ingested):
    emr = ingested.boto3_client("emr")
    before = {c["Id"] for page in emr.get_paginator("list_clusters").paginate() for c in page["Clusters"]}

    result = _run({})

    assert result.state == "failed"
    assert "no periods to process" in result.errors["resolve_periods"]
    assert result.tasks["create_cluster"] == "upstream_failed"
    after = {c["Id"] for page in emr.get_paginator("list_clusters").paginate() for c in page["Clusters"]}
    assert after == before


def test_a_retry_of_create_cluster_finds_the_runs_cluster_instead_of_starting_another(config, ingested):
    from types import SimpleNamespace

    from loanlake.config import parse_config
    from loanlake.emr import cluster
    from loanlake.emr.operators import create_cluster

    emr, run_id = ingested.boto3_client("emr"), "manual__retried"
    request = cluster.job_flow_request(parse_config(ingested.env()["AIRFLOW_VAR_LOANLAKE_CONFIG"]), DAG_ID, run_id)
    first_try = emr.run_job_flow(**request)["JobFlowId"]  # what the first try started before it was lost
    operator = create_cluster(request, {"aws_conn_id": "aws_default", "region_name": "us-east-1"})

    found = operator.execute({"dag": SimpleNamespace(dag_id=DAG_ID), "run_id": run_id})

    assert found == first_try
    assert [c for c, tags in cluster.managed_clusters(emr) if tags["run_id"] == run_id] == [
        emr.describe_cluster(ClusterId=first_try)["Cluster"]
    ], "no second cluster"
    emr.terminate_job_flows(JobFlowIds=[first_try])
