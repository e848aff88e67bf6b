"""freddie_mac_ingest run with dag.test() against the sandbox: portal, S3, manifest, faults, landing source."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from sandbox.runner import run_dag

pytestmark = pytest.mark.integration

DAG_ID = "freddie_mac_ingest"
BUCKET = "loanlake-data"
_dates = count()


def _run(conf: dict | None = None, logical_date: datetime | None = None):
    """A run with a fresh logical date, so each call is a new DAG run."""
    when = logical_date or datetime(2020, 1, 1, tzinfo=UTC) + timedelta(hours=next(_dates))
    return run_dag(DAG_ID, when, conf)


def _portal_members(sandbox, zip_name: str) -> dict[str, bytes]:
    with zipfile.ZipFile(sandbox.settings.home / "portal" / zip_name) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _raw_objects(s3, period: str) -> dict[str, dict]:
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="raw/"):
        for obj in page.get("Contents", []):
            if f"/period={period}/" in obj["Key"]:
                objects[obj["Key"]] = obj
    return objects


@pytest.fixture
def config(monkeypatch, sandbox):
    """Change the loanlake_config Variable (an env var, as in the dev setup) for one test."""

    def set_config(**source):
        value = json.loads(sandbox.env()["AIRFLOW_VAR_LOANLAKE_CONFIG"])
        value["source"] |= source
        monkeypatch.setenv("AIRFLOW_VAR_LOANLAKE_CONFIG", json.dumps(value))

    yield set_config
    sandbox.portal.clear_faults()


def test_ingest_lands_the_generators_bytes_and_a_manifest(sandbox):
    s3 = sandbox.boto3_client("s3")
    result = _run({"quarters": ["2016Q3", "2017Q1"], "sample_years": [2017]})
    assert result.state == "success", result

    expected = {
        "2016Q3": ("historical_data1_Q32016.zip", "legacy"),
        "2017Q1": ("historical_data_2017Q1.zip", "r47"),
        "2017": ("sample_2017.zip", "r47"),
    }
    for period, (zip_name, layout) in expected.items():
        members = _portal_members(sandbox, zip_name)
        landed = _raw_objects(s3, period)
        assert len(landed) == len(members) == 2
        for key in landed:
            name = key.rsplit("/", 1)[-1]
            assert key.startswith(f"raw/{layout}/"), key
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            assert hashlib.sha256(body).digest() == hashlib.sha256(members[name]).digest(), key
        entry = json.loads(
            s3.get_object(Bucket=BUCKET, Key=f"manifests/freddie_mac/files/{zip_name}.json")["Body"].read()
        )
        zip_bytes = (sandbox.settings.home / "portal" / zip_name).read_bytes()
        assert entry["zip_sha256"] == hashlib.sha256(zip_bytes).hexdigest()
        assert {m["sha256"] for m in entry["members"]} == {hashlib.sha256(b).hexdigest() for b in members.values()}


def test_second_run_uploads_nothing(sandbox):
    s3 = sandbox.boto3_client("s3")
    conf = {"quarters": ["2016Q4"]}
    assert _run(conf).state == "success"
    before = _raw_objects(s3, "2016Q4")

    again = _run(conf)

    assert again.state == "success", again
    assert again.tasks["publish_manifest"] == "skipped", "no new file, no asset event"
    assert all(state == "skipped" for task, state in again.tasks.items() if task.startswith("fetch")), again
    after = _raw_objects(s3, "2016Q4")
    assert {k: v["LastModified"] for k, v in after.items()} == {k: v["LastModified"] for k, v in before.items()}


@pytest.mark.parametrize("fault", ["http_500", "truncated", "slow"])
def test_transient_portal_faults_are_retried(sandbox, config, fault):
    config(read_timeout_seconds=1, backoff_seconds=0.1)
    sandbox.portal.set_fault(fault, times=1, delay_seconds=3)

    result = _run({"quarters": ["2017Q2"], "refresh": True})

    assert result.state == "success", result
    assert sandbox.portal.pending_faults() == [], "the fault was served: the landing below came from a retry"
    members = _portal_members(sandbox, "historical_data_2017Q2.zip")
    landed = _raw_objects(sandbox.boto3_client("s3"), "2017Q2")
    assert sorted(k.rsplit("/", 1)[-1] for k in landed) == sorted(members)


def test_html_instead_of_zip_fails_at_once_naming_the_url(sandbox, config):
    sandbox.portal.set_fault("html_instead_of_zip", times=5)

    result = _run({"quarters": ["2017Q2"], "refresh": True})

    assert result.state == "failed"
    assert result.tasks["fetch[0]"] == "failed"
    error = result.errors["fetch[0]"]
    assert error.startswith("AirflowFailException: NotAZipError:"), error
    assert "f=historical_data_2017Q2" in error and "Please log in" in error and "instead of a zip" in error
    assert sandbox.portal.pending_faults()[0]["remaining"] == 3, "one fresh login, then it failed at once"


def test_wrong_password_fails_at_once_without_leaking_it(sandbox, monkeypatch):
    portal = json.loads(sandbox.env()["AIRFLOW_CONN_FREDDIE_MAC_PORTAL"])
    wrong = "not-the-password-" + "x" * 8
    monkeypatch.setenv("AIRFLOW_CONN_FREDDIE_MAC_PORTAL", json.dumps({**portal, "password": wrong}))

    result = _run({"quarters": ["2017Q1"]})

    assert result.state == "failed"
    assert result.tasks["discover"] == "failed"
    error = result.errors["discover"]
    assert "SourceLoginError" in error and "/FLoan/secure/auth.php" in error and "Invalid username/password" in error
    assert wrong not in error


def test_a_quarter_the_source_does_not_offer_fails_saying_so(sandbox):
    result = _run({"quarters": ["2030Q1"]})

    assert result.state == "failed"
    assert "does not offer 2030Q1" in result.errors["discover"] and "2017Q2" in result.errors["discover"]


def test_scheduled_run_fetches_the_quarter_of_its_data_interval(sandbox):
    result = _run(logical_date=datetime(2017, 1, 1, tzinfo=UTC))
    assert result.state == "success", result
    assert _raw_objects(sandbox.boto3_client("s3"), "2017Q1")


def test_landing_source_reads_zips_an_operator_dropped(sandbox, config):
    s3 = sandbox.boto3_client("s3")
    zip_path = sandbox.settings.home / "portal" / "sample_2016.zip"
    s3.upload_file(str(zip_path), BUCKET, "landing/sample_2016.zip")
    s3.put_object(Bucket=BUCKET, Key="landing/README.txt", Body=b"not a zip")
    config(kind="landing")

    result = _run({"sample_years": [2016], "refresh": True})

    assert result.state == "success", result
    entry = json.loads(
        s3.get_object(Bucket=BUCKET, Key="manifests/freddie_mac/files/sample_2016.zip.json")["Body"].read()
    )
    assert entry["source"]["location"] == f"s3://{BUCKET}/landing/sample_2016.zip"
    assert entry["zip_sha256"] == hashlib.sha256(zip_path.read_bytes()).hexdigest()
