"""Warehouse load throughput: the sandbox's Sqoop export into MySQL and COPY into Redshift, each against a baseline.

The same N acquisition rows (``LOANLAKE_BENCH_WAREHOUSE_ROWS``, default 1,000,000), generated deterministically
for the 39 columns the Sqoop step exports (strings, small ints, decimals, dates, NULLs where the data has them),
are loaded into a sandbox started here (temporary home, free ports, stopped at the end) these ways:

- MySQL, Sqoop: the production step spec (``SqoopExport(...).to_emr()``, four mappers as
  ``warehouse.sqoop_mappers`` defaults to, 100 records per INSERT, a commit every 100 INSERTs per mapper) run as
  an EMR step on a sandbox cluster, reading Hive text files (``\\001`` fields, ``\\N`` NULLs) from the sandbox's
  S3; timed from ``AddJobFlowSteps`` to the step's COMPLETED.
- MySQL, baseline: MySQLdb ``executemany`` of the same rows (one ``INSERT ... VALUES (%s, ...)`` per row handed
  to it, autocommit off, one commit at the end). Note that MySQLdb rewrites such an ``executemany`` into
  multi-row INSERTs of up to 64 KiB, so it is no row-at-a-time baseline; the row-by-row figure
  (``cursor.execute`` per row, one commit) is printed too, measured on the first
  ``LOANLAKE_BENCH_ROW_BY_ROW_ROWS`` rows (default 100,000).
- MySQL, upper bound: ``LOAD DATA LOCAL INFILE`` of the same Hive text (one file, one statement, one commit):
  what MariaDB alone accepts on this machine, with no client work to speak of. Sqoop cannot do this against
  RDS (its ``--direct`` mode would need mysqlimport on the cluster); it bounds what any INSERT path can reach.
- PostgreSQL, COPY: a Redshift Data API ``BatchExecuteStatement`` of ``DELETE`` + ``COPY ... FROM 's3://...'
  IAM_ROLE '...' FORMAT AS PARQUET`` (as include/sql/redshift/load_performance.sql starts), the Parquet written
  with pyarrow into the sandbox's S3 beforehand; timed from the request to the batch's FINISHED.
- PostgreSQL, baseline: psycopg2 ``execute_values`` (1,000 rows per INSERT) of the same rows, one commit.

The input files are written before the clock starts (in production a Hive step leaves them). Each load starts
from an empty table; afterwards every table's content is checked against the generated rows (row count and
an order-independent MD5 sum of the rows' text), so a fast but wrong load fails the benchmark. The source
article's Sqoop figure (25 million rows in 723 s, about 35,000 rows/s) is printed for comparison.

Isolation: MySQL database ``loanlake_bench_warehouse`` (the real include/sql/mysql/create_tables.sql run in it)
and PostgreSQL schema ``loanlake_bench_warehouse`` (the same staging table with its MySQL types mapped to
Redshift's), both dropped at the end; the ``loanlake`` tables are not touched.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.results import record

ROWS_ENV = "LOANLAKE_BENCH_WAREHOUSE_ROWS"
ROW_BY_ROW_ENV = "LOANLAKE_BENCH_ROW_BY_ROW_ROWS"
DEFAULT_ROWS = 1_000_000
DEFAULT_ROW_BY_ROW = 100_000
ROWS_PER_FILE = 250_000  # a Hive step's output files, for both the text and the Parquet input
SEED = 20260101
ARTICLE_ROWS, ARTICLE_SECONDS = 25_000_000, 723  # the source article's Sqoop export
TARGET = 35_000  # rows/s into MySQL through the Sqoop step (issue 4: at least the article's, on 2 cores)
MAPPERS = 4  # SqoopExport's and warehouse.sqoop_mappers' default

BENCH = "loanlake_bench_warehouse"  # MySQL database and PostgreSQL schema of this benchmark only
TABLE = "acquisition_staging"
PREFIX = "bench/warehouse_load"
HIVE_NULL = "\\N"
FIELD = "\x01"
IAM_ROLE = "arn:aws:iam::123456789012:role/loanlake-redshift-copy"
CLUSTER = "loanlake-bench"
POLL_SECONDS = 0.05
TIMEOUT_SECONDS = 900.0

# -- the rows ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rows:
    """The same rows two ways: Python values (for the baselines and Parquet) and Hive text lines (for Sqoop)."""

    typed: list[tuple[Any, ...]]
    lines: list[str]

    def __len__(self) -> int:
        return len(self.typed)


Column = tuple[list[Any], list[str]]  # (Python values, Hive text) of one column


def _pick(pool: Sequence[Any], index: np.ndarray) -> Column:
    values = np.empty(len(pool), dtype=object)
    values[:] = list(pool)
    texts = np.array([HIVE_NULL if v is None else str(v) for v in pool], dtype=object)
    return values[index].tolist(), texts[index].tolist()


def _choice(rng: np.random.Generator, n: int, pool: Sequence[Any], weights: Sequence[float]) -> Column:
    p = np.asarray(weights, dtype=float)
    return _pick(pool, rng.choice(len(pool), size=n, p=p / p.sum()))


def _numbers(values: np.ndarray, nulls: np.ndarray | None = None) -> Column:
    typed, texts = values.tolist(), values.astype(str).tolist()
    for i in np.flatnonzero(nulls) if nulls is not None else ():
        typed[i], texts[i] = None, HIVE_NULL
    return typed, texts


def _dates(values: np.ndarray) -> Column:
    days = values.astype("datetime64[D]")
    return days.tolist(), np.datetime_as_string(days, unit="D").tolist()


def generate(n: int, seed: int = SEED) -> Rows:
    """``n`` acquisition rows in the column order of ``loanlake.warehouse.exports.COLUMNS``, reproducibly."""
    from loanlake.warehouse.exports import COLUMNS

    rng = np.random.default_rng(seed)
    periods = [f"{year}Q{quarter}" for year in (2017, 2018, 2019) for quarter in (1, 2, 3, 4)]
    period = np.arange(n) * len(periods) // max(n, 1)  # files hold whole periods, as Hive writes them
    year, quarter = 2017 + period // 4, 1 + period % 4
    term = rng.choice([360, 180, 240, 300], size=n, p=[0.8, 0.12, 0.05, 0.03])
    first_payment = np.array(
        [f"{y}-{3 * q - 2:02d}" for y, q in zip(year, quarter, strict=True)], dtype="datetime64[M]"
    ) + rng.integers(1, 4, size=n)
    score = np.clip(rng.normal(745, 45, size=n).round(), 300, 850).astype(np.int64)
    no_score = rng.random(n) < 0.004
    layout = np.where(year >= 2019, 1, 0)
    ltv = np.clip(rng.normal(76, 15, size=n).round(), 6, 105).astype(np.int64)
    upb = np.clip(np.exp(rng.normal(12.3, 0.5, size=n)) // 1000, 20, 1499).astype(np.int64) - 20
    rate = np.clip((rng.normal(4.3, 0.55, size=n) * 200).round(), 400, 1499).astype(np.int64) - 400
    loan_ids = [
        f"F{y % 100}Q{q}{i:07d}" for i, (y, q) in enumerate(zip(year.tolist(), quarter.tolist(), strict=True), 1)
    ]
    sellers = ["Wells Fargo Bank, N.A.", "U.S. Bank N.A.", "Quicken Loans Inc.", "JPMorgan Chase Bank, N.A."]
    sellers += ["Other sellers", "Caliber Home Loans, Inc.", "Truist Bank", "Flagstar Bank, FSB", "AmeriHome"]
    states = ["CA", "TX", "FL", "IL", "NY", "WA", "CO", "AZ", "GA", "NC", "MI", "VA", "PA", "OH", "NJ", "MN"]
    msa = [None, "31084", "19100", "26420", "16980", "35614", "47900", "12060", "38060", "41860", "42644"]
    no_vantage = (layout == 0) | (rng.random(n) < 0.01)  # Release 47 only, 9999 when not available

    columns: dict[str, Column] = {
        "source_period": _pick(periods, period),
        "loan_seq_no": (loan_ids, loan_ids),
        "orig_year": _numbers(year),
        "orig_quarter": _numbers(quarter),
        "credit_score": _numbers(score, no_score),
        "credit_score_code": _pick([None, "9999"], no_score.astype(np.int64)),
        "first_payment_date": _dates(first_payment),
        "first_time_homebuyer_flag": _choice(rng, n, ["N", "Y", None], [0.82, 0.17, 0.01]),
        "maturity_date": _dates(first_payment + term - 1),
        "msa": _choice(rng, n, msa, [10] + [9] * (len(msa) - 1)),
        "mi_pct": _choice(rng, n, [0, 6, 12, 25, 30, 35, None], [70, 2, 8, 10, 8, 1, 1]),
        "num_units": _choice(rng, n, [1, 2, 3, 4], [97, 2, 0.6, 0.4]),
        "occupancy_status": _choice(rng, n, ["P", "I", "S"], [88, 8, 4]),
        "orig_cltv": _numbers(ltv + rng.integers(0, 3, size=n) * (rng.random(n) < 0.1)),
        "orig_dti": _numbers(rng.integers(5, 51, size=n), rng.random(n) < 0.02),
        "orig_upb": _pick([Decimal(f"{thousands}000.00") for thousands in range(20, 1500)], upb),
        "orig_ltv": _numbers(ltv),
        "orig_interest_rate": _pick([Decimal(f"{hundredths / 200:.3f}") for hundredths in range(400, 1500)], rate),
        "channel": _choice(rng, n, ["R", "B", "C", "T"], [55, 15, 28, 2]),
        "ppm_flag": _choice(rng, n, ["N", "Y", None], [97, 1, 2]),
        "amortization_type": _choice(rng, n, ["FRM", "ARM"], [99, 1]),
        "property_state": _choice(rng, n, states, range(len(states) + 8, 8, -1)),
        "property_type": _choice(rng, n, ["SF", "PU", "CO", "MH", "CP"], [62, 27, 9, 1, 1]),
        "postal_code": _pick([f"{p:03d}00" for p in range(100, 1000)], rng.integers(0, 900, size=n)),
        "loan_purpose": _choice(rng, n, ["P", "C", "N"], [50, 25, 25]),
        "orig_loan_term": _numbers(term),
        "num_borrowers": _choice(rng, n, [1, 2, None], [48, 51, 1]),
        "seller_name": _choice(rng, n, sellers, range(len(sellers) + 3, 3, -1)),
        "servicer_name": _choice(rng, n, [*sellers, None], [*range(len(sellers) + 3, 3, -1), 20]),
        "super_conforming_flag": _choice(rng, n, [None, "Y"], [97, 3]),
        "pre_harp_loan_seq_no": _pick([None, "F09Q1000001"], (rng.random(n) < 0.01).astype(np.int64)),
        "program_indicator": _choice(rng, n, ["9", "F", "H"], [90, 8, 2]),
        "harp_indicator": _choice(rng, n, [None, "Y"], [99, 1]),
        "property_valuation_method": _choice(rng, n, [9, 1, 2, 3], [40, 5, 50, 5]),
        "interest_only_indicator": _choice(rng, n, ["N", "Y"], [99.5, 0.5]),
        "mi_cancellation_indicator": _pick(["7", None], layout),
        "vantagescore_4": _numbers(np.clip(score + rng.integers(-30, 31, size=n), 300, 850), no_vantage),
        "vantagescore_4_code": _pick([None, "9999"], (no_vantage & (layout == 1)).astype(np.int64)),
        "source_layout": _pick(["legacy", "r47"], layout),
    }
    assert tuple(columns) == COLUMNS, "the generator's columns must follow exports.COLUMNS"
    typed = list(zip(*(values for values, _ in columns.values()), strict=True))
    lines = [FIELD.join(fields) for fields in zip(*(texts for _, texts in columns.values()), strict=True)]
    return Rows(typed, lines)


def fingerprint_lines(lines: Sequence[str]) -> tuple[int, int]:
    """Row count and the sum of each line's first 15 MD5 hex digits: what ``fingerprint_sql``'s query computes."""
    return len(lines), sum(int(hashlib.md5(line.encode()).hexdigest()[:15], 16) for line in lines)  # noqa: S324


def fingerprint_sql(engine: str, table: str, columns: Sequence[str]) -> str:
    """A query of (rows, MD5 sum) over the table, each row as its Hive text line."""
    if engine == "mysql":
        fields = ", ".join(f"COALESCE(`{c}`, '\\\\N')" for c in columns)
        digest = f"CAST(CONV(LEFT(MD5(CONCAT_WS(CHAR(1), {fields})), 15), 16, 10) AS UNSIGNED)"
        return f"SELECT COUNT(*), COALESCE(SUM({digest}), 0) FROM `{table}`"  # noqa: S608
    fields = ", ".join(f"COALESCE({c}::text, '\\N')" for c in columns)
    digest = f"('x' || LPAD(LEFT(MD5(CONCAT_WS(CHR(1), {fields})), 15), 16, '0'))::bit(64)::bigint"
    return f"SELECT COUNT(*), COALESCE(SUM({digest}), 0) FROM {table}"  # noqa: S608


# -- helpers -----------------------------------------------------------------------------------------


def wait_until(what: str, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done after {TIMEOUT_SECONDS:.0f} s")
        time.sleep(POLL_SECONDS)


def timed(load: Callable[[], object]) -> float:
    started = time.perf_counter()
    load()
    return time.perf_counter() - started


def put_files(s3: Any, bucket: str, prefix: str, bodies: list[bytes]) -> None:
    for number, body in enumerate(bodies):
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{number:06d}_0", Body=body)


def chunks(n: int) -> list[tuple[int, int]]:
    return [(start, min(start + ROWS_PER_FILE, n)) for start in range(0, n, ROWS_PER_FILE)]


# -- MySQL -------------------------------------------------------------------------------------------


class MySQLBench:
    """The benchmark's own MySQL database, with the real staging table in it."""

    def __init__(self, params: dict[str, Any]) -> None:
        import MySQLdb

        self.params = {**params, "database": BENCH}
        server = {k: v for k, v in params.items() if k != "database"}
        self.admin = MySQLdb.connect(**server, autocommit=True, charset="utf8mb4")

    def create(self) -> None:
        import MySQLdb
        from MySQLdb.constants.CLIENT import MULTI_STATEMENTS

        from loanlake.warehouse.exports import MYSQL_SQL_DIR

        cursor = self.admin.cursor()
        cursor.execute(f"DROP DATABASE IF EXISTS `{BENCH}`")
        cursor.execute(f"CREATE DATABASE `{BENCH}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        script = MySQLdb.connect(**self.params, client_flag=MULTI_STATEMENTS)  # the file as the DAG runs it
        try:
            cursor = script.cursor()
            cursor.execute((MYSQL_SQL_DIR / "create_tables.sql").read_text())
            while cursor.nextset():
                pass
        finally:
            script.close()

    def columns(self) -> list[tuple[str, str, int | None, int | None, int | None, bool]]:
        """(name, type, length, precision, scale, nullable) of the staging table, loaded_at aside."""
        cursor = self.admin.cursor()
        cursor.execute(
            "SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale,"
            " is_nullable = 'YES' FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
            " AND column_name <> 'loaded_at' ORDER BY ordinal_position",
            (BENCH, TABLE),
        )
        return list(cursor.fetchall())

    def empty(self) -> None:
        self.admin.cursor().execute(f"TRUNCATE TABLE `{BENCH}`.`{TABLE}`")

    def fingerprint(self, columns: Sequence[str]) -> tuple[int, int]:
        cursor = self.admin.cursor()
        cursor.execute(f"USE `{BENCH}`")
        cursor.execute(fingerprint_sql("mysql", TABLE, columns))
        count, total = cursor.fetchone()
        return int(count), int(total)

    def executemany(self, rows: Rows, columns: Sequence[str]) -> None:
        import MySQLdb

        connection = MySQLdb.connect(**self.params, charset="utf8mb4")  # autocommit off
        try:
            names, places = ", ".join(f"`{c}`" for c in columns), ", ".join(["%s"] * len(columns))
            connection.cursor().executemany(f"INSERT INTO `{TABLE}` ({names}) VALUES ({places})", rows.typed)  # noqa: S608
            connection.commit()
        finally:
            connection.close()

    def row_by_row(self, rows: Sequence[tuple[Any, ...]], columns: Sequence[str]) -> None:
        import MySQLdb

        connection = MySQLdb.connect(**self.params, charset="utf8mb4")
        try:
            cursor = connection.cursor()
            names, places = ", ".join(f"`{c}`" for c in columns), ", ".join(["%s"] * len(columns))
            sql = f"INSERT INTO `{TABLE}` ({names}) VALUES ({places})"  # noqa: S608
            for row in rows:
                cursor.execute(sql, row)
            connection.commit()
        finally:
            connection.close()

    def load_data(self, path: str, columns: Sequence[str]) -> None:
        """The Hive text file with LOAD DATA (``\\N`` is NULL with the default escape character)."""
        import MySQLdb

        connection = MySQLdb.connect(**self.params, charset="utf8mb4", local_infile=1)
        try:
            names = ", ".join(f"`{c}`" for c in columns)
            connection.cursor().execute(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE `{TABLE}` CHARACTER SET utf8mb4"
                f" FIELDS TERMINATED BY 0x01 LINES TERMINATED BY '\\n' ({names})",
                (path,),
            )
            connection.commit()
        finally:
            connection.close()

    def drop(self) -> None:
        try:
            self.admin.cursor().execute(f"DROP DATABASE IF EXISTS `{BENCH}`")
        finally:
            self.admin.close()


class EmrCluster:
    """A waiting sandbox EMR cluster that runs steps one at a time."""

    def __init__(self, emr: Any) -> None:
        from sandbox.clusters import start_cluster

        self.emr = emr
        self.id = start_cluster(emr, "loanlake-bench-warehouse-load", ["Sqoop"])
        wait_until("cluster start", lambda: self.state() == "WAITING")

    def state(self) -> str:
        return self.emr.describe_cluster(ClusterId=self.id)["Cluster"]["Status"]["State"]

    def run(self, step: dict[str, Any]) -> None:
        (step_id,) = self.emr.add_job_flow_steps(JobFlowId=self.id, Steps=[step])["StepIds"]

        def status() -> dict[str, Any]:
            return self.emr.describe_step(ClusterId=self.id, StepId=step_id)["Step"]["Status"]

        wait_until(step["Name"], lambda: status()["State"] not in ("PENDING", "RUNNING"))
        if (ended := status())["State"] != "COMPLETED":
            raise RuntimeError(f"step {step['Name']} {ended['State']}: {ended.get('FailureDetails')}")

    def terminate(self) -> None:
        self.emr.terminate_job_flows(JobFlowIds=[self.id])
        wait_until("cluster end", lambda: self.state() == "TERMINATED")


# -- PostgreSQL (the sandbox's Redshift) -------------------------------------------------------------

REDSHIFT_TYPES = {"varchar": "VARCHAR({length})", "tinyint": "SMALLINT", "smallint": "SMALLINT", "date": "DATE"}
REDSHIFT_TYPES["decimal"] = "DECIMAL({precision}, {scale})"


def redshift_ddl(columns: Sequence[tuple[str, str, Any, Any, Any, bool]]) -> str:
    """The MySQL staging table as a Redshift table of the benchmark's schema."""
    lines = []
    for name, kind, length, precision, scale, nullable in columns:
        sql_type = REDSHIFT_TYPES[kind].format(length=length, precision=precision, scale=scale)
        lines.append(f"    {name} {sql_type}{'' if nullable else ' NOT NULL'}")
    return f"CREATE TABLE {BENCH}.{TABLE} (\n" + ",\n".join(lines) + "\n)\nDISTKEY (loan_seq_no)"


def arrow_table(rows: Rows, columns: Sequence[tuple[str, str, Any, Any, Any, bool]]) -> Any:
    """The rows with the Parquet types a Hive table of these columns writes."""
    import pyarrow as pa

    types = {"varchar": pa.string(), "tinyint": pa.int8(), "smallint": pa.int16(), "date": pa.date32()}
    arrays = {}
    for position, (name, kind, _, precision, scale, _) in enumerate(columns):
        arrow_type = pa.decimal128(precision, scale) if kind == "decimal" else types[kind]
        arrays[name] = pa.array([row[position] for row in rows.typed], type=arrow_type)
    return pa.table(arrays)


class RedshiftBench:
    """The benchmark's own schema in the sandbox's Redshift (the local PostgreSQL), through the Data API."""

    def __init__(self, data_api: Any, params: dict[str, Any]) -> None:
        import psycopg2

        self.data_api = data_api
        self.params = params
        self.admin = psycopg2.connect(**params)
        self.admin.autocommit = True

    def batch(self, sqls: list[str]) -> None:
        statement_id = self.data_api.batch_execute_statement(
            ClusterIdentifier=CLUSTER, Database="loanlake", DbUser="awsuser", Sqls=sqls
        )["Id"]

        def described() -> dict[str, Any]:
            return self.data_api.describe_statement(Id=statement_id)

        wait_until("Data API batch", lambda: described()["Status"] in ("FINISHED", "FAILED", "ABORTED"))
        if (ended := described())["Status"] != "FINISHED":
            raise RuntimeError(f"Data API batch {ended['Status']}: {ended.get('Error')}")

    def create(self, ddl: str) -> None:
        self.admin.cursor().execute(f"DROP SCHEMA IF EXISTS {BENCH} CASCADE")
        self.batch([f"CREATE SCHEMA {BENCH}", ddl])

    def copy(self, source: str) -> None:
        table = f"{BENCH}.{TABLE}"
        copy = f"COPY {table} FROM '{source}' IAM_ROLE '{IAM_ROLE}' FORMAT AS PARQUET"
        self.batch([f"DELETE FROM {table}", copy])  # noqa: S608 (the benchmark's own names)

    def empty(self) -> None:
        self.admin.cursor().execute(f"TRUNCATE {BENCH}.{TABLE}")

    def fingerprint(self, columns: Sequence[str]) -> tuple[int, int]:
        cursor = self.admin.cursor()
        cursor.execute(fingerprint_sql("postgres", f"{BENCH}.{TABLE}", columns))
        count, total = cursor.fetchone()
        return int(count), int(total)

    def execute_values(self, rows: Rows, columns: Sequence[str]) -> None:
        import psycopg2
        from psycopg2.extras import execute_values

        connection = psycopg2.connect(**self.params)
        try:
            sql = f"INSERT INTO {BENCH}.{TABLE} ({', '.join(columns)}) VALUES %s"  # noqa: S608
            execute_values(connection.cursor(), sql, rows.typed, page_size=1000)
            connection.commit()
        finally:
            connection.close()

    def drop(self) -> None:
        try:
            self.admin.cursor().execute(f"DROP SCHEMA IF EXISTS {BENCH} CASCADE")
        finally:
            self.admin.close()


# -- the run -----------------------------------------------------------------------------------------


def report(label: str, rows: int, seconds: float, baseline: float | None = None, note: str = "") -> float:
    rate = rows / seconds
    ratio = f"{rate / baseline:>7.2f}x" if baseline else f"{'':>8}"
    print(f"  {label:<44} {rows:>10,} {seconds:>8.1f} s {rate:>10,.0f} rows/s {ratio}  {note}".rstrip(), flush=True)
    return rate


def check(what: str, found: tuple[int, int], expected: tuple[int, int]) -> None:
    if found != expected:
        raise AssertionError(f"{what}: table holds {found[0]} rows (MD5 sum {found[1]}), expected {expected}")


def bench_mysql(sandbox: Any, rows: Rows, expected: tuple[int, int], row_by_row: int) -> None:
    from loanlake.emr.sqoop import SqoopExport
    from loanlake.warehouse.exports import COLUMNS
    from sandbox.site import DATA_BUCKET

    s3 = sandbox.boto3_client("s3")
    params = sandbox.context.mysql
    mysql = MySQLBench(params)
    cluster = None
    try:
        mysql.create()
        password_key = f"{PREFIX}/secrets/mysql-password"
        s3.put_object(Bucket=DATA_BUCKET, Key=password_key, Body=params["password"].encode())
        started = time.perf_counter()
        put_files(
            s3,
            DATA_BUCKET,
            f"{PREFIX}/hive_export",
            ["".join(f"{line}\n" for line in rows.lines[a:b]).encode() for a, b in chunks(len(rows))],
        )
        print(f"  (Hive text files written to S3 in {time.perf_counter() - started:.1f} s, not timed)")
        step = SqoopExport(
            name="bench sqoop_export_acquisition",
            connect=f"jdbc:mysql://{params['host']}:{params['port']}/{BENCH}",
            username=params["user"],
            password_file=f"s3://{DATA_BUCKET}/{password_key}",
            table=TABLE,
            export_dir=f"s3://{DATA_BUCKET}/{PREFIX}/hive_export",
            columns=COLUMNS,
            num_mappers=MAPPERS,
            action_on_failure="CONTINUE",
        ).to_emr()
        cluster = EmrCluster(sandbox.boto3_client("emr"))

        baseline_seconds = timed(lambda: mysql.executemany(rows, COLUMNS))
        check("MySQL executemany", mysql.fingerprint(COLUMNS), expected)
        mysql.empty()
        sqoop_seconds = timed(lambda: cluster.run(step))
        check("MySQL Sqoop export", mysql.fingerprint(COLUMNS), expected)
        mysql.empty()
        subset = rows.typed[:row_by_row]
        row_seconds = timed(lambda: mysql.row_by_row(subset, COLUMNS))
        check("MySQL row by row", mysql.fingerprint(COLUMNS), fingerprint_lines(rows.lines[:row_by_row]))
        mysql.empty()
        with tempfile.NamedTemporaryFile(suffix=".txt") as text:
            text.write("".join(f"{line}\n" for line in rows.lines).encode())
            text.flush()
            load_seconds = timed(lambda: mysql.load_data(text.name, COLUMNS))
        check("MySQL LOAD DATA", mysql.fingerprint(COLUMNS), expected)

        n = len(rows)
        article = ARTICLE_ROWS / ARTICLE_SECONDS
        baseline = report("baseline: MySQLdb executemany, one commit", n, baseline_seconds)
        row_rate = report("row by row: execute per row, one commit", len(subset), row_seconds, baseline)
        bound = report("upper bound: LOAD DATA LOCAL INFILE", n, load_seconds, baseline)
        sqoop = report(
            f"sandbox Sqoop export step (EMR, {MAPPERS} mappers)", n, sqoop_seconds, baseline, "vs executemany"
        )
        print(f"  {'':<44} {'':>10} {'':>10} {'':>17} {sqoop / row_rate:>7.2f}x  vs row by row")
        print(f"  {'':<44} {'':>10} {'':>10} {'':>17} {sqoop / bound:>7.2f}x  of the LOAD DATA bound")
        verdict = "met" if sqoop >= TARGET else "MISSED"
        print(f"  {'':<44} {'':>10} {'':>10} {'':>17} {sqoop / article:>7.2f}x  vs the article's Sqoop ({verdict})")
        report("the article's Sqoop export (25M rows, 723 s)", ARTICLE_ROWS, ARTICLE_SECONDS)
        print(f"  target: at least {TARGET:,} rows/s into MySQL through the Sqoop step: {verdict} ({sqoop:,.0f})")
        record(
            "warehouse_load",
            f"rows/s into MySQL, sandbox Sqoop step, {n:,} acquisition rows, {MAPPERS} mappers",
            f"{sqoop:,.0f} rows/s",
            f"MySQLdb executemany {baseline:,.0f} rows/s (LOAD DATA bound {bound:,.0f})",
            f"{sqoop / baseline:.2f}x",
            f">= {TARGET:,} rows/s",
            verdict,
        )
    finally:
        if cluster is not None:
            cluster.terminate()
        mysql.drop()


def bench_redshift(sandbox: Any, rows: Rows, expected: tuple[int, int]) -> None:
    import pyarrow.parquet as pq

    from loanlake.warehouse.exports import COLUMNS
    from sandbox.site import DATA_BUCKET

    s3 = sandbox.boto3_client("s3")
    mysql = MySQLBench(sandbox.context.mysql)  # the staging table's types, from the real MySQL DDL
    try:
        mysql.create()
        columns = mysql.columns()
    finally:
        mysql.drop()
    assert tuple(column[0] for column in columns) == COLUMNS
    redshift = RedshiftBench(sandbox.boto3_client("redshift-data"), sandbox.context.postgres)
    try:
        redshift.create(redshift_ddl(columns))
        started = time.perf_counter()
        table = arrow_table(rows, columns)
        bodies = []
        for a, b in chunks(len(rows)):
            buffer = io.BytesIO()
            pq.write_table(table.slice(a, b - a), buffer, compression="snappy")
            bodies.append(buffer.getvalue())
        put_files(s3, DATA_BUCKET, f"{PREFIX}/parquet", bodies)
        size = sum(map(len, bodies)) / 1e6
        print(f"  ({len(bodies)} Parquet files, {size:.0f} MB, written to S3 in {time.perf_counter() - started:.1f} s)")

        baseline_seconds = timed(lambda: redshift.execute_values(rows, COLUMNS))
        check("PostgreSQL execute_values", redshift.fingerprint(COLUMNS), expected)
        redshift.empty()
        copy_seconds = timed(lambda: redshift.copy(f"s3://{DATA_BUCKET}/{PREFIX}/parquet/"))
        check("PostgreSQL COPY", redshift.fingerprint(COLUMNS), expected)

        n = len(rows)
        baseline = report("baseline: psycopg2 execute_values, one commit", n, baseline_seconds)
        rate = report("sandbox Data API COPY ... FORMAT AS PARQUET", n, copy_seconds, baseline, "vs execute_values")
        record(
            "warehouse_load",
            f"rows/s into PostgreSQL, Data API COPY from Parquet, {n:,} rows",
            f"{rate:,.0f} rows/s",
            f"psycopg2 execute_values {baseline:,.0f} rows/s",
            f"{rate / baseline:.2f}x",
            "reported",
        )
    finally:
        redshift.drop()


def main() -> None:
    from sandbox.site import Sandbox, SandboxSettings

    n = int(os.environ.get(ROWS_ENV, DEFAULT_ROWS))
    row_by_row = min(n, int(os.environ.get(ROW_BY_ROW_ENV, DEFAULT_ROW_BY_ROW)))
    print(f"warehouse load throughput, {n:,} acquisition rows ({ROWS_ENV}), 39 columns, on the sandbox")
    started = time.perf_counter()
    rows = generate(n)
    expected = fingerprint_lines(rows.lines)
    text_mb = sum(len(line) + 1 for line in rows.lines) / 1e6
    print(f"  (rows generated in {time.perf_counter() - started:.1f} s, {text_mb:.0f} MB as Hive text)")
    print(f"  {'load':<44} {'rows':>10} {'time':>10} {'rate':>17} {'ratio':>8}")
    logging.getLogger("sandbox").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="loanlake-bench-warehouse-") as home:
        sandbox = Sandbox(SandboxSettings(home=Path(home), moto_port=0, portal_port=0, require_java=False))
        sandbox.start()
        try:
            print("MySQL (RDS stand-in): Sqoop export from Hive text files in S3")
            bench_mysql(sandbox, rows, expected, row_by_row)
            print("PostgreSQL (Redshift stand-in): COPY from Parquet in S3 through the Data API")
            bench_redshift(sandbox, rows, expected)
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main()
