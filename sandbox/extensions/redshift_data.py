"""Redshift Data API whose statements really run, on the local PostgreSQL.

moto 5.2.5 keeps every statement STARTED, answers fixed sample rows and has no BatchExecuteStatement.
Here ``ExecuteStatement`` and ``BatchExecuteStatement`` answer at once with the statement's id and a worker
thread runs it: SUBMITTED -> PICKED -> STARTED -> FINISHED, or FAILED with PostgreSQL's (or the COPY's)
message as ``Error``. A statement is one transaction; a batch is one transaction too, run statement by
statement (``SubStatements`` with ids ``<id>:<n>``): when one fails it is FAILED, the ones after it ABORTED,
the batch FAILED, and everything rolled back, as Redshift does. ``CancelStatement`` aborts a statement that
has not ended and cancels its running query. Results come from ``GetStatementResult`` in the Data API's
typed fields. SQL is made PostgreSQL-ready and COPY is done by ``sandbox.redshift``.

Where statements run: every ``Database`` of every cluster or workgroup is the one local PostgreSQL
database ``loanlake``, and Redshift's schemas are PostgreSQL schemas of the same names. Redshift SQL names
its schemas (``loanlake.loans``), so keeping them as they are runs the SQL production runs; a schema per
Redshift database would have to rewrite every qualified name. Callers isolate themselves with a schema of
their own. ``DbUser`` and ``SecretArn`` are recorded, not checked: statements run as the local superuser.

Not supported, refused with a ValidationException that says so: sessions (``SessionId``,
``SessionKeepAliveSeconds``), ``ResultFormat`` CSV and the batch ``ExecutionMode`` AUTO_COMMIT.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg2
from moto.redshiftdata.exceptions import ResourceNotFoundException, ValidationException
from moto.redshiftdata.models import RedshiftDataAPIServiceBackend
from moto.redshiftdata.responses import RedshiftDataAPIServiceResponse

from sandbox import redshift
from sandbox.extensions import SandboxContext, Undo, extension

log = logging.getLogger("sandbox.redshift_data")

JOIN_SECONDS = 30.0  # how long stop() waits for a cancelled statement's thread
RUNNING = frozenset({"SUBMITTED", "PICKED", "STARTED"})
MAX_BATCH = 40  # the Data API's limit of Sqls per batch
STATEMENT_ID = re.compile(r"^[a-z0-9]{8}(-[a-z0-9]{4}){3}-[a-z0-9]{12}(:\d+)?$")
UNSUPPORTED = {  # request parameter -> the value the sandbox refuses (None: any value)
    "SessionId": None,
    "SessionKeepAliveSeconds": None,
    "ResultFormat": "CSV",
    "ExecutionMode": "AUTO_COMMIT",
}
REQUEST_FIELDS = {  # backend argument -> request parameter
    "cluster_identifier": "ClusterIdentifier",
    "workgroup_name": "WorkgroupName",
    "database": "Database",
    "db_user": "DbUser",
    "secret_arn": "SecretArn",
    "parameters": "Parameters",
}
NO_RESULT = "Query does not have result. Please check query status with DescribeStatement."
_QUERY_IDS = itertools.count(1)
_MISSING = object()


@dataclass(eq=False)
class Statement:
    """A statement, a batch (its ``subs``) or one of a batch's statements, as DescribeStatement shows it."""

    id: str
    target: dict[str, str]  # ClusterIdentifier or WorkgroupName, Database, DbUser, SecretArn: those given
    sql: str | None  # None for a batch
    parameters: list[dict[str, str]] | None = None
    subs: list[Statement] = field(default_factory=list)
    status: str = "SUBMITTED"
    error: str | None = None
    result: redshift.Result | None = None
    pid: int = -1
    query_id: int = field(default_factory=lambda: next(_QUERY_IDS))
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    started_ns: int | None = None
    duration_ns: int = -1

    @property
    def bindings(self) -> dict[str, str]:
        return {parameter["name"]: parameter["value"] for parameter in self.parameters or []}

    @property
    def has_result_set(self) -> bool:
        if self.subs:
            return any(sub.has_result_set for sub in self.subs)
        return self.result is not None and self.result.columns is not None

    @property
    def result_rows(self) -> int:
        if self.subs:
            return sum(max(sub.result_rows, 0) for sub in self.subs)
        return self.result.rows if self.result is not None else -1

    @property
    def result_size(self) -> int:
        if self.subs:
            return sum(max(sub.result_size, 0) for sub in self.subs)
        return self.result.size if self.result is not None else -1

    def summary(self) -> dict[str, Any]:
        """The fields of a ``SubStatements`` entry."""
        data = {
            "Id": self.id,
            "Status": self.status,
            "Error": self.error,
            "Duration": self.duration_ns,
            "CreatedAt": self.created_at,
            "UpdatedAt": self.updated_at,
            "QueryString": self.sql,
            "HasResultSet": self.has_result_set,
            "ResultRows": self.result_rows,
            "ResultSize": self.result_size,
            "RedshiftQueryId": 0 if self.subs else self.query_id,
        }
        return {key: value for key, value in data.items() if value is not None}

    def describe(self) -> dict[str, Any]:
        """The DescribeStatement response."""
        data = {**self.summary(), **self.target, "RedshiftPid": self.pid}
        if self.parameters:
            data["QueryParameters"] = self.parameters
        if self.subs:
            data["SubStatements"] = [sub.summary() for sub in self.subs]
        return data

    def submitted(self) -> dict[str, Any]:
        """The ExecuteStatement / BatchExecuteStatement response."""
        return {"Id": self.id, "CreatedAt": self.created_at, **self.target}

    def __iter__(self) -> Iterator[tuple[str, Any]]:  # moto's describe_statement response: dict(statement)
        return iter(self.describe().items())


