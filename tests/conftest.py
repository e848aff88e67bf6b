"""Shared fixtures. Airflow's environment is set here, before any test module imports Airflow.

Dev connections and the config Variable come in as environment variables, as in production images.
Every server a fixture starts, it stops.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.runner import airflow_env

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="loanlake-airflow-"))
os.environ.update(airflow_env(_AIRFLOW_HOME))
os.environ.setdefault("LOANLAKE__DATA_BUCKET", "loanlake-data")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A bare moto server on a free port (no sandbox extensions), for tests of AWS-facing code."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(moto_endpoint: str, request: pytest.FixtureRequest) -> Iterator[tuple[object, str]]:
    """An S3 client against moto and a fresh bucket named for the test."""
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = "t-" + request.node.name.lower().replace("_", "-")[:50].strip("-[]")
    bucket = "".join(c if c.isalnum() or c == "-" else "-" for c in bucket)
    s3.create_bucket(Bucket=bucket)
    yield s3, bucket
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=bucket)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The whole sandbox (moto with extensions, portal, databases) on free ports, with Airflow pointed at it."""
    from sandbox.runner import prepare_airflow
    from sandbox.site import Sandbox, SandboxSettings

    prepare_airflow(_AIRFLOW_HOME)
    settings = SandboxSettings(home=tmp_path_factory.mktemp("sandbox"), moto_port=0, portal_port=0)
    site = Sandbox(settings).start()
    saved = {key: os.environ.get(key) for key in site.env()}
    os.environ.update(site.env())
    try:
        yield site
    finally:
        site.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
