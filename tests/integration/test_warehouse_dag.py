"""loan_warehouse_load with dag.test() against the sandbox: Sqoop on EMR into MariaDB, COPY into PostgreSQL.

Two quarters are ingested and processed first, as in production. The sandbox's RDS MySQL is the local MariaDB
and its Redshift the local PostgreSQL (through the Data API), both in their `loanlake` database.

A run takes about 40 s (30 of them the cluster waiter's first delay), so the module makes three and shares
them through fixtures, in this order: the first load of both quarters; a run whose export fails midway (one
processed row that MySQL refuses); the next run, which also publishes AWKWARD, a period whose processed
acquisitions hold awkward values and which has no performance files. Reconciliation and the Redshift timeout
are checked by calling the task functions; the export's control-character guard by running the Hive step on a
cluster of its own.
"""

# ruff: noqa: S608 - the queries are built from this module's constants

from __future__ import annotations

import gzip
import hashlib
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from dag_runs import cluster_of

from loanlake.processing import quality
from loanlake.warehouse import exports
from sandbox.clusters import LOG_URI, start_cluster
from sandbox.runner import RunResult, run_dag

pytestmark = pytest.mark.integration

DAG_ID = "loan_warehouse_load"
BUCKET = "loanlake-data"
PERIOD, OTHER = "2016Q4", "2017Q1"  # legacy and Release 47 layouts
AWKWARD = "2015Q3"  # made up here: acquisitions with awkward values, no performance files
GUARDED = "2015Q4"  # made up here: one acquisition the export step must refuse
SCHEMA = "loanlake"
LOADER, SECRET = "loanlake_loader", "Sq00p-only-reads-this-8c1f"
COLUMNS = ", ".join(exports.COLUMNS)
TEXT = [  # the text columns of acquisition (the others are numbers and dates)
    *("source_period", "loan_seq_no", "credit_score_code", "first_time_homebuyer_flag", "msa", "occupancy_status"),
    *("channel", "ppm_flag", "amortization_type", "property_state", "property_type", "postal_code", "loan_purpose"),
    *("seller_name", "servicer_name", "super_conforming_flag", "pre_harp_loan_seq_no", "program_indicator"),
    *("harp_indicator", "interest_only_indicator", "mi_cancellation_indicator", "vantagescore_4_code", "source_layout"),
]
_dates = count()
_runs: dict[str, Any] = {}  # the module's DAG runs, each made once by whichever test needs it first


def _run(conf: dict) -> RunResult:
    return run_dag(DAG_ID, datetime(2022, 1, 1, tzinfo=UTC) + timedelta(hours=next(_dates)), conf)


@pytest.fixture(scope="module")
def processed(sandbox, mysql):
    """Two quarters ingested and processed by the upstream DAGs; RDS MySQL reached as a loader with a password."""
    value = json.loads(sandbox.env()["AIRFLOW_VAR_LOANLAKE_CONFIG"])
    value["emr"] = {"poll_seconds": 1}
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


@pytest.fixture(scope="module")
def hive(processed):
    """The sandbox's Hive engine, which the processing steps left running with the processed tables."""
    from sandbox.hive import HiveEngine

    engine = HiveEngine.running()
    assert engine is not None
    return engine


# -- helpers -----------------------------------------------------------------------------------------


def _one(connection, query: str, *args) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(query, args)
        return cursor.fetchone()


def _all(connection, query: str, *args) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, args)
        return [tuple(row) for row in cursor.fetchall()]


def _hive_kept(sandbox, period: str) -> dict[str, int]:
    metrics = quality.read_metrics(sandbox.boto3_client("s3"), BUCKET, "quality", [period])
    return {table: counts["rows_kept"] for (table, _), counts in quality.totals(metrics).items()}


def _checksum(connection, query: str) -> tuple[int, str]:
    rows = sorted(repr(row) for row in _all(connection, query))
    return len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()


