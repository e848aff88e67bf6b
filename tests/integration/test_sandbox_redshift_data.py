"""The sandbox's Redshift Data API: statements run on the local PostgreSQL, COPY reads the sandbox's S3.

Each test works in a schema of its own (dropped after it) and an S3 folder of its own (emptied after it).
"""

# ruff: noqa: S608 - the SQL is built from this module's constants and the test's own schema name

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration

BUCKET = "loanlake-data"
TIMEOUT = 60.0
CLUSTER = {"ClusterIdentifier": "loanlake", "Database": "dev", "DbUser": "awsuser"}
SERVERLESS = {"WorkgroupName": "loanlake", "Database": "dev"}
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:loanlake-redshift-AbCdEf"
ENDED = ("FINISHED", "FAILED", "ABORTED")
LOANS_DDL = """
CREATE TABLE {schema}.loans (
    loan_id VARCHAR(20) NOT NULL ENCODE zstd DISTKEY,
    upb DECIMAL(12, 2) ENCODE az64,
    first_payment DATE,
    rate DOUBLE PRECISION,
    active BOOLEAN,
    servicer VARCHAR(MAX),
    quarter CHAR(6)
) DISTSTYLE KEY COMPOUND SORTKEY (first_payment, loan_id)
"""
LOANS_PARQUET = pa.schema(
    [
        ("loan_id", pa.string()),
        ("upb", pa.decimal128(12, 2)),
        ("first_payment", pa.date32()),
        ("rate", pa.float64()),
        ("active", pa.bool_()),
        ("servicer", pa.string()),
    ]
)


@pytest.fixture(scope="module")
def client(sandbox) -> object:
    return sandbox.boto3_client("redshift-data")


@pytest.fixture(autouse=True)
def no_worker_left_behind() -> Iterator[None]:
    """Every statement's worker thread has ended shortly after the test."""
    yield
    deadline = time.monotonic() + 10
    while (workers := _workers()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not workers, f"Redshift Data API workers still running: {workers}"


def _workers() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("sandbox-redshift-")]


@pytest.fixture
def schema(client) -> Iterator[str]:
    name = f"rsd_{uuid.uuid4().hex[:12]}"
    finished(client, f"CREATE SCHEMA {name}")
    yield name
    finished(client, f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def folder(s3, schema: str) -> Iterator[str]:
    """An S3 prefix of the data bucket for this test, emptied after it."""
    prefix = f"tests/redshift/{schema}/"
    yield prefix
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=item["Key"])


def wait(client, statement_id: str) -> dict:
    """DescribeStatement once the statement has ended."""
    deadline = time.monotonic() + TIMEOUT
    while (described := client.describe_statement(Id=statement_id))["Status"] not in ENDED:
        assert time.monotonic() < deadline, f"statement still {described['Status']} after {TIMEOUT} s"
        time.sleep(0.05)
    return described


def execute(client, sql: str, target: dict | None = None, **kwargs) -> dict:
    response = client.execute_statement(Sql=sql, **(target or CLUSTER), **kwargs)
    return wait(client, response["Id"])


def finished(client, sql: str, **kwargs) -> dict:
    described = execute(client, sql, **kwargs)
    assert described["Status"] == "FINISHED", described.get("Error")
    return described


def records(client, sql: str) -> list[list[dict]]:
    return client.get_statement_result(Id=finished(client, sql)["Id"])["Records"]


def put_parquet(s3, key: str, rows: list[tuple]) -> None:
    buffer = io.BytesIO()
    pq.write_table(
        pa.Table.from_pylist([dict(zip(LOANS_PARQUET.names, row, strict=True)) for row in rows], LOANS_PARQUET), buffer
    )
    s3.put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue())


# -- statements --------------------------------------------------------------------------------------


def test_redshift_ddl_creates_the_table(client, schema: str) -> None:
    sql = LOANS_DDL.format(schema=schema)
    described = finished(client, sql)

    assert described["QueryString"] == sql
    assert described["ClusterIdentifier"] == "loanlake" and described["Database"] == "dev"
    assert described["HasResultSet"] is False and described["Duration"] > 0
    columns = records(
        client,
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = '{schema}' AND table_name = 'loans' ORDER BY ordinal_position",
    )
    assert [(name["stringValue"], kind["stringValue"]) for name, kind in columns] == [
        ("loan_id", "character varying"),
        ("upb", "numeric"),
        ("first_payment", "date"),
        ("rate", "double precision"),
        ("active", "boolean"),
        ("servicer", "character varying"),
        ("quarter", "character"),
    ]


