"""The sandbox's EMR: steps really run, in order, with EMR's states, ActionOnFailure and step logs.

Hive steps run on the process's shared Spark engine (started by the first one, about 30 s).
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sandbox.clusters import LOG_URI, start_cluster

pytestmark = pytest.mark.integration

BUCKET = "loanlake-data"
TIMEOUT = 240.0

COPY_LOANS = """
CREATE DATABASE IF NOT EXISTS ${DB};
DROP TABLE IF EXISTS ${DB}.loans_in;
CREATE EXTERNAL TABLE ${DB}.loans_in (id INT, name STRING)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '|' STORED AS TEXTFILE LOCATION '${INPUT}';
DROP TABLE IF EXISTS ${DB}.loans;
CREATE EXTERNAL TABLE ${DB}.loans (id INT, name STRING) STORED AS PARQUET LOCATION '${OUTPUT}/loans';
INSERT OVERWRITE TABLE ${DB}.loans SELECT id, upper(name) FROM ${DB}.loans_in;
"""
COUNT_LOANS = """
DROP TABLE IF EXISTS ${DB}.loan_count;
CREATE EXTERNAL TABLE ${DB}.loan_count (n BIGINT) STORED AS PARQUET LOCATION '${OUTPUT}/count';
INSERT OVERWRITE TABLE ${DB}.loan_count SELECT count(*) FROM ${DB}.loans;
"""
BROKEN = "SELECT 1;\nSELEC broken FROM nowhere;\n"
TRIVIAL = "SELECT 1;\n"


@pytest.fixture(scope="module")
def emr(sandbox, hive_engine) -> object:
    """EMR of the sandbox, whose steps run on the session's Hive engine (stopped, JVM included, at its end)."""
    return sandbox.boto3_client("emr")


@pytest.fixture
def folder(request: pytest.FixtureRequest, s3) -> str:
    """An S3 folder of the data bucket for this test (emptied first)."""
    name = request.node.name.removeprefix("test_")
    prefix = f"tests/emr/{name}/"
    for key in keys(s3, prefix):
        s3.delete_object(Bucket=BUCKET, Key=key)
    return prefix


@pytest.fixture
def launch(emr) -> Iterator[Callable[..., str]]:
    """Start clusters as the DAG does; every one still up is terminated after the test."""
    started: list[str] = []

    def start(steps: list[dict], *, keep_alive: bool = True) -> str:
        cluster_id = start_cluster(emr, "loanlake-test", ["Hive"], steps=steps, keep_alive=keep_alive)
        started.append(cluster_id)
        return cluster_id

    yield start
    emr.terminate_job_flows(JobFlowIds=started)
    for cluster_id in started:
        cluster_state(emr, cluster_id, {"TERMINATED", "TERMINATED_WITH_ERRORS"})


def keys(s3, prefix: str, bucket: str = BUCKET) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def put_script(s3, folder: str, name: str, text: str) -> str:
    s3.put_object(Bucket=BUCKET, Key=f"{folder}scripts/{name}", Body=text.encode())
    return f"s3://{BUCKET}/{folder}scripts/{name}"


def hive_step(name: str, script: str, variables: dict[str, str], action: str = "CONTINUE") -> dict:
    args = ["hive-script", "--run-hive-script", "--args", "-f", script]
    for key, value in variables.items():
        args += ["-d", f"{key}={value}"]
    return {
        "Name": name,
        "ActionOnFailure": action,
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": args},
    }


def cluster_state(emr, cluster_id: str, wanted: set[str]) -> dict:
    """The cluster's Status once its state is one of ``wanted``."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        status = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]
        if status["State"] in wanted:
            return status
        assert time.monotonic() < deadline, f"cluster {cluster_id} stuck in {status}"
        time.sleep(0.2)


def steps_done(emr, cluster_id: str) -> list[dict]:
    """The cluster's steps in the order they were added, once none is PENDING or RUNNING."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        steps = emr.list_steps(ClusterId=cluster_id)["Steps"][::-1]
        if all(step["Status"]["State"] not in ("PENDING", "RUNNING") for step in steps):
            return steps
        assert time.monotonic() < deadline, f"steps of {cluster_id} stuck: {[s['Status'] for s in steps]}"
        time.sleep(0.2)


def states(steps: list[dict]) -> list[str]:
    return [step["Status"]["State"] for step in steps]


def read_log(s3, uri: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).decode()


def loan_variables(folder: str, db: str) -> dict[str, str]:
    return {"DB": db, "INPUT": f"s3://{BUCKET}/{folder}input/", "OUTPUT": f"s3://{BUCKET}/{folder}output"}