def _tables(mysql, postgres, periods: tuple[str, ...] = (PERIOD, OTHER)) -> dict[str, tuple[int, str]]:
    """A checksum of the periods' published rows (MySQL's loaded_at aside: it records when, not what)."""
    where = "WHERE source_period IN ({})".format(", ".join(f"'{period}'" for period in periods))
    return {
        "mysql": _checksum(mysql, f"SELECT {COLUMNS} FROM acquisition {where}"),
        "redshift": _checksum(postgres, f"SELECT * FROM {SCHEMA}.performance {where}"),
    }


def _read_log(s3, uri: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).decode()


def _table_files(hive, table: str) -> set[Path]:
    (location,) = [row[1] for row in hive.sql(f"DESCRIBE TABLE EXTENDED {table}") if row[0] == "Location"]
    root = Path(urlparse(location).path)
    return {path for path in root.rglob("*") if path.is_file()}


@contextmanager
def _processed_rows(hive, rows: list[dict[str, Any]]) -> Iterator[None]:
    """Rows in Hive's processed acquisition table, where the EMR steps read it; removed afterwards.

    The rows are dicts of the table's columns (partition columns included), as ``_processed_row`` makes them.
    """
    table = hive.spark.table("loanlake.acquisition")
    before = _table_files(hive, "loanlake.acquisition")
    new_periods = {row["source_period"] for row in rows} - {PERIOD, OTHER}
    try:
        frame = hive.spark.createDataFrame([tuple(row[name] for name in table.columns) for row in rows], table.schema)
        frame.write.insertInto("loanlake.acquisition")
        yield
    finally:
        for path in _table_files(hive, "loanlake.acquisition") - before:
            path.unlink()
        for period in new_periods:
            hive.sql(f"ALTER TABLE loanlake.acquisition DROP IF EXISTS PARTITION (source_period = '{period}')")
        hive.sql("REFRESH TABLE loanlake.acquisition")


def _processed_row(hive, **values: Any) -> dict[str, Any]:
    """A processed acquisition row of PERIOD (its first loan) with ``values`` instead of its own."""
    (row,) = hive.spark.sql(
        f"SELECT * FROM loanlake.acquisition WHERE source_period = '{PERIOD}' ORDER BY loan_seq_no LIMIT 1"
    ).collect()
    return row.asDict() | values


def _forget_period(sandbox, hive, mysql, period: str) -> None:
    """What a made-up period left: its published rows, its export files and the export table's partition."""
    s3 = sandbox.boto3_client("s3")
    with mysql.cursor() as cursor:
        cursor.execute("DELETE FROM acquisition WHERE source_period = %s", (period,))
        cursor.execute("DELETE FROM acquisition_staging WHERE source_period = %s", (period,))
    prefix = f"export/acquisition/period={period}/"
    for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    hive.sql(f"ALTER TABLE loanlake.acquisition_export DROP IF EXISTS PARTITION (period = '{period}')")


# -- the module's runs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    result: RunResult
    before: dict[str, tuple[int, str]]  # _tables() before the run
    after: dict[str, tuple[int, str]]  # and after it
    staged: int = 0  # PERIOD's rows left in acquisition_staging


def _first_load(mysql, postgres) -> Load:
    """Run 1: both quarters, clean."""
    if "first" not in _runs:
        before = _tables(mysql, postgres)
        result = _run({"periods": [PERIOD, OTHER]})
        _runs["first"] = Load(result, before, _tables(mysql, postgres))
    return _runs["first"]


@pytest.fixture(scope="module")
def first_load(processed, mysql, postgres) -> Load:
    return _first_load(mysql, postgres)


BAD_LOAN = "F16Q4BAD00001"
BAD_SELLER = "Too Long Mortgage Company " * 4  # 104 characters: seller_name is VARCHAR(100), MySQL is strict