def test_identity_column_is_generated(client, schema: str) -> None:
    finished(client, f"CREATE TABLE {schema}.events (id BIGINT IDENTITY(100, 10), name VARCHAR(10)) DISTSTYLE EVEN")
    finished(client, f"INSERT INTO {schema}.events (name) VALUES ('a'), ('b')")

    assert records(client, f"SELECT id FROM {schema}.events ORDER BY id") == [
        [{"longValue": 100}],
        [{"longValue": 110}],
    ]


def test_parameterised_insert_then_typed_select(client, schema: str) -> None:
    finished(client, LOANS_DDL.format(schema=schema))
    insert = (
        f"INSERT INTO {schema}.loans (loan_id, upb, first_payment, rate, active, servicer) "
        "VALUES (:loan_id, :upb, :first_payment, :rate, :active, :servicer), ('F2', NULL, NULL, NULL, NULL, NULL)"
    )
    parameters = {"loan_id": "F1", "upb": "250000.10", "first_payment": "2020-02-01", "rate": "3.5"}
    parameters |= {"active": "true", "servicer": "O'Brien: 50% (::text)"}
    inserted = finished(client, insert, Parameters=[{"name": k, "value": v} for k, v in parameters.items()])
    select = execute(client, f"SELECT * FROM {schema}.loans ORDER BY loan_id", SERVERLESS)
    result = client.get_statement_result(Id=select["Id"])

    assert inserted["ResultRows"] == 2 and inserted["QueryParameters"][0] == {"name": "loan_id", "value": "F1"}
    assert (
        select["Status"] == "FINISHED" and select["WorkgroupName"] == "loanlake" and "ClusterIdentifier" not in select
    )
    assert select["HasResultSet"] is True and select["ResultRows"] == 2
    assert [(c["name"], c["typeName"]) for c in result["ColumnMetadata"]] == [
        ("loan_id", "varchar"),
        ("upb", "numeric"),
        ("first_payment", "date"),
        ("rate", "float8"),
        ("active", "bool"),
        ("servicer", "varchar"),
        ("quarter", "bpchar"),
    ]
    assert result["TotalNumRows"] == 2
    assert result["Records"] == [
        [
            {"stringValue": "F1"},
            {"stringValue": "250000.10"},
            {"stringValue": "2020-02-01"},
            {"doubleValue": 3.5},
            {"booleanValue": True},
            {"stringValue": "O'Brien: 50% (::text)"},
            {"isNull": True},
        ],
        [{"stringValue": "F2"}, *[{"isNull": True}] * 6],
    ]
    assert records(client, "SELECT 7::bigint, 2::smallint") == [[{"longValue": 7}, {"longValue": 2}]]


def test_failing_statement_is_failed_with_the_postgres_error(client, schema: str) -> None:
    target = {"ClusterIdentifier": "loanlake", "Database": "dev", "SecretArn": SECRET}
    described = execute(client, f"SELECT * FROM {schema}.missing", target)

    assert described["Status"] == "FAILED" and described["SecretArn"] == SECRET
    assert described["Error"] == f'ERROR: relation "{schema}.missing" does not exist'
    with pytest.raises(ClientError, match="Query does not have result"):
        client.get_statement_result(Id=described["Id"])
    assert execute(client, "SELECT 1")["Status"] == "FINISHED"  # the worker lives on


def test_one_statement_per_execute_statement(client) -> None:
    described = execute(client, "SELECT 1; SELECT 2")

    assert described["Status"] == "FAILED" and "use BatchExecuteStatement" in described["Error"]


def test_batch_is_one_transaction_rolled_back_on_failure(client, schema: str) -> None:
    finished(client, f"CREATE TABLE {schema}.t (id INT)")
    batch = client.batch_execute_statement(
        Sqls=[f"INSERT INTO {schema}.t VALUES (1)", f"INSERT INTO {schema}.t VALUES ('x')", "SELECT 1"], **CLUSTER
    )
    described = wait(client, batch["Id"])

    assert described["Status"] == "FAILED"
    assert described["Error"] == 'ERROR: invalid input syntax for type integer: "x"'
    assert [sub["Status"] for sub in described["SubStatements"]] == ["FINISHED", "FAILED", "ABORTED"]
    assert [sub["Id"] for sub in described["SubStatements"]] == [f"{batch['Id']}:{n}" for n in (1, 2, 3)]
    assert client.describe_statement(Id=f"{batch['Id']}:2")["Error"] == described["Error"]
    assert records(client, f"SELECT count(*) FROM {schema}.t") == [[{"longValue": 0}]]


