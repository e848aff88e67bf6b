"""Fixtures shared by the integration tests: one Hive engine (Spark SQL) for the session, clients of the sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.extensions.emr import hive_home
from sandbox.hive import HiveEngine


@pytest.fixture(scope="session")
def hive_engine(sandbox) -> Iterator[HiveEngine]:
    """The process's one HiveEngine (Spark starts once, ~10-30 s), the same one the sandbox's EMR steps use.

    Stopped, JVM included, at session end. Isolate tests by database name, not by engine.
    """
    engine = HiveEngine.shared(hive_home(sandbox.context))
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture(scope="session")
def s3(sandbox) -> object:
    return sandbox.boto3_client("s3")


@pytest.fixture(scope="session")
def emr(sandbox) -> object:
    return sandbox.boto3_client("emr")


@pytest.fixture(scope="session")
def mysql(sandbox) -> Iterator[object]:
    """The sandbox's RDS MySQL: the local MariaDB, database loanlake, autocommit."""
    import MySQLdb

    connection = MySQLdb.connect(**sandbox.context.mysql, autocommit=True)
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture(scope="session")
def postgres(sandbox) -> Iterator[object]:
    """The sandbox's Redshift: the local PostgreSQL, database loanlake, autocommit."""
    import psycopg2

    connection = psycopg2.connect(**sandbox.context.postgres)
    connection.autocommit = True
    try:
        yield connection
    finally:
        connection.close()