@pytest.fixture(scope="module")
def failed_midway(first_load, hive, mysql, postgres) -> Load:
    """Run 2: PERIOD with one more processed row, whose seller name is too long for RDS MySQL.

    The Sqoop step runs four mappers over byte ranges of the export; the one that meets the row fails, the
    others commit their ranges into acquisition_staging: the export fails midway.
    """
    assert first_load.after["mysql"][0] > 0, "the published table holds rows before the failure"
    bad = _processed_row(hive, loan_seq_no=BAD_LOAN, seller_name=BAD_SELLER)
    with _processed_rows(hive, [bad]):
        before = _tables(mysql, postgres)
        result = _run({"periods": [PERIOD]})
        staged = _one(mysql, "SELECT COUNT(*) FROM acquisition_staging WHERE source_period = %s", PERIOD)[0]
        return Load(result, before, _tables(mysql, postgres), staged)


AWKWARD_VALUES = [  # (loan id, seller_name, servicer_name, msa, postal_code, property_state)
    ("F15Q3AWK00001", "  Alpha | Bank, N.A.  ", "", None, "12|34", "CA"),
    ("F15Q3AWK00002", 'O\'Brien "Home" Loans \\ Co.', "   ", "", " 9 ", None),
    ("F15Q3AWK00003", "C:\\loans\\New", "NULL", "N", "\\", ""),
    ("F15Q3AWK00004", "Caixa Económica, São Paulo 🏦", "|", "|||", "", " "),
]


def _awkward_rows(hive) -> list[dict[str, Any]]:
    rows = []
    for number, (loan, seller, servicer, msa, postal, state) in enumerate(AWKWARD_VALUES):
        rows.append(
            _processed_row(
                hive,
                source_period=AWKWARD,
                loan_seq_no=loan,
                orig_year=2015,
                orig_quarter=3,
                seller_name=seller,
                servicer_name=servicer,
                msa=msa,
                postal_code=postal,
                property_state=state,
                credit_score=None if number % 2 else 700 + number,
                first_payment_date=None if number == 1 else date(2015, 9, 1),
                orig_upb=Decimal("125000.50") if number == 0 else Decimal(f"{number}000.00"),
            )
        )
    return rows


@pytest.fixture(scope="module")
def recovery(failed_midway, hive, processed, mysql, postgres) -> Iterator[tuple[Load, list[dict[str, Any]]]]:
    """Run 3, after the failure (its bad row gone): both quarters again, and AWKWARD."""
    awkward = _awkward_rows(hive)
    try:
        with _processed_rows(hive, awkward):
            before = _tables(mysql, postgres)
            result = _run({"periods": [PERIOD, OTHER, AWKWARD]})
            staged = _one(mysql, "SELECT COUNT(*) FROM acquisition_staging WHERE source_period = %s", PERIOD)[0]
            load = Load(result, before, _tables(mysql, postgres), staged)
        yield load, awkward
    finally:
        _forget_period(processed, hive, mysql, AWKWARD)


def _task(result: RunResult, task: str, periods: list[str], period: str) -> str:
    """The name of a mapped task's instance for a period (the DAG maps over the periods in sorted order)."""
    return f"{task}[{sorted(periods).index(period)}]"


# -- the first load ----------------------------------------------------------------------------------


