"""Sqoop export steps on the sandbox's EMR: the production step spec, Hive text files in S3, rows in MariaDB."""

from __future__ import annotations

import datetime
import gzip
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from loanlake.emr.sqoop import SqoopExport
from sandbox.clusters import LOG_URI, start_cluster

pytestmark = pytest.mark.integration

BUCKET = "loanlake-data"
PASSWORD_FILE = f"s3://{BUCKET}/tests/sqoop/secrets/mysql-password"
COLUMNS = ("loan_id", "seller", "upb", "first_payment", "note")
TIMEOUT = 120.0


@pytest.fixture(autouse=True)
def no_mapper_left_behind() -> Iterator[None]:
    """Every export mapper thread has ended with its step."""
    yield
    mappers = [thread.name for thread in threading.enumerate() if thread.name.startswith("sandbox-sqoop-")]
    assert not mappers, f"Sqoop mappers still running: {mappers}"


@pytest.fixture
def table(request: pytest.FixtureRequest, mysql) -> Iterator[str]:
    """A staging-like table named for the test, dropped afterwards."""
    name = f"sqoop_it_{request.node.name.removeprefix('test_')[:40]}"
    cursor = mysql.cursor()
    cursor.execute(f"DROP TABLE IF EXISTS `{name}`")
    cursor.execute(
        f"CREATE TABLE `{name}` (loan_id INT NOT NULL, seller VARCHAR(64) NULL, upb DECIMAL(12, 2) NULL,"
        " first_payment DATE NULL, note VARCHAR(64) NULL)"
    )
    try:
        yield name
    finally:
        cursor.execute(f"DROP TABLE IF EXISTS `{name}`")


@pytest.fixture
def folder(request: pytest.FixtureRequest, s3) -> str:
    """The test's export folder in the data bucket, emptied first."""
    prefix = f"tests/sqoop/{request.node.name.removeprefix('test_')}/"
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    return prefix


@pytest.fixture
def cluster(emr) -> Iterator[str]:
    """A waiting cluster that logs to LOG_URI, terminated after the test."""
    cluster_id = start_cluster(emr, "loanlake-sqoop-test", ["Sqoop"])
    yield cluster_id
    emr.terminate_job_flows(JobFlowIds=[cluster_id])
    wait_for(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"] == "TERMINATED")


@pytest.fixture
def password_file(sandbox, s3) -> Callable[[bytes], str]:
    """Store the MariaDB password (or any bytes) where the step reads it."""

    def put(body: bytes = sandbox.context.mysql["password"].encode()) -> str:
        bucket, _, key = PASSWORD_FILE.removeprefix("s3://").partition("/")
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        return PASSWORD_FILE

    return put


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def export_step(
    sandbox, table: str, folder: str, password_file: str, *extra: str, per_transaction: int = 100, **spec
) -> dict:
    """The production step spec (four mappers unless ``num_mappers`` says otherwise), with ``extra`` options."""
    mysql = sandbox.context.mysql
    step = SqoopExport(
        name=f"export {table}",
        connect=f"jdbc:mysql://{mysql['host']}:{mysql['port']}/{mysql['database']}",
        username=mysql["user"],
        password_file=password_file,
        table=table,
        export_dir=f"s3://{BUCKET}/{folder}",
        columns=COLUMNS,
        action_on_failure="CONTINUE",
        **spec,
    ).to_emr()
    args = step["HadoopJarStep"]["Args"]
    args[2:2] = [f"-Dsqoop.export.statements.per.transaction={per_transaction}"]  # Hadoop's options come first
    args += extra
    return step


def run_step(emr, cluster_id: str, step: dict) -> dict:
    """Add the step and return its description once it has ended."""
    (step_id,) = emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step])["StepIds"]

    def ended() -> bool:
        return emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]["Status"]["State"] not in (
            "PENDING",
            "RUNNING",
        )

    wait_for(ended)
    return emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]


def read_log(s3, uri: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).decode()


def rows(mysql, table: str) -> list[tuple]:
    cursor = mysql.cursor()
    cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM `{table}` ORDER BY loan_id")  # noqa: S608 (test table)
    return list(cursor.fetchall())


def hive_line(*fields: str) -> bytes:
    """A record as a Hive text table with '\\001' fields and '\\N' NULLs writes it (no escaping)."""
    return "\x01".join(fields).encode() + b"\n"


