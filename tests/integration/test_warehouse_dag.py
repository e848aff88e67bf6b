"""loan_warehouse_load with dag.test() against the sandbox: Sqoop on EMR into MariaDB, COPY into PostgreSQL.

A quarter is ingested and processed first, as in production. The sandbox's RDS MySQL is the local MariaDB
and its Redshift the local PostgreSQL (through the Data API), both in their `loanlake` database.
"""

# ruff: noqa: S608 - the queries are built from this module's constants

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count

import pytest
from dag_runs import cluster_of

from loanlake.processing import quality
from loanlake.warehouse import exports
from sandbox.runner import run_dag

pytestmark = pytest.mark.integration

DAG_ID = "loan_warehouse_load"
BUCKET = "loanlake-data"
PERIOD, OTHER = "2016Q4", "2017Q1"  # legacy and Release 47 layouts
SCHEMA = "loanlake"
LOADER, SECRET = "loanlake_loader", "Sq00p-only-reads-this-8c1f"
_dates = count()


def _run(conf: dict):
    return run_dag(DAG_ID, datetime(2022, 1, 1, tzinfo=UTC) + timedelta(hours=next(_dates)), conf)


@pytest.fixture(scope="module")
def processed(sandbox, mysql):
    """Two quarters ingested and processed by the upstream DAGs; RDS MySQL reached as a loader with a password."""
    value = json.loads(sandbox.env()["AIRFLOW_VAR_LOANLAKE_CONFIG"])
    value["emr"] = {"poll_seconds": 2}
    value["warehouse"] = {"redshift": {"poll_seconds": 1}}
    connection = json.loads(sandbox.env()["AIRFLOW_CONN_LOANLAKE_MYSQL"]) | {"login": LOADER, "password": SECRET}
    with mysql.cursor() as cursor:
        cursor.execute(f"CREATE USER IF NOT EXISTS '{LOADER}'@'%' IDENTIFIED BY '{SECRET}'")
        cursor.execute(f"GRANT ALL ON loanlake.* TO '{LOADER}'@'%'")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_VAR_LOANLAKE_CONFIG", json.dumps(value))
        patch.setenv("AIRFLOW_CONN_LOANLAKE_MYSQL", json.dumps(connection))
        quarters = {"quarters": [PERIOD, OTHER]}
        ingest = run_dag("freddie_mac_ingest", datetime(2020, 3, 1, tzinfo=UTC), quarters)
        assert ingest.state == "success", ingest
        processing = run_dag("loan_data_processing", datetime(2020, 3, 2, tzinfo=UTC), {"periods": [PERIOD, OTHER]})
        assert processing.state == "success", processing
        yield sandbox
    with mysql.cursor() as cursor:
        cursor.execute(f"DROP USER IF EXISTS '{LOADER}'@'%'")


def _one(connection, query: str, *args) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(query, args)
        return cursor.fetchone()


def _hive_kept(sandbox, period: str) -> dict[str, int]:
    metrics = quality.read_metrics(sandbox.boto3_client("s3"), BUCKET, "quality", [period])
    return {table: counts["rows_kept"] for (table, _), counts in quality.totals(metrics).items()}


def _checksum(connection, query: str) -> tuple[int, str]:
    with connection.cursor() as cursor:
        cursor.execute(query)
        rows = sorted(repr(tuple(row)) for row in cursor.fetchall())
    return len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()


def _tables(mysql, postgres) -> dict[str, tuple[int, str]]:
    """A checksum of every published row (MySQL's loaded_at aside: it records when, not what)."""
    columns = ", ".join(exports.COLUMNS)
    return {
        "mysql": _checksum(mysql, f"SELECT {columns} FROM acquisition"),
        "redshift": _checksum(postgres, f"SELECT * FROM {SCHEMA}.performance"),
    }


def test_two_quarters_land_once_in_each_warehouse_and_a_rerun_changes_nothing(
    processed, mysql, postgres, capfd, caplog
):
    emr, s3 = processed.boto3_client("emr"), processed.boto3_client("s3")
    kept = {period: _hive_kept(processed, period) for period in (PERIOD, OTHER)}
    assert all(k["acquisition"] > 0 and k["performance"] > k["acquisition"] for k in kept.values()), kept

    first = _run({"periods": [PERIOD, OTHER]})
    assert first.state == "success", first
    loaded = _tables(mysql, postgres)
    again = _run({"periods": [PERIOD, OTHER]})
    assert again.state == "success", again
    assert _tables(mysql, postgres) == loaded, "a rerun leaves identical rows"

    for period in (PERIOD, OTHER):
        query = "SELECT COUNT(*), COUNT(DISTINCT loan_seq_no) FROM acquisition WHERE source_period = %s"
        assert _one(mysql, query, period) == (kept[period]["acquisition"],) * 2, period
        query = f"SELECT COUNT(*) FROM {SCHEMA}.performance WHERE source_period = %s"
        assert _one(postgres, query, period) == (kept[period]["performance"],), period
    assert _one(mysql, "SELECT COUNT(*) FROM acquisition_staging") == (0,), "staging emptied"
    assert _one(postgres, f"SELECT COUNT(*) FROM {SCHEMA}.performance_staging") == (0,)

    cluster = cluster_of(emr, again.run_id)
    assert cluster["Status"]["State"] == "TERMINATED", "the teardown ended the cluster"
    steps = emr.list_steps(ClusterId=cluster["Id"])["Steps"][::-1]
    assert [s["Name"] for s in steps] == [
        f"{period} {step}" for period in (PERIOD, OTHER) for step in ("export_acquisition", "sqoop_export_acquisition")
    ]
    assert {s["Status"]["State"] for s in steps} == {"COMPLETED"}
    sqoop_args = steps[1]["Config"]["Args"]
    assert sqoop_args[sqoop_args.index("--username") + 1] == LOADER
    password_file = sqoop_args[sqoop_args.index("--password-file") + 1]
    assert not s3.list_objects_v2(Bucket=BUCKET, Prefix=password_file.split("/", 3)[3]).get("KeyCount"), (
        "the teardown deleted the password file"
    )
    assert SECRET not in json.dumps([s["Config"] for s in steps]), "the password is in no step argument"
    output = capfd.readouterr()
    logs = output.out + output.err + caplog.text
    assert "Sqoop password file staged at s3://" in logs, "the task logs were captured"
    assert SECRET not in logs, "the password is in no task log"


