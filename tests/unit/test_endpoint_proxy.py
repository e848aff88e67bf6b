"""The API Gateway proxy of the SageMaker endpoint, on a real sagemaker-runtime client under botocore's Stubber."""

from __future__ import annotations

import importlib.util
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from loanlake.ml.features import FEATURE_NAMES

HANDLER = Path(__file__).resolve().parents[2] / "include" / "lambda" / "endpoint_proxy" / "handler.py"
FEATURES = ("credit_score", "orig_ltv", "orig_dti", "orig_interest_rate", "orig_upb", "orig_loan_term")
CSV = "720,80,36.5,6.125,250000,360"
SENT = "720.0,80.0,36.5,6.125,250000.0,360.0"
LOAN = {
    "credit_score": 720,
    "orig_ltv": 80,
    "orig_dti": 36.5,
    "orig_interest_rate": 6.125,
    "orig_upb": 250000,
    "orig_loan_term": 360,
}


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("endpoint_proxy_handler", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


proxy = _load()


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The proxy's own client (fake credentials, nothing leaves the process), made fresh for the test."""
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "ENDPOINT_NAME": "credit-risk",
        "FEATURES": ",".join(FEATURES),
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "THRESHOLD"):
        monkeypatch.delenv(name, raising=False)
    proxy.runtime_client.cache_clear()
    yield proxy.runtime_client()
    proxy.runtime_client.cache_clear()


@pytest.fixture
def stub(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def request(body: str | None, content_type: str | None = "text/csv", method: str = "POST") -> dict[str, Any]:
    headers = {"Content-Type": content_type} if content_type else None
    return {"resource": "/score", "path": "/score", "httpMethod": method, "headers": headers, "body": body}


def answer(stub: Stubber, text: bytes, body: str = SENT) -> None:
    stub.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(text), len(text)), "ContentType": "text/csv"},
        {"EndpointName": "credit-risk", "ContentType": "text/csv", "Accept": "text/csv", "Body": body},
    )