def test_hive_text_files_load_exactly(sandbox, emr, s3, mysql, cluster, table, folder, password_file) -> None:
    s3.put_object(
        Bucket=BUCKET,
        Key=f"{folder}part-00000",
        Body=hive_line("1", "Alpha | Bank, N.A.", "100000.50", "2017-03-01", "ok")
        + hive_line("2", "\\N", "\\N", "\\N", "\\N")
        + hive_line("3", "", "", "", "trailing   "),
    )
    last = hive_line("5", "  both sides  ", "0", "2017-05-01", "\\N").rstrip(b"\n")  # a last line without \n
    s3.put_object(
        Bucket=BUCKET,
        Key=f"{folder}part-00001",
        Body=hive_line("4", "C:\\loans\\N", "50", "2017-04-01", "N")
        + hive_line("6", "O'Brien \"Loans\" \\'; --", "1.5", "2017-06-01", "Caixa Económica 🏦")
        + hive_line("7", "NULL", "-0.01", "2017-07-01", "\\N\\N")
        + last,
    )
    for hidden in ("_SUCCESS", ".part-00000.crc", "_temporary/0/part-00002"):
        s3.put_object(Bucket=BUCKET, Key=f"{folder}{hidden}", Body=b"not data\x01\x01")

    step = run_step(emr, cluster, export_step(sandbox, table, folder, password_file()))

    assert step["Status"]["State"] == "COMPLETED", step["Status"]
    assert rows(mysql, table) == [
        (1, "Alpha | Bank, N.A.", Decimal("100000.50"), datetime.date(2017, 3, 1), "ok"),
        (2, None, None, None, None),
        (3, "", None, None, "trailing   "),
        (4, "C:\\loans\\N", Decimal("50.00"), datetime.date(2017, 4, 1), "N"),
        (5, "  both sides  ", Decimal("0.00"), datetime.date(2017, 5, 1), None),
        (6, "O'Brien \"Loans\" \\'; --", Decimal("1.50"), datetime.date(2017, 6, 1), "Caixa Económica 🏦"),
        (7, "NULL", Decimal("-0.01"), datetime.date(2017, 7, 1), "\\N\\N"),
    ]
    log = read_log(s3, f"{LOG_URI}{cluster}/steps/{step['Id']}/stderr.gz")
    assert "Total input files to process : 2" in log
    assert "INFO mapreduce.JobSubmitter: number of splits:4" in log, "the two files' bytes split among 4 mappers"
    assert "INFO mapreduce.ExportJobBase: Exported 7 records." in log


def test_a_malformed_record_fails_the_step_naming_file_and_line(
    sandbox, emr, s3, mysql, cluster, table, folder, password_file
) -> None:
    """A value with a raw newline (Hive writes it unescaped) splits its record: line 2 has too few fields."""
    body = hive_line("1", "Alpha Bank", "10", "2017-01-01", "ok") + hive_line("2", "two\nlines", "10", "2017-01-01", "")
    s3.put_object(Bucket=BUCKET, Key=f"{folder}part-00000", Body=body)

    step = run_step(emr, cluster, export_step(sandbox, table, folder, password_file(), num_mappers=1))

    uri = f"s3://{BUCKET}/{folder}part-00000"
    failure = step["Status"]["FailureDetails"]
    assert step["Status"]["State"] == "FAILED"
    assert failure["Reason"] == "Sqoop export failed"
    assert failure["Message"].startswith(f"Export job failed! {uri} line 2: 2 fields for 5 columns")
    assert failure["LogFile"] == f"{LOG_URI}{cluster}/steps/{step['Id']}/stderr.gz"
    log = read_log(s3, failure["LogFile"])
    assert f"ERROR mapreduce.TextExportMapper: On input file: {uri}" in log
    assert "ERROR mapreduce.TextExportMapper: At line 2" in log
    assert "ERROR tool.ExportTool: Error during export: Export job failed!" in log
    assert rows(mysql, table) == [], "line 1 was in the transaction the failure rolled back"


def test_a_password_file_with_a_trailing_newline_is_a_wrong_password(
    sandbox, emr, s3, cluster, table, folder, password_file
) -> None:
    """Sqoop takes the file's bytes as they are: write the password without a newline."""
    s3.put_object(Bucket=BUCKET, Key=f"{folder}part-00000", Body=hive_line("1", "a", "1", "2017-01-01", "b"))
    secret = sandbox.context.mysql["password"].encode() + b"\n"

    step = run_step(emr, cluster, export_step(sandbox, table, folder, password_file(secret)))

    assert step["Status"]["State"] == "FAILED"
    assert "Access denied" in step["Status"]["FailureDetails"]["Message"]


REFUSED_DATE = ("2017-13-45", "ok", "MySQL refused the INSERT: Incorrect date value: '2017-13-45'")
NO_SEPARATOR = ("2017-01-01X", "ok", "4 fields for 5 columns (loan_id, seller, upb, first_payment, note)")


