"""The bad-input corpus, every area but raw lines (those run on Hive: test_bad_input_hql.py).

One parametrised test per area runs each case of bad_input_cases.py through the code a task runs: the ingest's
plan and fetch under the fail-fast wrapper the DAG uses, the DAGs' own Params, the drift monitor's capture
parser, the Lambda handlers, the config as a task reads it. Each checks the outcome the case states.
"""

from __future__ import annotations

import base64
import copy
import functools
import importlib.util
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from bad_input_cases import (
    APPLICATION,
    AREAS,
    CAPTURE_CASES,
    CASES,
    CONFIG_CASES,
    GOOD_CSV_ROW,
    GOOD_ZIP,
    INGEST,
    LAMBDA_CASES,
    PARAM_CASES,
    PASSWORD,
    PORTAL_CASES,
    PROCESSING,
    PROXY_FEATURES,
    USER,
    WAREHOUSE,
    ZIP_CASES,
    ZIP_URL,
    Case,
    Counted,
    Fails,
    Lands,
    ProxyInput,
    Refused,
    Rejected,
    b64,
    capture_line,
    loan_zip,
)

from loanlake.config import parse_config
from loanlake.freddie_mac import ingest, manifest, runtime
from loanlake.freddie_mac.portal import PortalSource
from loanlake.freddie_mac.sources import SourceFile

ROOT = Path(__file__).resolve().parents[2]
LOGIN_PATH = "/FLoan/secure/login.php"


def ids(cases: list[Case]) -> list[str]:
    return [case.id for case in cases]


def fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def assert_names(message: str, names: tuple[str, ...], values: dict[str, str] | None = None) -> None:
    """The message names every one of ``names`` and is no traceback."""
    for name in names:
        assert fill(name, values or {}) in message, f"{fill(name, values or {})!r} not in {message!r}"
    assert "Traceback" not in message


def assert_clear_error(error: BaseException, expect: Fails, values: dict[str, str] | None = None) -> None:
    assert type(error).__name__ == expect.error, f"{type(error).__name__}: {error}"
    assert_names(str(error), expect.names, values)
    for secret in expect.absent:
        assert secret not in str(error)


def run_ingest(source: Any, s3: Any, config: Any, quarters: tuple[str, ...]) -> list[Any]:
    """What the ingest DAG does for a manual run with ``quarters``: discover (plan), then fetch each file, under the
    fail-fast wrapper both tasks use."""
    wanted = ingest.requested_periods(quarters, [], None)
    with runtime.permanent_errors_fail_fast():
        to_fetch, _ = ingest.plan(source, wanted, s3, config)
    landed = []
    for file in to_fetch:
        with runtime.permanent_errors_fail_fast():
            landed.append(ingest.fetch(file, source, s3, config))
    return landed


def ingest_config(monkeypatch: pytest.MonkeyPatch, bucket: str, **source: Any) -> Any:
    monkeypatch.setenv("LOANLAKE__DATA_BUCKET", bucket)
    return parse_config({"data_bucket": bucket, "upload_part_mb": 5, "source": {"backoff_seconds": 0, **source}})


def raw_keys(s3: Any, bucket: str) -> list[str]:
    return [obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket, Prefix="raw/").get("Contents", [])]


def test_the_corpus_has_at_least_30_cases_covering_every_area() -> None:
    assert len(CASES) >= 30
    assert len({case.id for case in CASES}) == len(CASES), "case ids are unique"
    assert {case.area for case in CASES} == set(AREAS)
    assert all(case.about and "\n" not in case.about for case in CASES)


# -- portal responses ----------------------------------------------------------------------------------------------