def test_hook_runs_a_batch_and_waits_for_it(client, schema: str) -> None:
    from airflow.providers.amazon.aws.hooks.redshift_data import RedshiftDataHook

    hook = RedshiftDataHook(aws_conn_id="aws_default")
    output = hook.execute_query(
        sql=[
            f"CREATE TABLE {schema}.h (id INT ENCODE az64) DISTKEY(id) SORTKEY(id)",
            f"INSERT INTO {schema}.h VALUES (1), (2)",
            f"SELECT count(*) AS n FROM {schema}.h",
        ],
        database="dev",
        workgroup_name="loanlake",
        wait_for_completion=True,
        poll_interval=1,
    )

    assert client.describe_statement(Id=output.statement_id)["Status"] == "FINISHED"
    result = client.get_statement_result(Id=f"{output.statement_id}:3")
    assert result["Records"] == [[{"longValue": 2}]] and result["ColumnMetadata"][0]["name"] == "n"


def test_cancel_aborts_a_running_query(client) -> None:
    statement_id = client.execute_statement(Sql="SELECT pg_sleep(30)", **CLUSTER)["Id"]
    deadline = time.monotonic() + TIMEOUT
    while client.describe_statement(Id=statement_id)["Status"] != "STARTED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    started = time.monotonic()
    client.cancel_statement(Id=statement_id)

    assert wait(client, statement_id)["Status"] == "ABORTED"
    assert time.monotonic() - started < 10
    with pytest.raises(ClientError, match="already in ABORTED state"):
        client.cancel_statement(Id=statement_id)


def test_requests_the_sandbox_cannot_honour_are_refused(client) -> None:
    with pytest.raises(ClientError, match="SessionKeepAliveSeconds"):
        client.execute_statement(Sql="SELECT 1", SessionKeepAliveSeconds=60, **CLUSTER)
    with pytest.raises(ClientError, match="ClusterIdentifier or WorkgroupName"):
        client.execute_statement(Sql="SELECT 1", Database="dev")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        client.describe_statement(Id=str(uuid.uuid4()))


# -- COPY --------------------------------------------------------------------------------------------


def test_copy_parquet_loads_the_exact_rows(client, s3, schema: str, folder: str) -> None:
    finished(client, LOANS_DDL.format(schema=schema))
    put_parquet(
        s3,
        f"{folder}loans/quarter=2020Q1/part-00000.parquet",
        [
            ("F20Q1000001", Decimal("125000.50"), date(2020, 2, 1), 3.875, True, 'Wells, "Fargo"\nBank'),
            ("F20Q1000002", None, None, None, None, None),
        ],
    )
    put_parquet(
        s3,
        f"{folder}loans/quarter=2020Q2/part-00000.parquet",
        [("F20Q2000001", Decimal("-0.01"), None, 0.0, False, "")],
    )
    s3.put_object(Bucket=BUCKET, Key=f"{folder}loans/_SUCCESS", Body=b"")
    copy = (
        f"COPY {schema}.loans (loan_id, upb, first_payment, rate, active, servicer) "
        f"FROM 's3://{BUCKET}/{folder}loans/' IAM_ROLE 'arn:aws:iam::123456789012:role/redshift-copy' FORMAT AS PARQUET"
    )
    copied = finished(client, copy)

    assert copied["ResultRows"] == 3 and copied["HasResultSet"] is False
    assert records(client, f"SELECT * FROM {schema}.loans ORDER BY loan_id") == [
        [
            {"stringValue": "F20Q1000001"},
            {"stringValue": "125000.50"},
            {"stringValue": "2020-02-01"},
            {"doubleValue": 3.875},
            {"booleanValue": True},
            {"stringValue": 'Wells, "Fargo"\nBank'},
            {"isNull": True},  # the partition column is in the path only, as on Redshift
        ],
        [{"stringValue": "F20Q1000002"}, *[{"isNull": True}] * 6],
        [
            {"stringValue": "F20Q2000001"},
            {"stringValue": "-0.01"},
            {"isNull": True},
            {"doubleValue": 0.0},
            {"booleanValue": False},
            {"stringValue": ""},
            {"isNull": True},
        ],
    ]


def test_copy_parquet_needs_as_many_columns_as_the_file(client, s3, schema: str, folder: str) -> None:
    finished(client, LOANS_DDL.format(schema=schema))
    put_parquet(s3, f"{folder}loans/quarter=2020Q1/part-00000.parquet", [("F1", None, None, None, None, None)])
    described = execute(client, f"COPY {schema}.loans FROM 's3://{BUCKET}/{folder}loans/' IAM_ROLE default PARQUET")

    assert described["Status"] == "FAILED"
    assert "Unmatched number of columns between table and file. Table columns: 7, Data columns: 6" in described["Error"]
    assert records(client, f"SELECT count(*) FROM {schema}.loans") == [[{"longValue": 0}]]


def test_copy_from_a_missing_prefix_fails(client, schema: str, folder: str) -> None:
    finished(client, LOANS_DDL.format(schema=schema))
    copy = f"COPY {schema}.loans FROM 's3://{BUCKET}/{folder}nothing/' IAM_ROLE default FORMAT AS PARQUET"
    described = execute(client, copy)

    assert described["Status"] == "FAILED"
    assert described["Error"] == f"ERROR: The specified S3 prefix '{folder}nothing/' does not exist"