def test_two_quarters_land_once_in_each_warehouse(processed, mysql, postgres, capfd, caplog):
    emr, s3 = processed.boto3_client("emr"), processed.boto3_client("s3")
    kept = {period: _hive_kept(processed, period) for period in (PERIOD, OTHER)}
    assert all(k["acquisition"] > 0 and k["performance"] > k["acquisition"] for k in kept.values()), kept

    first = _first_load(mysql, postgres)

    assert first.result.state == "success", first.result
    assert first.result.tasks["reconcile"] == "success"
    for period in (PERIOD, OTHER):
        query = "SELECT COUNT(*), COUNT(DISTINCT loan_seq_no) FROM acquisition WHERE source_period = %s"
        assert _one(mysql, query, period) == (kept[period]["acquisition"],) * 2, period
        query = f"SELECT COUNT(*) FROM {SCHEMA}.performance WHERE source_period = %s"
        assert _one(postgres, query, period) == (kept[period]["performance"],), period
    assert _one(mysql, "SELECT COUNT(*) FROM acquisition_staging") == (0,), "staging emptied"
    assert _one(postgres, f"SELECT COUNT(*) FROM {SCHEMA}.performance_staging") == (0,)

    cluster = cluster_of(emr, first.result.run_id)
    assert cluster["Status"]["State"] == "TERMINATED", "the teardown ended the cluster"
    steps = emr.list_steps(ClusterId=cluster["Id"])["Steps"][::-1]
    assert [s["Name"] for s in steps] == [
        f"{period} {step}" for period in (PERIOD, OTHER) for step in ("export_acquisition", "sqoop_export_acquisition")
    ]
    assert {s["Status"]["State"] for s in steps} == {"COMPLETED"}
    sqoop_args = steps[1]["Config"]["Args"]
    assert sqoop_args[sqoop_args.index("--username") + 1] == LOADER
    assert sqoop_args[sqoop_args.index("--num-mappers") + 1] == "4"
    log = _read_log(s3, f"{LOG_URI}{cluster['Id']}/steps/{steps[1]['Id']}/stderr.gz")
    assert "INFO mapreduce.JobSubmitter: number of splits:4" in log
    assert f"INFO mapreduce.ExportJobBase: Exported {kept[PERIOD]['acquisition']} records." in log
    password_file = sqoop_args[sqoop_args.index("--password-file") + 1]
    assert not s3.list_objects_v2(Bucket=BUCKET, Prefix=password_file.split("/", 3)[3]).get("KeyCount"), (
        "the teardown deleted the password file"
    )
    assert SECRET not in json.dumps([s["Config"] for s in steps]), "the password is in no step argument"
    output = capfd.readouterr()
    logs = output.out + output.err + caplog.text
    assert "Sqoop password file staged at s3://" in logs, "the task logs were captured"
    assert SECRET not in logs, "the password is in no task log"


def test_published_rows_equal_the_processed_rows_value_by_value(first_load, hive, mysql, postgres):
    """Every processed acquisition arrives as it is in Hive (types, NULLs, decimals, dates, text), and Redshift's
    performance rows of a loan equal Hive's. acquisition.hql trims text and turns '' into NULL, so none is left."""
    periods = f"('{PERIOD}', '{OTHER}')"
    expected = sorted(hive.sql(f"SELECT {COLUMNS} FROM loanlake.acquisition WHERE source_period IN {periods}"))
    published = sorted(_all(mysql, f"SELECT {COLUMNS} FROM acquisition WHERE source_period IN {periods}"))
    assert published == expected
    assert any(value is None for row in published for value in row), "NULLs were compared too"
    texts = [exports.COLUMNS.index(name) for name in TEXT]
    assert all(row[i] is None or (row[i] and row[i] == row[i].strip()) for row in published for i in texts)
    assert isinstance(published[0][exports.COLUMNS.index("orig_upb")], Decimal)

    ((loan_id,),) = hive.sql(
        f"SELECT loan_seq_no FROM loanlake.acquisition WHERE source_period = '{PERIOD}' ORDER BY loan_seq_no LIMIT 1"
    )
    columns = "monthly_reporting_period, current_actual_upb, delinquency_status, zero_balance_code, actual_loss"
    where = f"source_period = '{PERIOD}' AND loan_seq_no = '{loan_id}'"
    expected = sorted(hive.sql(f"SELECT {columns} FROM loanlake.performance WHERE {where}"))
    assert expected and _all(postgres, f"SELECT {columns} FROM {SCHEMA}.performance WHERE {where} ORDER BY 1") == [
        tuple(row) for row in expected
    ]
    quarters = _all(postgres, f"SELECT DISTINCT reporting_quarter FROM {SCHEMA}.performance WHERE {where}")
    assert quarters and all(re.fullmatch(r"20(16|17|18)Q[1-4]", quarter) for (quarter,) in quarters)