_LOGIN_FORM = (
    b'<html><body><form method="post" action="auth.php"><input type="text" name="username">'
    b'<input type="password" name="password"><input type="submit" value="Log in"></form></body></html>'
)
SITES = {
    # Release 47's portal: a single-page app whose sign-in no form-posting script can drive.
    "spa_login": {
        LOGIN_PATH: (
            200,
            "text/html",
            b'<!DOCTYPE html><html><head><title>Loan-Level Dataset</title></head><body><div id="root">'
            b'Sign in with your registered account to continue</div><script src="/static/app.js"></script>'
            b"</body></html>",
        )
    },
    # The login form still posts, but what answers is no terms page.
    "no_terms": {
        LOGIN_PATH: (200, "text/html", _LOGIN_FORM),
        "/FLoan/secure/auth.php": (
            200,
            "text/html",
            b"<html><body><h1>Welcome back</h1><p>Downloads have moved to the new portal.</p></body></html>",
        ),
    },
}


@pytest.mark.parametrize("case", PORTAL_CASES, ids=ids(PORTAL_CASES))
def test_portal_case(case: Case, sandbox_portal, page_site, s3_bucket, monkeypatch, caplog) -> None:
    given, expect = case.input, case.expect
    portal = None
    if given.site:
        base = page_site(SITES[given.site])
        login_url = base + LOGIN_PATH
    else:
        portal = sandbox_portal({name: loan_zip() for name in given.zips}, USER, PASSWORD)
        base, login_url = portal.base_url, portal.login_url
        if given.fault:
            portal.set_fault(*given.fault)
    s3, bucket = s3_bucket
    config = ingest_config(monkeypatch, bucket, kind="portal", portal_login_url=login_url, attempts=given.attempts)
    source = PortalSource(login_url, USER, given.password, connect_timeout=5, read_timeout=5)

    try:
        with caplog.at_level(logging.INFO, logger="loanlake.freddie_mac"):
            if isinstance(expect, Lands):
                landed = run_ingest(source, s3, config, given.quarters)
            else:
                with pytest.raises(Exception) as raised:
                    run_ingest(source, s3, config, given.quarters)
    finally:
        source.close()

    if portal is not None:
        assert portal.pending_faults() == [], "every fault switched on met a download"
    entry = manifest.read_entry(s3, bucket, config.manifest_prefix, GOOD_ZIP)
    if isinstance(expect, Lands):
        [file] = landed
        assert entry == file, "the manifest entry is written once the file is landed"
        assert file.zip_bytes == len(loan_zip()) and file.lines == 40 + 120
        for member in file.members:
            assert s3.head_object(Bucket=bucket, Key=member.key)["ContentLength"] == member.bytes
        return
    assert_clear_error(raised.value, expect, {"base_url": base, "login_url": login_url})
    assert entry is None, "a failed fetch leaves no manifest entry, so the file is fetched again next run"
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    for name in expect.logged:
        assert any(name in message for message in warnings), (name, warnings)
    for secret in expect.absent:
        assert secret not in caplog.text


# -- zips ----------------------------------------------------------------------------------------------------------


class BytesSource:
    """A source offering one zip whose bytes are given; counts how often it is opened."""

    def __init__(self, body: bytes, size: int | None) -> None:
        self.file = SourceFile(GOOD_ZIP, ZIP_URL, "quarterly", "2017Q1", size)
        self.body = body
        self.opens = 0

    def list_files(self) -> list[SourceFile]:
        return [self.file]

    @contextmanager
    def open(self, file: SourceFile) -> Iterator[Iterator[bytes]]:
        self.opens += 1
        yield iter(self.body[i : i + 700] for i in range(0, len(self.body), 700))


@pytest.mark.parametrize("case", ZIP_CASES, ids=ids(ZIP_CASES))
def test_zip_case(case: Case, s3_bucket, monkeypatch) -> None:
    given, expect = case.input, case.expect
    s3, bucket = s3_bucket
    config = ingest_config(monkeypatch, bucket, kind="urls", urls=[ZIP_URL], attempts=given.attempts)
    source = BytesSource(given.body, given.listed_size)

    with pytest.raises(Exception) as raised:
        run_ingest(source, s3, config, ("2017Q1",))

    assert_clear_error(raised.value, expect)
    assert source.opens == (expect.tries or 1), "permanent errors are not retried; transient ones are, as configured"
    assert manifest.read_entry(s3, bucket, config.manifest_prefix, GOOD_ZIP) is None, "nothing looks landed"
    if "CRC32" in expect.names:
        assert raw_keys(s3, bucket) == [], "the member that failed its CRC is not in raw/"


