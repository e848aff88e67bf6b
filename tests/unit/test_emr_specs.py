"""The EMR cluster request, the Hive steps, idempotent submission, step-log messages and script publishing."""

from __future__ import annotations

from types import SimpleNamespace

import boto3
import pytest

from loanlake.config import parse_config
from loanlake.emr import cluster, logs, scripts, steps, submit
from loanlake.processing.periods import check_periods, periods_to_process

DAG_ID = "loan_data_processing"
RUN_ID = "manual__2026-11-22T04:43:43.236013+00:00"


@pytest.fixture
def config():
    return parse_config({"environment": "test", "emr": {"subnet_id": "subnet-0abc"}})


@pytest.fixture
def emr(moto_endpoint):
    return boto3.client(
        "emr",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_cluster_request_is_a_tagged_self_ending_hive_cluster(config):
    request = cluster.job_flow_request(config, DAG_ID, RUN_ID)

    assert request["ReleaseLabel"] == "emr-7.4.0"
    assert [a["Name"] for a in request["Applications"]] == ["Hive", "Sqoop", "HCatalog"]
    assert request["LogUri"] == "s3://loanlake-logs/emr/"
    assert request["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True, "steps are added after creation"
    assert request["Instances"]["Ec2SubnetId"] == "subnet-0abc"
    assert {g["InstanceRole"]: g["InstanceCount"] for g in request["Instances"]["InstanceGroups"]} == {
        "MASTER": 1,
        "CORE": 2,
    }
    assert request["AutoTerminationPolicy"] == {"IdleTimeout": 3600}
    assert request["VisibleToAllUsers"] is True
    assert (request["ServiceRole"], request["JobFlowRole"]) == ("EMR_DefaultRole", "EMR_EC2_DefaultRole")
    assert {t["Key"]: t["Value"] for t in request["Tags"]} == {
        "dag_id": DAG_ID,
        "run_id": RUN_ID,
        "owner": "data-engineering",
        "environment": "test",
        "loanlake:managed": "true",
        "for-use-with-amazon-emr-managed-policies": "true",
    }
    assert request["Configurations"][0]["Classification"] == "hive-site"
    hive_site = request["Configurations"][0]["Properties"]
    assert hive_site["hive.metastore.client.factory.class"].endswith("AWSGlueDataCatalogHiveClientFactory")
    assert DAG_ID in request["Name"] and RUN_ID in request["Name"]


def test_cluster_without_a_subnet_goes_to_the_default_vpc():
    request = cluster.job_flow_request(parse_config({}), DAG_ID, RUN_ID)
    assert "Ec2SubnetId" not in request["Instances"]


def test_hive_step_is_a_command_runner_hive_script():
    step = steps.HiveStep("2017Q1 acquisition", "s3://b/code/acquisition.hql", {"DB": "loanlake", "PERIOD": "2017Q1"})
    assert step.to_emr() == {
        "Name": "2017Q1 acquisition",
        "ActionOnFailure": "CANCEL_AND_WAIT",
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": [
                "hive-script",
                "--run-hive-script",
                "--args",
                "-f",
                "s3://b/code/acquisition.hql",
                "-d",
                "DB=loanlake",
                "-d",
                "PERIOD=2017Q1",
            ],
        },
    }


def test_period_steps_run_every_script_in_order_for_each_period(config):
    built = steps.period_steps(config, "s3://loanlake-data/code/hql/abc/", ["2017", "2017Q1"])

    assert [s.name for s in built] == [
        f"{p} {s.removesuffix('.hql')}" for p in ("2017", "2017Q1") for s in steps.HQL_SCRIPTS
    ]
    assert built[3].script == "s3://loanlake-data/code/hql/abc/acquisition.hql"
    assert built[0].variables == {
        "DB": "loanlake",
        "RAW_ROOT": "s3://loanlake-data/raw",
        "PROCESSED_ROOT": "s3://loanlake-data/processed",
        "QUARANTINE_ROOT": "s3://loanlake-data/quarantine",
        "QUALITY_ROOT": "s3://loanlake-data/quality",
        "PERIOD": "2017",
    }


def test_submission_is_idempotent(config, emr):
    cluster_id = emr.run_job_flow(**cluster.job_flow_request(config, DAG_ID, RUN_ID))["JobFlowId"]
    wanted = [s.to_emr() for s in steps.period_steps(config, "s3://b/code", ["2017Q1", "2017Q2"])]

    first = submit.submit_steps(emr, cluster_id, wanted)
    again = submit.submit_steps(emr, cluster_id, wanted)

    assert again == first and len(set(first)) == len(wanted)
    on_cluster = emr.list_steps(ClusterId=cluster_id)["Steps"]
    assert len(on_cluster) == len(wanted), "the second submission added nothing"
    assert {s["Id"]: s["Name"] for s in on_cluster} == {i: s["Name"] for i, s in zip(first, wanted, strict=True)}