def test_hive_steps_run_in_order_and_publish_to_s3(emr, s3, launch, folder: str) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{folder}input/loans.txt", Body=b"1|alpha\n2|beta\n3|gamma\n")
    variables = loan_variables(folder, "emr_order")
    first = hive_step("copy loans", put_script(s3, folder, "copy.hql", COPY_LOANS), variables)
    second = hive_step("count loans", put_script(s3, folder, "count.hql", COUNT_LOANS), variables)
    cluster_id = launch([first, second])
    step_ids = [step["Id"] for step in emr.list_steps(ClusterId=cluster_id)["Steps"][::-1]]

    emr.get_waiter("step_complete").wait(
        ClusterId=cluster_id, StepId=step_ids[1], WaiterConfig={"Delay": 1, "MaxAttempts": int(TIMEOUT)}
    )

    steps = steps_done(emr, cluster_id)
    assert states(steps) == ["COMPLETED", "COMPLETED"]
    assert steps[0]["Status"]["Timeline"]["EndDateTime"] <= steps[1]["Status"]["Timeline"]["StartDateTime"]
    assert cluster_state(emr, cluster_id, {"WAITING"})["StateChangeReason"]["Message"]
    written = keys(s3, f"{folder}output/")
    assert any(key.startswith(f"{folder}output/loans/part-") for key in written)
    assert any(key.startswith(f"{folder}output/count/part-") for key in written)
    assert not [key for key in written if "/_" in key or "/." in key], "Hadoop's hidden files stay local"
    for step_id in step_ids:
        logs = keys(s3, f"emr/{cluster_id}/steps/{step_id}/", bucket="loanlake-logs")
        assert [key.rsplit("/", 1)[1] for key in logs] == ["stderr.gz", "stdout.gz"]
    stdout = read_log(s3, f"s3://loanlake-logs/emr/{cluster_id}/steps/{step_ids[0]}/stdout.gz")
    assert "statement 6/6: INSERT OVERWRITE TABLE ${DB}.loans" in stdout


def test_failed_step_continue_runs_the_next_one(emr, s3, launch, folder: str) -> None:
    broken = hive_step("broken", put_script(s3, folder, "broken.hql", BROKEN), {}, "CONTINUE")
    fine = hive_step("fine", put_script(s3, folder, "fine.hql", TRIVIAL), {})
    cluster_id = launch([broken, fine])

    steps = steps_done(emr, cluster_id)

    assert states(steps) == ["FAILED", "COMPLETED"]
    failure = steps[0]["Status"]["FailureDetails"]
    assert "statement 2 (SELEC broken FROM nowhere)" in failure["Message"]
    assert failure["LogFile"] == f"{LOG_URI}{cluster_id}/steps/{steps[0]['Id']}/stderr.gz"
    assert "SELEC broken FROM nowhere" in read_log(s3, failure["LogFile"])
    assert cluster_state(emr, cluster_id, {"WAITING"})


def test_failed_step_cancel_and_wait_cancels_the_rest(emr, s3, launch, folder: str) -> None:
    broken = hive_step("broken", put_script(s3, folder, "broken.hql", BROKEN), {}, "CANCEL_AND_WAIT")
    fine = hive_step("fine", put_script(s3, folder, "fine.hql", TRIVIAL), {})
    cluster_id = launch([broken, fine, fine])

    assert states(steps_done(emr, cluster_id)) == ["FAILED", "CANCELLED", "CANCELLED"]
    assert cluster_state(emr, cluster_id, {"WAITING"})


def test_failed_step_terminate_cluster_ends_it_with_errors(emr, s3, launch, folder: str) -> None:
    broken = hive_step("broken", put_script(s3, folder, "broken.hql", BROKEN), {}, "TERMINATE_CLUSTER")
    fine = hive_step("fine", put_script(s3, folder, "fine.hql", TRIVIAL), {})
    cluster_id = launch([broken, fine])

    status = cluster_state(emr, cluster_id, {"TERMINATED", "TERMINATED_WITH_ERRORS"})

    assert status["State"] == "TERMINATED_WITH_ERRORS"
    assert status["StateChangeReason"]["Code"] == "STEP_FAILURE"
    assert states(steps_done(emr, cluster_id)) == ["FAILED", "CANCELLED"]