# -- manual Params -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dags() -> dict[str, tuple[Any, Any]]:
    """The three DAGs with manual Params, as parsed (SDK) and as the API server holds them (serialized)."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    folder = ROOT / "dags"
    bag = DagBag(dag_folder=folder, collect_dags=False, bundle_path=folder)
    parsed = {}
    for dag_id in (INGEST, PROCESSING, WAREHOUSE):
        for dag in bag.process_file(str(folder / f"{dag_id}.py"), only_if_updated=False, safe_mode=False):
            parsed[dag.dag_id] = (dag, DagSerialization.from_dict(DagSerialization.to_dict(dag)))
    assert not bag.import_errors, bag.import_errors
    return parsed


def trigger_error(dag: Any, served: Any, conf: dict[str, Any]) -> str | None:
    """Why a trigger with ``conf`` is refused, or None: the API server's check (``create_dagrun``, backfills) and the
    SDK's ``ParamsDict`` resolution, which must agree."""
    from airflow.sdk.exceptions import ParamValidationError

    errors = []
    try:
        served.params.deep_merge(conf).validate()
        errors.append(None)
    except ParamValidationError as exc:
        errors.append(str(exc))
    params = copy.deepcopy(dag.params)
    try:
        params.update(conf)
        params.validate()
        errors.append(None)
    except ParamValidationError as exc:
        errors.append(str(exc))
    assert (errors[0] is None) == (errors[1] is None), errors
    return errors[0]


OFFERED = [
    SourceFile("historical_data_2017Q1.zip", "https://portal/f=historical_data_2017Q1", "quarterly", "2017Q1"),
    SourceFile("historical_data_2017Q4.zip", "https://portal/f=historical_data_2017Q4", "quarterly", "2017Q4"),
    SourceFile("sample_2017.zip", "https://portal/f=sample_2017", "sample", "2017"),
]


class _OfferedSource:
    def list_files(self) -> list[SourceFile]:
        return list(OFFERED)


class _EmptyBucket:
    """S3 as the discover task sees it on a first run: no manifest entry yet."""

    def get_object(self, **kwargs: Any) -> None:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "no such key"}}, "GetObject")


def first_task_error(dag: Any, params: dict[str, Any], events: tuple[dict[str, Any], ...], monkeypatch) -> str | None:
    """Why the run's first task fails fast (AirflowFailException), or None. The DAG's own task function runs: the
    ingest's discover (against a source offering OFFERED), or resolve_periods of processing and warehouse. Any other
    exception is a bare traceback and fails the case."""
    from airflow.sdk.exceptions import AirflowFailException

    if dag.dag_id == INGEST:
        monkeypatch.setattr(runtime, "open_source", lambda: (parse_config({}), _OfferedSource(), _EmptyBucket()))
        ti = SimpleNamespace(xcom_push=lambda **kwargs: None)
        task = functools.partial(dag.get_task("discover").python_callable, params=params, ti=ti, dag=dag)
    else:
        context = {"dag": dag, "triggering_asset_events": {"asset": [SimpleNamespace(extra=extra) for extra in events]}}
        task = functools.partial(dag.get_task("resolve_periods").python_callable, params=params, **context)
    try:
        task()
    except AirflowFailException as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("case", PARAM_CASES, ids=ids(PARAM_CASES))
def test_param_case(case: Case, dags, monkeypatch) -> None:
    given, expect = case.input, case.expect
    assert isinstance(expect, Rejected)
    dag, served = dags[given.dag_id]

    refused = trigger_error(dag, served, given.conf)
    params = {**served.params.deep_merge({}).validate(), **given.conf}  # what the task sees had the trigger passed
    failed = first_task_error(dag, params, given.events, monkeypatch)

    if expect.trigger is None:
        assert refused is None, refused
    else:
        assert refused is not None, "the DAG's Params let the input through"
        assert refused.startswith("Invalid input for param ")
        assert_names(refused, expect.trigger)
    if expect.task is None:
        assert failed is None, failed
    else:
        assert failed is not None, "the first task let the input through"
        assert_names(failed, expect.task)