def test_published_values_match_the_processed_parquet(processed, mysql, postgres):
    """Typed values survive the text export and the COPY: NULLs, decimals, dates, text with spaces."""
    from sandbox.hive import HiveEngine

    hive = HiveEngine.running()
    where = f"FROM loanlake.acquisition WHERE source_period = '{PERIOD}'"
    # a loan whose credit score is not available (NULL in every store), else the first one
    ((loan_id,),) = hive.sql(f"SELECT loan_seq_no {where} ORDER BY credit_score IS NULL DESC, loan_seq_no LIMIT 1")
    columns = "credit_score, credit_score_code, first_payment_date, orig_upb, orig_interest_rate, seller_name, msa"
    (expected,) = hive.sql(
        f"SELECT {columns} FROM loanlake.acquisition WHERE source_period = '{PERIOD}' AND loan_seq_no = '{loan_id}'"
    )
    published = _one(
        mysql, f"SELECT {columns} FROM acquisition WHERE source_period = %s AND loan_seq_no = %s", PERIOD, loan_id
    )
    assert published == tuple(expected)

    columns = "monthly_reporting_period, current_actual_upb, delinquency_status, zero_balance_code, actual_loss"
    expected = sorted(
        hive.sql(
            f"SELECT {columns} FROM loanlake.performance WHERE source_period = '{PERIOD}' AND loan_seq_no = '{loan_id}'"
        )
    )
    with postgres.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {SCHEMA}.performance WHERE source_period = %s AND loan_seq_no = %s ORDER BY 1",
            (PERIOD, loan_id),
        )
        assert cursor.fetchall() == [tuple(row) for row in expected]
    quarter = _one(
        postgres, f"SELECT MIN(reporting_quarter) FROM {SCHEMA}.performance WHERE source_period = %s", PERIOD
    )[0]
    assert quarter.startswith("2016Q") or quarter.startswith("2017Q")
    assert isinstance(_one(mysql, "SELECT orig_upb FROM acquisition LIMIT 1")[0], Decimal)


def test_a_failed_export_leaves_the_published_rows_and_still_ends_the_cluster(processed, mysql):
    emr = processed.boto3_client("emr")
    before = _one(mysql, "SELECT COUNT(*) FROM acquisition WHERE source_period = %s", PERIOD)
    # A staging table Sqoop cannot fill: one column too few for the exported records.
    with mysql.cursor() as cursor:
        cursor.execute("ALTER TABLE acquisition_staging DROP COLUMN source_layout")
    try:
        result = _run({"periods": [PERIOD]})
    finally:
        with mysql.cursor() as cursor:
            cursor.execute("DROP TABLE acquisition_staging")
            cursor.execute("CREATE TABLE acquisition_staging LIKE acquisition")

    assert result.state == "failed", result
    failed_step = result.errors["wait_for_step[1]"]
    assert f"{PERIOD} sqoop_export_acquisition" in failed_step and "stderr.gz" in failed_step, failed_step
    published = {state for task, state in result.tasks.items() if task.startswith("publish_acquisition")}
    assert published == {"upstream_failed"}, result
    assert result.tasks["terminate_cluster"] == "success"
    assert result.tasks["delete_sqoop_password"] == "success"
    assert cluster_of(emr, result.run_id)["Status"]["State"] == "TERMINATED"
    assert _one(mysql, "SELECT COUNT(*) FROM acquisition WHERE source_period = %s", PERIOD) == before


def test_reconciliation_fails_loudly_on_a_planted_mismatch(processed):
    """Hive's metrics claim one acquisition row more than was exported: reconcile fails with the table."""
    s3 = processed.boto3_client("s3")
    prefix = f"quality/quality_metrics/period={PERIOD}/"
    originals = {
        o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
        for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]
    }
    key, body = next((k, b) for k, b in originals.items() if b"legacy_origination" in b)
    lines = []
    for line in body.decode().splitlines():
        fields = line.split(",")
        if fields[0] == "raw_legacy_origination":
            fields[4] = str(int(fields[4]) + 1)  # rows_kept
        lines.append(",".join(fields))
    s3.put_object(Bucket=BUCKET, Key=key, Body=("\n".join(lines) + "\n").encode())
    try:
        result = _run({"periods": [PERIOD]})
    finally:
        s3.put_object(Bucket=BUCKET, Key=key, Body=originals[key])

    assert result.state == "failed", result
    message = result.errors["reconcile"]
    kept = _hive_kept(processed, PERIOD)["acquisition"]
    assert f"{PERIOD} acquisition: Hive kept {kept + 1:,} rows, RDS MySQL has {kept:,}" in message
    assert "differs by -1" in message and "Redshift" in message, message