class StatementRunner:
    """Runs each statement or batch on PostgreSQL in a thread of its own, in one transaction."""

    def __init__(self, postgres: dict[str, Any], s3: Any) -> None:
        self._postgres = postgres
        self._s3 = s3
        self._lock = threading.Lock()  # guards state changes and the two collections below
        self._connections: dict[str, Any] = {}  # statement id -> connection of a statement that runs
        self._threads: list[threading.Thread] = []

    def submit(self, statement: Statement) -> None:
        worker = threading.Thread(target=self._run, args=(statement,), name=f"sandbox-redshift-{statement.id}")
        worker.daemon = True
        with self._lock:
            self._threads = [thread for thread in self._threads if thread.is_alive()]
            self._threads.append(worker)
        worker.start()

    def cancel(self, statement: Statement) -> None:
        """ABORTED, with its unfinished sub-statements; a running query is cancelled in PostgreSQL."""
        with self._lock:
            if statement.status not in RUNNING:
                raise ValidationException(
                    f"Could not cancel a query that is already in {statement.status} state with ID: {statement.id}"
                )
            for unit in [statement, *statement.subs]:
                if unit.status in RUNNING:
                    _set(unit, "ABORTED")
            connection = self._connections.get(statement.id)
        if connection is not None:
            connection.cancel()

    def stop(self) -> None:
        """Cancel the queries that run and wait for their threads."""
        with self._lock:
            connections, threads = list(self._connections.values()), list(self._threads)
        for connection in connections:
            connection.cancel()
        for thread in threads:
            thread.join(JOIN_SECONDS)
            if thread.is_alive():
                log.warning("Redshift Data API worker %s still runs after %.0f s", thread.name, JOIN_SECONDS)

    def _run(self, statement: Statement) -> None:
        if not self._move(statement, "PICKED"):
            return
        try:
            connection = redshift.connect(self._postgres)
        except Exception as error:  # PostgreSQL is down: the statement fails, the worker does not crash
            self._end(statement, "FAILED", error)
            return
        try:
            with self._lock:
                self._connections[statement.id] = connection
            for unit in [statement, *statement.subs]:
                unit.pid = connection.get_backend_pid()
            self._transaction(statement, connection)
        finally:
            with self._lock:
                self._connections.pop(statement.id, None)
            connection.close()

    def _transaction(self, statement: Statement, connection: Any) -> None:
        """Run the statement, or each of a batch's, then commit; any failure rolls everything back."""
        if not self._move(statement, "STARTED"):
            return
        try:
            for unit in statement.subs or [statement]:
                self._execute(unit, connection, is_sub=unit is not statement)
            self._commit(statement, connection)
        except Exception as error:
            _rollback(connection)
            self._end(statement, "FAILED", error)
        else:
            self._end(statement, "FINISHED")

    def _execute(self, unit: Statement, connection: Any, *, is_sub: bool) -> None:
        """Run one statement; a batch's own statements end here, the outer statement after the commit."""
        if is_sub and not self._move(unit, "STARTED"):
            raise redshift.RedshiftError("Query cancelled.")
        with connection.cursor() as cursor:
            try:
                unit.result = redshift.run(cursor, unit.sql or "", unit.bindings, self._s3)
            except Exception as error:
                if is_sub:
                    self._end(unit, "FAILED", error)
                raise
        if is_sub:
            self._end(unit, "FINISHED")

    def _commit(self, statement: Statement, connection: Any) -> None:
        """Commit, unless the statement was cancelled meanwhile (under the lock: no cancel slips in)."""
        with self._lock:
            if statement.status == "ABORTED":
                raise redshift.RedshiftError("Query cancelled.")
            connection.commit()

    def _move(self, statement: Statement, status: str) -> bool:
        """Advance to a running state, unless the statement was aborted meanwhile."""
        with self._lock:
            if statement.status == "ABORTED":
                return False
            _set(statement, status)
            return True

    def _end(self, statement: Statement, status: str, error: Exception | None = None) -> None:
        """FINISHED or FAILED (sub-statements not run yet ABORTED); an aborted statement stays ABORTED."""
        if error is not None and not isinstance(error, redshift.STATEMENT_ERRORS):
            log.error("Redshift Data API statement %s failed in the sandbox", statement.id, exc_info=error)
        with self._lock:
            if statement.status == "ABORTED":
                return
            statement.error = redshift.error_text(error) if error is not None else None
            _set(statement, status)
            for sub in statement.subs:
                if sub.status in RUNNING:
                    _set(sub, "ABORTED")