# -- an export that fails midway, and the run after it -----------------------------------------------


def test_an_export_failing_midway_leaves_the_published_rows_and_ends_the_cluster(failed_midway, processed):
    emr, s3 = processed.boto3_client("emr"), processed.boto3_client("s3")
    result = failed_midway.result

    assert result.state == "failed", result
    assert failed_midway.staged > 0, "the mappers that did not meet the row committed theirs into staging"
    assert failed_midway.after == failed_midway.before, "the published tables are as they were"
    message = result.errors["wait_for_step[1]"]
    assert f"EMR step '{PERIOD} sqoop_export_acquisition'" in message and "FAILED" in message, message
    assert "MySQL refused the INSERT: Data too long for column 'seller_name'" in message, message
    log_uri = re.search(r"step log: (s3://\S+/stderr\.gz)", message)[1]
    log = _read_log(s3, log_uri)
    assert f"ERROR mapreduce.TextExportMapper: On input: '{PERIOD}\\x01{BAD_LOAN}\\x01" in log
    assert f"sandbox: {failed_midway.staged} records committed before the failure stay" in log
    assert {state for task, state in result.tasks.items() if task.startswith("publish_acquisition")} == {
        "upstream_failed"
    }
    assert result.tasks["terminate_cluster"] == "success" and result.tasks["delete_sqoop_password"] == "success"
    assert cluster_of(emr, result.run_id)["Status"]["State"] == "TERMINATED"


def test_the_next_run_clears_the_leftovers_and_publishes_each_quarter_exactly_once(recovery, first_load, mysql):
    load, _ = recovery
    periods = [PERIOD, OTHER, AWKWARD]
    for period in (PERIOD, OTHER):
        assert load.result.tasks[_task(load.result, "clear_mysql_staging", periods, period)] == "success"
        assert load.result.tasks[_task(load.result, "publish_acquisition", periods, period)] == "success"
    assert load.staged == 0
    assert _one(mysql, "SELECT COUNT(*) FROM acquisition_staging") == (0,)
    assert load.after == first_load.after, "the same rows as the clean first load, once: a rerun changes nothing"


def test_a_retry_of_publish_after_its_commit_keeps_the_published_rows(recovery, mysql):
    from loanlake.warehouse.exports import MYSQL_SQL_DIR

    statements = [s for s in (MYSQL_SQL_DIR / "publish_acquisition.sql").read_text().split(";") if s.strip()]
    before = _one(mysql, "SELECT COUNT(*) FROM acquisition WHERE source_period = %s", PERIOD)
    assert before[0] > 0 and _one(mysql, "SELECT COUNT(*) FROM acquisition_staging") == (0,)

    with mysql.cursor() as cursor:  # the same statements again, as a retry of the committed task runs them
        for statement in statements:
            cursor.execute(statement, {"period": PERIOD})

    assert _one(mysql, "SELECT COUNT(*) FROM acquisition WHERE source_period = %s", PERIOD) == before


def test_awkward_values_survive_the_export_path(recovery, mysql):
    """Spaces (leading and trailing), pipes, quotes, backslashes, '', NULL and 4-byte UTF-8, value by value:
    processed acquisition -> export_acquisition.hql -> the Sqoop step -> acquisition_staging -> acquisition."""
    load, awkward = recovery
    assert load.result.tasks[_task(load.result, "publish_acquisition", [PERIOD, OTHER, AWKWARD], AWKWARD)] == "success"
    published = _all(mysql, f"SELECT {COLUMNS} FROM acquisition WHERE source_period = %s ORDER BY 2", AWKWARD)

    assert published == [tuple(row[name] for name in exports.COLUMNS) for row in awkward]
    by_loan = {row[1]: dict(zip(exports.COLUMNS, row, strict=True)) for row in published}
    assert by_loan["F15Q3AWK00001"]["seller_name"] == "  Alpha | Bank, N.A.  "
    assert by_loan["F15Q3AWK00001"]["servicer_name"] == "" and by_loan["F15Q3AWK00001"]["msa"] is None
    assert by_loan["F15Q3AWK00002"]["servicer_name"] == "   " and by_loan["F15Q3AWK00002"]["property_state"] is None
    assert by_loan["F15Q3AWK00003"]["servicer_name"] == "NULL" and by_loan["F15Q3AWK00003"]["postal_code"] == "\\"