# -- capture records -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CAPTURE_CASES, ids=ids(CAPTURE_CASES))
def test_capture_case(case: Case) -> None:
    from loanlake.ml.capture import parse_capture

    expect = case.expect
    assert isinstance(expect, Counted)
    good = [capture_line(GOOD_CSV_ROW).encode() for _ in range(3)]
    body = b"\n".join([good[0], good[1], case.input.bad, good[2]]) + b"\n"  # one capture file, as read from S3

    capture = parse_capture([body])

    assert capture.records == 4
    assert capture.malformed == {expect.reason: 1}
    assert len(capture.rows) == 3, "the good records around the bad one still count"
    assert capture.records == len(capture.rows) + capture.malformed_records, "no record lost uncounted"


# -- Lambda events -------------------------------------------------------------------------------------------------


def load_handler(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"corpus_{name}_handler", ROOT / "include" / "lambda" / name / "handler.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def handlers() -> dict[str, ModuleType]:
    return {name: load_handler(name) for name in ("firehose_transform", "endpoint_proxy")}


def _transform(handlers: dict[str, ModuleType], case: Case, caplog: pytest.LogCaptureFixture) -> None:
    good = {"recordId": "rec-good", "approximateArrivalTimestamp": 1767225601000, "data": b64(APPLICATION)}
    bad = case.input.record
    event = {"invocationId": "inv-1", "region": "us-east-1", "records": [good, bad, {**good, "recordId": "rec-last"}]}

    with caplog.at_level(logging.WARNING, logger="firehose_transform"):
        out = handlers["firehose_transform"].handler(event, None)["records"]

    assert [r["recordId"] for r in out] == ["rec-good", bad["recordId"], "rec-last"], "every record back once"
    assert [r["result"] for r in out] == ["Ok", case.expect.status, "Ok"]
    assert out[1]["data"] == bad.get("data", ""), "a failed record keeps its original data for the error prefix"
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert_names(line, case.expect.names)


def _proxy(handlers: dict[str, ModuleType], case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = handlers["endpoint_proxy"]
    given: ProxyInput = case.input
    monkeypatch.setenv("ENDPOINT_NAME", "loanlake-credit-risk")
    monkeypatch.setenv("FEATURES", ",".join(PROXY_FEATURES))
    monkeypatch.delenv("THRESHOLD", raising=False)

    def no_call() -> None:
        raise AssertionError("a refused request must not reach the endpoint")

    monkeypatch.setattr(proxy, "runtime_client", no_call)
    headers = {"Content-Type": given.content_type} if given.content_type else {}
    body = base64.b64encode(given.body.encode()).decode() if given.base64_encoded and given.body else given.body
    event = {"httpMethod": "POST", "path": "/score", "headers": headers, "body": body}
    event["isBase64Encoded"] = given.base64_encoded

    response = proxy.handler(event, None)

    assert response["statusCode"] == case.expect.status
    assert_names(json.loads(response["body"])["message"], case.expect.names)


@pytest.mark.parametrize("case", LAMBDA_CASES, ids=ids(LAMBDA_CASES))
def test_lambda_case(case: Case, handlers, monkeypatch, caplog) -> None:
    assert isinstance(case.expect, Refused)
    if case.id.startswith("transform-"):
        _transform(handlers, case, caplog)
    else:
        _proxy(handlers, case, monkeypatch)


# -- config --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CONFIG_CASES, ids=ids(CONFIG_CASES))
def test_config_case(case: Case, monkeypatch) -> None:
    from loanlake import tasks

    monkeypatch.setenv("AIRFLOW_VAR_LOANLAKE_CONFIG", case.input.variable)
    for key, value in case.input.env.items():
        monkeypatch.setenv(key, value)

    with pytest.raises(Exception) as raised:
        tasks.config()  # how every task reads the config

    assert_clear_error(raised.value, case.expect)
    assert str(raised.value).count("problem(s)") <= 1 and PASSWORD not in str(raised.value)