def _rollback(connection: Any) -> None:
    """Roll back; a connection already broken has nothing left to roll back."""
    try:
        connection.rollback()
    except psycopg2.Error:
        log.warning("rollback failed: the connection to PostgreSQL is gone")


def _set(statement: Statement, status: str) -> None:
    """Change the status, timing STARTED to its end as ``Duration`` (nanoseconds)."""
    now = time.monotonic_ns()
    if status == "STARTED":
        statement.started_ns = now
    elif status not in RUNNING:
        statement.duration_ns = now - statement.started_ns if statement.started_ns is not None else 0
    statement.status = status
    statement.updated_at = time.time()


# -- the backend's operations ------------------------------------------------------------------------


def _target(
    cluster_identifier: str | None, workgroup_name: str | None, database: str | None, **credentials: str | None
) -> dict[str, str]:
    """Where a statement runs, as its responses show it; a request naming no single target is refused."""
    if (cluster_identifier is None) == (workgroup_name is None):
        raise ValidationException("Either ClusterIdentifier or WorkgroupName must be specified, but not both.")
    if not database:
        raise ValidationException("Database must be specified.")
    target = {"ClusterIdentifier": cluster_identifier, "WorkgroupName": workgroup_name, "Database": database}
    target |= {"DbUser": credentials.get("db_user"), "SecretArn": credentials.get("secret_arn")}
    return {key: value for key, value in target.items() if value}


def _find(backend: RedshiftDataAPIServiceBackend, statement_id: str) -> Statement:
    """A statement by id; ``<id>:<n>`` is the n-th statement of a batch."""
    if not STATEMENT_ID.match(statement_id or ""):
        raise ValidationException(f"id must satisfy regex pattern: {STATEMENT_ID.pattern}")
    parent_id, _, number = statement_id.partition(":")
    statement = backend.statements.get(parent_id)
    if statement is None or (number and not 1 <= int(number) <= len(statement.subs)):
        raise ResourceNotFoundException()
    return statement.subs[int(number) - 1] if number else statement