def test_copy_csv_with_delimiter_null_and_header(client, s3, schema: str, folder: str) -> None:
    finished(client, f"CREATE TABLE {schema}.rates (loan_id VARCHAR(20), rate DECIMAL(6, 3), note VARCHAR(20))")
    body = b'loan_id|rate|note\nF1|3.875|"a|b"\nF2|\\N|\n'
    s3.put_object(Bucket=BUCKET, Key=f"{folder}rates/rates.csv", Body=body)
    copy = (
        f"COPY {schema}.rates FROM 's3://{BUCKET}/{folder}rates/' IAM_ROLE default "
        "FORMAT AS CSV DELIMITER '|' NULL AS '\\N' IGNOREHEADER 1"
    )

    assert finished(client, copy)["ResultRows"] == 2
    assert records(client, f"SELECT * FROM {schema}.rates ORDER BY loan_id") == [
        [{"stringValue": "F1"}, {"stringValue": "3.875"}, {"stringValue": "a|b"}],
        [{"stringValue": "F2"}, {"isNull": True}, {"stringValue": ""}],
    ]


def test_cancel_aborts_a_batch_waiting_for_a_lock_and_rolls_it_back(client, postgres, schema: str) -> None:
    """A batch stuck behind another session's lock: CancelStatement ends the wait in PostgreSQL and rolls back."""
    finished(client, f"CREATE TABLE {schema}.published (id INT)")
    finished(client, f"INSERT INTO {schema}.published VALUES (1), (2)")
    blocker = postgres.cursor()
    blocker.execute("BEGIN")
    blocker.execute(f"LOCK TABLE {schema}.published IN SHARE MODE")  # readers pass, writers wait
    try:
        batch = client.batch_execute_statement(
            Sqls=[f"DELETE FROM {schema}.published WHERE id = 1", f"INSERT INTO {schema}.published VALUES (3)"],
            **CLUSTER,
        )["Id"]
        deadline = time.monotonic() + TIMEOUT
        while client.describe_statement(Id=f"{batch}:1")["Status"] != "STARTED" or not _waiting(postgres, schema):
            assert time.monotonic() < deadline, "the batch never waited for the lock"
            time.sleep(0.05)
        client.cancel_statement(Id=batch)
        described = wait(client, batch)
    finally:
        blocker.execute("ROLLBACK")

    assert described["Status"] == "ABORTED"
    assert [sub["Status"] for sub in described["SubStatements"]] == ["ABORTED", "ABORTED"]
    assert not _waiting(postgres, schema), "the query was cancelled in PostgreSQL, not left behind"
    assert records(client, f"SELECT id FROM {schema}.published ORDER BY id") == [[{"longValue": 1}], [{"longValue": 2}]]


def _waiting(postgres, schema: str) -> bool:
    """Whether a sandbox statement on the schema's table waits for a lock."""
    with postgres.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sandbox-redshift-data' "
            "AND wait_event_type = 'Lock' AND query LIKE %s",
            (f"%{schema}.published%",),
        )
        return cursor.fetchone()[0] > 0


def test_a_failing_copy_names_its_statement_and_rolls_back_the_batch(client, s3, schema: str, folder: str) -> None:
    """The load_performance shape: empty staging, COPY, replace; a COPY from an empty prefix fails the batch."""
    finished(client, f"CREATE TABLE {schema}.published (loan_id VARCHAR(20))")
    finished(client, f"INSERT INTO {schema}.published VALUES ('F1')")
    finished(client, f"CREATE TABLE {schema}.staging (loan_id VARCHAR(20))")
    copy = f"COPY {schema}.staging FROM 's3://{BUCKET}/{folder}empty/' IAM_ROLE default FORMAT AS PARQUET"
    batch = client.batch_execute_statement(
        Sqls=[
            f"DELETE FROM {schema}.published",
            copy,
            f"INSERT INTO {schema}.published SELECT loan_id FROM {schema}.staging",
        ],
        **CLUSTER,
    )["Id"]
    described = wait(client, batch)

    assert described["Status"] == "FAILED"
    assert described["Error"] == f"ERROR: The specified S3 prefix '{folder}empty/' does not exist"
    assert [(sub["Id"], sub["Status"]) for sub in described["SubStatements"]] == [
        (f"{batch}:1", "FINISHED"),
        (f"{batch}:2", "FAILED"),
        (f"{batch}:3", "ABORTED"),
    ]
    assert described["SubStatements"][1]["QueryString"] == copy
    assert records(client, f"SELECT loan_id FROM {schema}.published") == [[{"stringValue": "F1"}]], "rolled back"