def test_cluster_without_keep_alive_terminates_after_its_last_step(emr, s3, launch, folder: str) -> None:
    fine = hive_step("fine", put_script(s3, folder, "fine.hql", TRIVIAL), {})
    cluster_id = launch([fine], keep_alive=False)

    emr.get_waiter("cluster_terminated").wait(ClusterId=cluster_id, WaiterConfig={"Delay": 1, "MaxAttempts": 240})

    status = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]
    assert status["StateChangeReason"] == {"Code": "ALL_STEPS_COMPLETED", "Message": "Steps completed"}
    assert states(steps_done(emr, cluster_id)) == ["COMPLETED"]


def test_rerun_replaces_objects_both_ways(emr, s3, launch, folder: str) -> None:
    """INSERT OVERWRITE's old part files leave S3; objects removed from S3 leave the local mirror."""
    s3.put_object(Bucket=BUCKET, Key=f"{folder}input/a.txt", Body=b"1|alpha\n2|beta\n")
    s3.put_object(Bucket=BUCKET, Key=f"{folder}input/b.txt", Body=b"3|gamma\n")
    variables = loan_variables(folder, "emr_rerun")
    copy = hive_step("copy loans", put_script(s3, folder, "copy.hql", COPY_LOANS), variables)
    count = hive_step("count loans", put_script(s3, folder, "count.hql", COUNT_LOANS), variables)
    cluster_id = launch([copy])
    assert states(steps_done(emr, cluster_id)) == ["COMPLETED"]
    before = set(keys(s3, f"{folder}output/loans/"))
    s3.delete_object(Bucket=BUCKET, Key=f"{folder}input/b.txt")

    emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[copy, count])

    assert states(steps_done(emr, cluster_id)) == ["COMPLETED", "COMPLETED", "COMPLETED"]
    after = set(keys(s3, f"{folder}output/loans/"))
    assert before and after and not before & after
    counted = keys(s3, f"{folder}output/count/")
    assert len(counted) == 1
    body = s3.get_object(Bucket=BUCKET, Key=counted[0])["Body"].read()
    assert pq.read_table(pa.BufferReader(body)).column("n").to_pylist() == [2]


def test_undefined_variable_fails_the_step_naming_it(emr, s3, launch, folder: str) -> None:
    script = put_script(s3, folder, "copy.hql", COPY_LOANS)
    cluster_id = launch([hive_step("copy loans", script, {"DB": "emr_undefined"})])

    (step,) = steps_done(emr, cluster_id)

    assert step["Status"]["State"] == "FAILED"
    assert "${INPUT}" in step["Status"]["FailureDetails"]["Message"]


def test_unsupported_step_fails_fast(emr, launch) -> None:
    spark = {
        "Name": "score",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", "s3://code/score.py"]},
    }
    started = time.monotonic()
    cluster_id = launch([spark])

    (step,) = steps_done(emr, cluster_id)

    assert time.monotonic() - started < 10
    assert step["Status"]["State"] == "FAILED"
    assert "not supported by the sandbox yet" in step["Status"]["FailureDetails"]["Message"]


def test_terminate_cancels_pending_steps_and_refuses_new_ones(emr, s3, launch, folder: str) -> None:
    fine = hive_step("fine", put_script(s3, folder, "fine.hql", TRIVIAL), {})
    cluster_id = launch([fine, fine])

    emr.terminate_job_flows(JobFlowIds=[cluster_id])

    status = cluster_state(emr, cluster_id, {"TERMINATED"})
    assert status["StateChangeReason"]["Code"] == "USER_REQUEST"
    assert states(steps_done(emr, cluster_id)) == ["CANCELLED", "CANCELLED"]
    with pytest.raises(emr.exceptions.ClientError, match="may not be modified"):
        emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[fine])


def test_auto_termination_policy_is_kept_changed_and_removed(emr, launch) -> None:
    cluster_id = launch([])
    assert "AutoTerminationPolicy" not in emr.get_auto_termination_policy(ClusterId=cluster_id)

    emr.put_auto_termination_policy(ClusterId=cluster_id, AutoTerminationPolicy={"IdleTimeout": 900})
    assert emr.get_auto_termination_policy(ClusterId=cluster_id)["AutoTerminationPolicy"] == {"IdleTimeout": 900}

    with pytest.raises(emr.exceptions.ClientError, match="IdleTimeout must be between 60 and 604800 seconds, not 30"):
        emr.put_auto_termination_policy(ClusterId=cluster_id, AutoTerminationPolicy={"IdleTimeout": 30})
    assert emr.get_auto_termination_policy(ClusterId=cluster_id)["AutoTerminationPolicy"] == {"IdleTimeout": 900}

    emr.remove_auto_termination_policy(ClusterId=cluster_id)
    assert "AutoTerminationPolicy" not in emr.get_auto_termination_policy(ClusterId=cluster_id)
