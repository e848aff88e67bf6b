"""Fixtures shared by the integration tests: one Hive engine (Spark SQL) for the session, clients of the sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

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


@pytest.fixture(scope="session")
def alerts_queue(sandbox) -> Callable[[], list[dict[str, str]]]:
    """A queue subscribed to the alerts topic, as on-call's pager would be; call it for the messages since."""
    sqs, sns = sandbox.boto3_client("sqs"), sandbox.boto3_client("sns")
    url = sqs.create_queue(QueueName="loanlake-on-call")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":loanlake-alerts"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)

    def received() -> list[dict[str, str]]:
        messages = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                notification = json.loads(message["Body"])
                messages.append({"subject": notification.get("Subject", ""), "text": notification["Message"]})
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return messages

    return received


@pytest.fixture
def alerts(alerts_queue) -> Callable[[], list[dict[str, str]]]:
    """The alerts sent during the test: earlier tests' are read and dropped first."""
    alerts_queue()
    return alerts_queue