def test_a_failing_copy_fails_load_performance_naming_the_statement_and_error(recovery, first_load, processed):
    """AWKWARD has no performance files: its COPY fails, the batch rolls back, the published table stays."""
    load, _ = recovery
    data_api = processed.boto3_client("redshift-data")
    periods = [PERIOD, OTHER, AWKWARD]
    assert load.result.tasks[_task(load.result, "load_performance", periods, AWKWARD)] == "failed"
    message = load.result.errors[_task(load.result, "load_performance", periods, AWKWARD)]
    statement_id = re.search(r"Redshift statement (\S+) \(loanlake load performance 2015Q3\) FAILED", message)[1]
    described = data_api.describe_statement(Id=statement_id)

    assert described["Status"] == "FAILED"
    assert f"at statement {statement_id}:2: COPY {SCHEMA}.performance_staging FROM 's3://{BUCKET}/" in message
    prefix = f"processed/performance/source_period={AWKWARD}/"
    assert described["Error"] == f"ERROR: The specified S3 prefix '{prefix}' does not exist"
    assert described["Error"] in message
    assert load.after["redshift"] == first_load.after["redshift"], "the published performance rows are unchanged"
    assert load.result.tasks["reconcile"] == "upstream_failed"


# -- task functions called directly ------------------------------------------------------------------


def test_a_redshift_load_past_its_timeout_is_cancelled(first_load, processed, postgres, monkeypatch):
    """Another session holds a lock on performance: the load waits, is cancelled at the timeout, rolls back."""
    from airflow.sdk.exceptions import AirflowFailException

    from loanlake.warehouse import runtime

    value = json.loads(processed.env()["AIRFLOW_VAR_LOANLAKE_CONFIG"])
    value["warehouse"] = {"redshift": {"poll_seconds": 1, "timeout_seconds": 2}}
    monkeypatch.setenv("AIRFLOW_VAR_LOANLAKE_CONFIG", json.dumps(value))
    before = _checksum(postgres, f"SELECT * FROM {SCHEMA}.performance")
    blocker = postgres.cursor()
    blocker.execute("BEGIN")
    blocker.execute(f"LOCK TABLE {SCHEMA}.performance IN SHARE MODE")  # readers pass, writers wait
    started = time.monotonic()
    try:
        with pytest.raises(AirflowFailException) as failure:
            runtime.load_performance(PERIOD)
        waited = time.monotonic() - started
        _wait(lambda: not _waiting_for_a_lock(postgres), timeout=10)  # the sandbox cancelled the query in PostgreSQL
    finally:
        blocker.execute("ROLLBACK")

    message = str(failure.value)
    pattern = rf"Redshift statement (\S+) \(loanlake load performance {PERIOD}\) still running after 2 s"
    statement_id = re.match(pattern, message)[1]
    assert "(warehouse.redshift.timeout_seconds): cancelled, now ABORTED" in message
    assert processed.boto3_client("redshift-data").describe_statement(Id=statement_id)["Status"] == "ABORTED"
    assert 2 <= waited < 30
    assert _checksum(postgres, f"SELECT * FROM {SCHEMA}.performance") == before


def _waiting_for_a_lock(postgres) -> bool:
    query = (
        "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'sandbox-redshift-data' "
        "AND wait_event_type = 'Lock'"
    )
    return _one(postgres, query)[0] > 0