def test_a_retry_after_a_partial_submission_adds_only_the_missing_steps(config, emr):
    cluster_id = emr.run_job_flow(**cluster.job_flow_request(config, DAG_ID, RUN_ID))["JobFlowId"]
    wanted = [s.to_emr() for s in steps.period_steps(config, "s3://b/code", ["2017Q1"])]
    earlier = emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=wanted[:2])["StepIds"]

    ids = submit.submit_steps(emr, cluster_id, wanted)

    assert ids[:2] == earlier
    assert len(emr.list_steps(ClusterId=cluster_id)["Steps"]) == len(wanted)


def test_existing_steps_reads_every_page(config, emr):
    cluster_id = emr.run_job_flow(**cluster.job_flow_request(config, DAG_ID, RUN_ID))["JobFlowId"]
    periods = [f"{year}Q{q}" for year in range(2001, 2014) for q in range(1, 5)][: steps.MAX_PERIODS_PER_RUN]
    wanted = [s.to_emr() for s in steps.period_steps(config, "s3://b/code", periods)]
    submit.submit_steps(emr, cluster_id, wanted)

    assert "Marker" in emr.list_steps(ClusterId=cluster_id), "more steps than one page holds"
    assert len(submit.existing_steps(emr, cluster_id)) == len(wanted) == 252


def test_duplicate_step_names_are_refused(emr):
    step = steps.HiveStep("2017Q1 acquisition", "s3://b/a.hql").to_emr()
    with pytest.raises(ValueError, match="unique"):
        submit.submit_steps(emr, "j-unused", [step, step])


def test_step_log_location_and_failure_message():
    step = {
        "Id": "s-123",
        "Name": "2017Q1 acquisition",
        "Status": {
            "State": "FAILED",
            "FailureDetails": {"Reason": "Unknown error.", "Message": "ParseException line 3:4", "LogFile": "s3://x"},
        },
    }

    message = logs.failure_message("j-9", step, "s3://loanlake-logs/emr/")

    assert message.startswith("EMR step '2017Q1 acquisition' (s-123) on cluster j-9 is FAILED: Unknown error.")
    assert "ParseException line 3:4" in message
    assert "step log: s3://loanlake-logs/emr/j-9/steps/s-123/stderr.gz" in message
    assert "(EMR points at s3://x)" in message


def test_a_cancelled_step_points_at_the_first_failure():
    step = {"Id": "s-4", "Name": "2017Q1 performance", "Status": {"State": "CANCELLED"}}
    message = logs.failure_message("j-9", step, None)
    assert "earlier step failed" in message and "no LogUri" in message
    assert logs.step_log_uri(None, "j-9", "s-4") is None


@pytest.fixture
def hql_dir(tmp_path):
    for name in steps.HQL_SCRIPTS:
        (tmp_path / name).write_text(f"-- {name}\nSELECT 1;\n")
    return tmp_path


def test_publishing_scripts_is_idempotent_and_content_addressed(s3_bucket, hql_dir):
    s3, bucket = s3_bucket

    root = scripts.publish(s3, bucket, "code/hql", steps.HQL_SCRIPTS, hql_dir)
    stamps = {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert scripts.publish(s3, bucket, "code/hql", steps.HQL_SCRIPTS, hql_dir) == root
    assert {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]} == stamps

    assert root.startswith(f"s3://{bucket}/code/hql/") and len(stamps) == len(steps.HQL_SCRIPTS)
    body = s3.get_object(Bucket=bucket, Key=f"{root.split('/', 3)[3]}/acquisition.hql")["Body"].read()
    assert body == (hql_dir / "acquisition.hql").read_bytes()

    (hql_dir / "acquisition.hql").write_text("SELECT 2;\n")
    assert scripts.publish(s3, bucket, "code/hql", steps.HQL_SCRIPTS, hql_dir) != root, "new content, new prefix"


def test_a_missing_script_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"quality_metrics\.hql"):
        scripts.read_scripts(steps.HQL_SCRIPTS, tmp_path)


def _event(**extra):
    return SimpleNamespace(extra=extra)


def test_periods_come_from_params_first_then_from_the_triggering_events():
    events = {"freddie_mac_raw": [_event(periods=["2017Q2", "2017"]), _event(periods=["2017Q2"], manifest="s3://m")]}
    assert periods_to_process(["2016Q4"], events) == ["2016Q4"]
    assert periods_to_process([], events) == ["2017", "2017Q2"]


def test_no_periods_fails_saying_how_to_trigger():
    with pytest.raises(ValueError, match=r'\{"periods": \["2017Q1"\]\}'):
        periods_to_process([], {"freddie_mac_raw": [_event(manifest="s3://m")]})


@pytest.mark.parametrize("bad", ["2017Q5", "17Q1", "2017q1", 2017])
def test_bad_periods_are_named(bad):
    with pytest.raises(ValueError, match="2017Q1"):
        check_periods([bad])


def test_a_backfill_too_long_for_one_cluster_says_how_to_split_it():
    periods = [f"{year}Q{q}" for year in range(2000, 2020) for q in range(1, 5)]
    with pytest.raises(ValueError, match=f"at most {steps.MAX_PERIODS_PER_RUN} periods"):
        check_periods(periods)