def reply(response: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    assert response["headers"] == {"Content-Type": "application/json"}
    return response["statusCode"], json.loads(response["body"])


def test_one_csv_line_is_scored(stub):
    answer(stub, b"0.73\n")

    assert reply(proxy.handler(request(CSV + "\r\n"), None)) == (
        200,
        {"probability": 0.73, "class": 1, "threshold": 0.5},
    )


def test_json_features_are_sent_in_the_models_order(stub, monkeypatch):
    monkeypatch.setenv("THRESHOLD", "0.8")
    answer(stub, b"0.73")
    shuffled = dict(reversed(list(LOAN.items())))

    response = proxy.handler(request(json.dumps({"features": shuffled}), "application/json; charset=utf-8"), None)

    assert reply(response) == (200, {"probability": 0.73, "class": 0, "threshold": 0.8})


def test_a_base64_encoded_body_is_decoded(stub):
    answer(stub, b"0.2")
    event = request("NzIwLDgwLDM2LjUsNi4xMjUsMjUwMDAwLDM2MA==") | {"isBase64Encoded": True}

    assert reply(proxy.handler(event, None))[0] == 200


def test_the_default_feature_order_is_the_documented_one(monkeypatch):
    monkeypatch.setenv("ENDPOINT_NAME", "credit-risk")
    monkeypatch.delenv("FEATURES", raising=False)
    monkeypatch.delenv("THRESHOLD", raising=False)

    assert proxy.settings() == ("credit-risk", proxy.DEFAULT_FEATURES, 0.5)
    assert proxy.DEFAULT_FEATURES == FEATURE_NAMES, "the Lambda's default is the model's feature order"


def test_a_missing_value_reaches_the_endpoint_as_an_empty_field(stub):
    answer(stub, b"0.4", body="720.0,,36.5,6.125,250000.0,360.0")
    answer(stub, b"0.4", body="720.0,,36.5,6.125,250000.0,360.0")

    assert reply(proxy.handler(request("720,,36.5,6.125,250000,360"), None))[0] == 200
    document = json.dumps({"features": {**LOAN, "orig_ltv": None}})
    assert reply(proxy.handler(request(document, "application/json"), None))[0] == 200


@pytest.mark.parametrize(
    ("event", "status", "message"),
    [
        (request(None), 400, "the request body is empty"),
        (request("  \n"), 400, "the request body is empty"),
        (request(CSV, content_type=None), 415, "Content-Type must be text/csv or application/json"),
        (request(CSV, "text/plain"), 415, "Content-Type must be text/csv or application/json"),
        (request(CSV, method="GET"), 405, "method GET is not allowed; use POST"),
        (request(CSV + "\n" + CSV), 400, "the CSV body has 2 lines; send one line of features"),
        (request("720,80"), 400, "the CSV line has 2 values; expected 6: credit_score,orig_ltv,orig_dti"),
        (request("720,80,abc,6.125,250000,360"), 400, "feature orig_dti: 'abc' is not a number"),
        (request("720,80,nan,6.125,250000,360"), 400, "feature orig_dti: 'nan' is not a number"),
        (request("720,80,1e999,6.125,250000,360"), 400, "feature orig_dti must be finite"),
        (request("{bad", "application/json"), 400, "the body is not valid JSON"),
        (request('{"features": {"credit_score": NaN}}', "application/json"), 400, "NaN is not allowed"),
        (request("[1, 2]", "application/json"), 400, 'the JSON body must be {"features": {"<name>": <number>, ...}}'),
        (request('{"instances": [[1]]}', "application/json"), 400, 'the JSON body must be {"features"'),
        (request(json.dumps({"features": LOAN, "id": 1}), "application/json"), 400, 'must be {"features"'),
        (
            request(
                json.dumps({"features": {k: v for k, v in LOAN.items() if k != "orig_dti"} | {"dti": 3}}),
                "application/json",
            ),
            400,
            "features missing: orig_dti; unknown: dti",
        ),
        (request(json.dumps({"features": {**LOAN, "orig_upb": True}}), "application/json"), 400, "got bool"),
        (request(json.dumps({"features": {**LOAN, "orig_upb": "1e3"}}), "application/json"), 400, "or null, got str"),
        (request("QUJ", "text/csv") | {"isBase64Encoded": True}, 400, "not base64-encoded UTF-8"),
        (None, 415, "Content-Type"),
    ],
)
def test_a_bad_request_gets_a_client_error_naming_the_problem(stub, event, status, message):
    got_status, body = reply(proxy.handler(event, None))

    assert got_status == status
    assert message in body["message"]


@pytest.mark.parametrize(
    ("code", "status"),
    [("ModelError", 424), ("ValidationError", 400), ("ThrottlingException", 400), ("ServiceUnavailable", 503)],
)
def test_an_endpoint_error_is_a_502_without_details(stub, caplog, code, status):
    stub.add_client_error(
        "invoke_endpoint", service_error_code=code, service_message="xgboost: boom", http_status_code=status
    )

    with caplog.at_level(logging.ERROR, logger="endpoint_proxy"):
        got = reply(proxy.handler(request(CSV), None))

    assert got == (502, {"message": "the model endpoint failed to answer; try again later"})
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith("endpoint credit-risk failed: ") and f"({code})" in line and "xgboost: boom" in line
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("text", [b"", b"not a number", b"0.2,0.3", b"1.7", b'{"predictions": [0.2]}', b"\xff"])
def test_an_unparsable_endpoint_answer_is_a_502(stub, caplog, text):
    answer(stub, text)

    with caplog.at_level(logging.ERROR, logger="endpoint_proxy"):
        status, body = reply(proxy.handler(request(CSV), None))

    assert status == 502 and "failed to answer" in body["message"]
    assert "endpoint credit-risk failed" in caplog.text


def test_a_timeout_is_retried_once_then_a_502(client, caplog):
    attempts = []

    def time_out(request, **_):
        attempts.append(request.url)
        raise ReadTimeoutError(endpoint_url=request.url)

    client.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", time_out)

    with caplog.at_level(logging.ERROR, logger="endpoint_proxy"):
        status, body = reply(proxy.handler(request(CSV), None))

    assert status == 502 and "Traceback" not in body["message"]
    assert len(attempts) == 2  # the first try and one retry
    assert "ReadTimeoutError" in caplog.text


def test_the_client_is_made_once_with_short_timeouts(client):
    assert proxy.runtime_client() is client
    assert client.meta.service_model.service_name == "sagemaker-runtime"
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (2, 8)
    assert client.meta.config.retries == {"total_max_attempts": 2, "mode": "standard"}  # one retry


@pytest.mark.parametrize(
    ("env", "logged"),
    [
        ({"ENDPOINT_NAME": ""}, "ENDPOINT_NAME is not set"),
        ({"FEATURES": "a,,b"}, "has an empty or repeated name"),
        ({"FEATURES": "a,b,a"}, "has an empty or repeated name"),
        ({"THRESHOLD": "high"}, "THRESHOLD 'high' is not a number"),
        ({"THRESHOLD": "1.5"}, "THRESHOLD 1.5 is not between 0 and 1"),
    ],
)
def test_bad_settings_are_a_500_that_names_nothing_to_the_caller(stub, monkeypatch, caplog, env, logged):
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    with caplog.at_level(logging.ERROR, logger="endpoint_proxy"):
        got = reply(proxy.handler(request(CSV), None))

    assert got == (500, {"message": "the prediction service is misconfigured"})
    assert logged in caplog.text