@pytest.mark.parametrize(
    ("mappers", "bad", "committed"),
    [(1, REFUSED_DATE, 400), (4, REFUSED_DATE, 415), (4, NO_SEPARATOR, 415)],
    ids=["one-mapper-refused-row", "four-mappers-refused-row", "four-mappers-malformed-record"],
)
def test_a_job_failing_midway_keeps_what_its_mappers_committed(
    sandbox, emr, s3, mysql, cluster, table, folder, password_file, mappers: int, bad: tuple, committed: int
) -> None:
    """420 records of equal length, the last one bad; 10 records per INSERT, a commit every 5 INSERTs.

    One mapper commits records 1-400 and rolls back 401-420. Four mappers get 105 records each (the bytes split
    evenly): the first three commit theirs, the fourth commits 316-415 and fails at 420, whether MySQL refuses
    the record's INSERT or the record does not parse (the records before it in its block still load).
    """
    first_payment, note, reason = bad
    lines = [hive_line(f"{n:06d}", "Bank", "100.00", "2017-01-01", "ok") for n in range(1, 420)]
    if first_payment.endswith("X"):  # the separator before the last field replaced: a field short, same length
        lines.append(hive_line("000420", "Bank", "100.00", first_payment + note))
    else:
        lines.append(hive_line("000420", "Bank", "100.00", first_payment, note))
    assert len({len(line) for line in lines}) == 1
    s3.put_object(Bucket=BUCKET, Key=f"{folder}part-00000", Body=b"".join(lines))
    spec = {"num_mappers": mappers, "records_per_statement": 10}

    step = run_step(emr, cluster, export_step(sandbox, table, folder, password_file(), per_transaction=5, **spec))

    uri = f"s3://{BUCKET}/{folder}part-00000"
    message = step["Status"]["FailureDetails"]["Message"]
    assert step["Status"]["State"] == "FAILED"
    assert message.startswith(f"Export job failed! {uri} line 420: {reason}"), message
    assert [row[0] for row in rows(mysql, table)] == list(range(1, committed + 1))
    log = read_log(s3, step["Status"]["FailureDetails"]["LogFile"])
    assert f"INFO mapreduce.JobSubmitter: number of splits:{mappers}" in log
    record = lines[-1].decode().rstrip("\n")
    assert f"ERROR mapreduce.TextExportMapper: On input: {record!r}" in log
    assert f"sandbox: {committed} records committed before the failure stay in {table}" in log


def test_an_escaped_format_goes_record_by_record_in_every_mapper(
    sandbox, emr, s3, mysql, cluster, table, folder, password_file
) -> None:
    """With --input-escaped-by the sandbox parses in Python, still one split per mapper."""
    body = b"".join(
        hive_line(str(n), f"Alpha\\\x01Beta {n}", "1", "2017-01-01", "a\\\\b") for n in range(1, 41)
    )  # an escaped delimiter and an escaped backslash
    s3.put_object(Bucket=BUCKET, Key=f"{folder}part-00000", Body=body)

    step = run_step(emr, cluster, export_step(sandbox, table, folder, password_file(), "--input-escaped-by", "\\"))

    assert step["Status"]["State"] == "COMPLETED", step["Status"]
    assert rows(mysql, table) == [
        (n, f"Alpha\x01Beta {n}", Decimal("1.00"), datetime.date(2017, 1, 1), "a\\b") for n in range(1, 41)
    ]
    log = read_log(s3, f"{LOG_URI}{cluster}/steps/{step['Id']}/stderr.gz")
    assert "number of splits:4" in log and "record by record" in log


def test_a_number_column_value_that_is_no_number_fails_the_step(
    sandbox, emr, s3, mysql, cluster, table, folder, password_file
) -> None:
    """Values reach MySQL as strings that it converts in strict mode: one that is no number is refused, as Sqoop's
    generated class would refuse it, and the failure names the line."""
    body = hive_line("1", "Bank", "100.50", "2017-01-01", "ok") + hive_line("2", "Bank", "12,50", "2017-01-01", "ok")
    s3.put_object(Bucket=BUCKET, Key=f"{folder}part-00000", Body=body)

    step = run_step(emr, cluster, export_step(sandbox, table, folder, password_file(), num_mappers=1))

    message = step["Status"]["FailureDetails"]["Message"]
    assert step["Status"]["State"] == "FAILED"
    assert message.startswith(f"Export job failed! s3://{BUCKET}/{folder}part-00000 line 2: MySQL refused"), message
    assert message.endswith("Data truncated for column 'upb' at row 2"), message
    log = read_log(s3, step["Status"]["FailureDetails"]["LogFile"])
    assert "On input: '2\\x01Bank\\x0112,50\\x012017-01-01\\x01ok'" in log
    assert rows(mysql, table) == []