def _backend_members(runner: StatementRunner) -> dict[str, Any]:
    """Replacements for (and additions to) moto's RedshiftDataAPIServiceBackend."""

    def submit(backend: RedshiftDataAPIServiceBackend, statement: Statement) -> Statement:
        backend.statements[statement.id] = statement
        runner.submit(statement)
        return statement

    def execute_statement(
        backend: RedshiftDataAPIServiceBackend,
        cluster_identifier: str | None,
        database: str | None,
        db_user: str | None,
        parameters: list[dict[str, str]] | None,
        secret_arn: str | None,
        sql: str,
        workgroup_name: str | None = None,
    ) -> Statement:
        target = _target(cluster_identifier, workgroup_name, database, db_user=db_user, secret_arn=secret_arn)
        return submit(backend, Statement(str(uuid.uuid4()), target, sql, parameters))

    def batch_execute_statement(
        backend: RedshiftDataAPIServiceBackend,
        cluster_identifier: str | None,
        database: str | None,
        db_user: str | None,
        parameters: list[dict[str, str]] | None,
        secret_arn: str | None,
        sqls: list[str],
        workgroup_name: str | None = None,
    ) -> Statement:
        target = _target(cluster_identifier, workgroup_name, database, db_user=db_user, secret_arn=secret_arn)
        if not 1 <= len(sqls or []) <= MAX_BATCH:
            raise ValidationException(f"Sqls must have between 1 and {MAX_BATCH} items.")
        batch = Statement(str(uuid.uuid4()), target, None, parameters)
        batch.subs = [Statement(f"{batch.id}:{n}", target, sql, parameters) for n, sql in enumerate(sqls, 1)]
        return submit(backend, batch)

    def describe_statement(backend: RedshiftDataAPIServiceBackend, statement_id: str) -> Statement:
        return _find(backend, statement_id)

    def get_statement_result(backend: RedshiftDataAPIServiceBackend, statement_id: str) -> dict[str, Any]:
        statement = _find(backend, statement_id)
        result = statement.result
        if statement.status != "FINISHED" or result is None or result.columns is None:
            raise ValidationException(NO_RESULT)
        return {"ColumnMetadata": result.columns, "Records": result.records, "TotalNumRows": len(result.records)}

    def cancel_statement(backend: RedshiftDataAPIServiceBackend, statement_id: str) -> None:
        runner.cancel(_find(backend, statement_id.partition(":")[0]))  # a batch is cancelled as a whole

    return {
        "execute_statement": execute_statement,
        "batch_execute_statement": batch_execute_statement,
        "describe_statement": describe_statement,
        "get_statement_result": get_statement_result,
        "cancel_statement": cancel_statement,
    }


# -- the request handlers ----------------------------------------------------------------------------


def _request(response: RedshiftDataAPIServiceResponse) -> dict[str, Any]:
    """The target and parameters of an (Batch)ExecuteStatement request; what the sandbox lacks is refused."""
    for name, refused in UNSUPPORTED.items():
        value = response._get_param(name)
        if value is not None and refused in (None, value):
            raise ValidationException(f"{name}={value} is not supported by the sandbox's Redshift Data API.")
    return {name: response._get_param(param) for name, param in REQUEST_FIELDS.items()}


def _response_members() -> dict[str, Any]:
    """Handlers on moto's RedshiftDataAPIServiceResponse: ExecuteStatement that reads every target field, and
    BatchExecuteStatement (the server dispatches an action to the method of its snake_case name)."""

    def execute_statement(response: RedshiftDataAPIServiceResponse) -> tuple[int, dict, str]:
        backend = response.redshiftdata_backend
        statement = backend.execute_statement(sql=response._get_param("Sql"), **_request(response))
        return 200, {}, json.dumps(statement.submitted())

    def batch_execute_statement(response: RedshiftDataAPIServiceResponse) -> tuple[int, dict, str]:
        backend = response.redshiftdata_backend
        statement = backend.batch_execute_statement(sqls=response._get_param("Sqls"), **_request(response))
        return 200, {}, json.dumps(statement.submitted())

    return {"execute_statement": execute_statement, "batch_execute_statement": batch_execute_statement}


def _s3_client(context: SandboxContext) -> Any:
    import boto3

    from sandbox.site import ACCOUNT_CREDENTIALS

    return boto3.client(
        "s3",
        endpoint_url=context.endpoint_url,
        region_name=context.region,
        aws_access_key_id=ACCOUNT_CREDENTIALS["login"],
        aws_secret_access_key=ACCOUNT_CREDENTIALS["password"],
    )


@extension("redshift_data")
def redshift_data_runs_sql(context: SandboxContext) -> Undo:
    """Patch moto's Redshift Data API to run statements on PostgreSQL; the undo stops the workers, restores moto."""
    runner = StatementRunner(context.postgres, _s3_client(context))
    members = {(RedshiftDataAPIServiceBackend, name): member for name, member in _backend_members(runner).items()}
    members |= {(RedshiftDataAPIServiceResponse, name): member for name, member in _response_members().items()}
    originals = {(owner, name): owner.__dict__.get(name, _MISSING) for owner, name in members}
    for (owner, name), member in members.items():
        setattr(owner, name, member)

    def undo() -> None:
        runner.stop()
        for (owner, name), member in originals.items():
            if member is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, member)

    return undo