def test_reconciliation_fails_loudly_on_a_planted_mismatch(first_load, processed):
    """Hive's metrics claim one acquisition row more than was published: reconcile fails with the table."""
    from airflow.sdk.exceptions import AirflowFailException

    from loanlake.warehouse import runtime

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
    kept = _hive_kept(processed, PERIOD)["acquisition"]
    s3.put_object(Bucket=BUCKET, Key=key, Body=("\n".join(lines) + "\n").encode())
    try:
        with pytest.raises(AirflowFailException) as failure:
            runtime.reconcile_counts([PERIOD, OTHER])
    finally:
        s3.put_object(Bucket=BUCKET, Key=key, Body=originals[key])

    message = str(failure.value)
    assert message.startswith(f"row counts differ: {PERIOD} acquisition: Hive kept {kept + 1:,} rows, RDS MySQL has ")
    assert f"{kept:,}" in message and "differs by -1" in message and "Redshift" in message, message
    assert re.search(rf"^{OTHER} +acquisition .* ok$", message, re.MULTILINE), "the table shows every period"


# -- the export step's guard -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guard_cluster(processed) -> Iterator[str]:
    """A waiting cluster for Hive steps run one by one, terminated after the tests."""
    emr = processed.boto3_client("emr")
    cluster_id = start_cluster(emr, "loanlake-export-guard-test", ["Hive"])
    try:
        yield cluster_id
    finally:
        emr.terminate_job_flows(JobFlowIds=[cluster_id])
        _wait(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"] == "TERMINATED")


def _wait(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.parametrize(
    ("column", "value"),
    [("seller_name", "Alpha\x01Bank"), ("servicer_name", "two\nlines"), ("msa", "123\r"), ("postal_code", "\\N")],
    ids=["field-separator", "newline", "carriage-return", "null-marker"],
)
def test_the_export_step_refuses_values_its_format_cannot_carry(
    processed, hive, mysql, guard_cluster, column: str, value: str
):
    """The Hive step of the production spec fails through its ASSERT_TRUE guard, and the message says why."""
    from loanlake.config import parse_config
    from loanlake.emr import scripts
    from loanlake.emr.logs import failure_message

    emr = processed.boto3_client("emr")
    config = parse_config(json.loads(processed.env()["AIRFLOW_VAR_LOANLAKE_CONFIG"]))
    root = scripts.publish(processed.boto3_client("s3"), BUCKET, config.emr.code_prefix, [exports.EXPORT_SCRIPT])
    hive_step, _ = exports.export_steps(
        config, root, [GUARDED], "jdbc:mysql://127.0.0.1:3306/loanlake", LOADER, f"s3://{BUCKET}/unused"
    )
    row = _processed_row(
        hive, source_period=GUARDED, loan_seq_no="F15Q4GUARD001", orig_year=2015, orig_quarter=4, **{column: value}
    )
    s3 = processed.boto3_client("s3")

    def step() -> dict:
        return emr.describe_step(ClusterId=guard_cluster, StepId=step_id)["Step"]

    try:
        with _processed_rows(hive, [row]):
            (step_id,) = emr.add_job_flow_steps(JobFlowId=guard_cluster, Steps=[hive_step])["StepIds"]
            _wait(lambda: step()["Status"]["State"] not in ("PENDING", "RUNNING"))
        written = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"export/acquisition/period={GUARDED}/").get("KeyCount")
    finally:
        _forget_period(processed, hive, mysql, GUARDED)
    message = failure_message(guard_cluster, step(), LOG_URI)

    assert step()["Status"]["State"] == "FAILED"
    assert f"EMR step '{GUARDED} export_acquisition'" in message and "Hive script failed" in message, message
    assert "statement 2 (INSERT OVERWRITE TABLE ${DB}.acquisition_export" in message, message
    assert "failed: [USER_RAISED_EXCEPTION]" in message, "Spark's ASSERT_TRUE quotes the condition that failed"
    assert "a text value holds \\001, \\n or \\r or is exactly \\N: the export format cannot carry it" in message
    assert not written, "the failed step left no files for Sqoop"
