"""API Gateway (REST, Lambda proxy integration) in front of the credit-risk SageMaker endpoint (``handler.handler``).

Request: ``POST`` with the features of one loan, in one of two forms chosen by ``Content-Type``:

- ``text/csv``: one line, the feature values in the model's order, comma-separated, each a number or
  empty for a missing value;
- ``application/json``: ``{"features": {"credit_score": 720, "orig_ltv": 80, ...}}`` naming every
  feature exactly once (no others), each a JSON number or null for a missing value.

The feature order is the environment variable ``FEATURES`` (comma-separated names), by default
``DEFAULT_FEATURES``: the model's features (``loanlake.ml.features``; a test holds the two equal),
categorical ones as their codes. A missing value reaches the endpoint as an empty CSV field, which
XGBoost treats as missing, as in training.

Response 200: ``{"probability": p, "class": 0 | 1, "threshold": t}``, class 1 when ``p >= t``; ``t`` is
the variable ``THRESHOLD`` (default 0.5). Errors answer ``{"message": ...}``: 400 for a bad body (the
message names the problem), 405 for a method other than POST, 415 for another content type, 502 when
the endpoint fails, times out or answers something other than one probability (details only in the
log), 500 when the function's own settings are invalid. The endpoint is ``ENDPOINT_NAME``.

One sagemaker-runtime client per container, made on first use, with short timeouts and one retry, so
that a request fails well inside API Gateway's 29-second integration timeout.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import math
import os
import re
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger("endpoint_proxy")
log.setLevel(logging.INFO)

DEFAULT_FEATURES = (
    "credit_score",
    "orig_ltv",
    "orig_cltv",
    "orig_dti",
    "orig_interest_rate",
    "orig_upb",
    "orig_loan_term",
    "mi_pct",
    "num_borrowers",
    "num_units",
    "first_time_homebuyer",
    "occupancy",
    "loan_purpose",
    "channel",
    "property_type",
)
DEFAULT_THRESHOLD = 0.5
CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=8, retries={"total_max_attempts": 2, "mode": "standard"})
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)


class RequestError(ValueError):
    """A request the proxy refuses; ``status`` is the HTTP status, the message goes to the caller."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@functools.cache
def runtime_client() -> Any:
    """The container's sagemaker-runtime client."""
    return boto3.client("sagemaker-runtime", config=CLIENT_CONFIG)


def settings() -> tuple[str, tuple[str, ...], float]:
    """``(endpoint name, feature order, threshold)`` from the environment; RuntimeError when invalid."""
    endpoint = os.environ.get("ENDPOINT_NAME", "").strip()
    if not endpoint:
        raise RuntimeError("ENDPOINT_NAME is not set")
    raw = os.environ.get("FEATURES", "").strip()
    features = tuple(name.strip() for name in raw.split(",")) if raw else DEFAULT_FEATURES
    if not all(features) or len(set(features)) != len(features):
        raise RuntimeError(f"FEATURES {raw!r} has an empty or repeated name")
    try:
        threshold = float(os.environ.get("THRESHOLD", DEFAULT_THRESHOLD))
    except ValueError:
        raise RuntimeError(f"THRESHOLD {os.environ['THRESHOLD']!r} is not a number") from None
    if not 0 < threshold < 1:
        raise RuntimeError(f"THRESHOLD {threshold} is not between 0 and 1")
    return endpoint, features, threshold


def _header(event: dict[str, Any], name: str) -> str:
    headers = event.get("headers") or {}
    return next((str(value) for key, value in headers.items() if key.lower() == name), "")


def _body(event: dict[str, Any]) -> str:
    body = event.get("body")
    if not isinstance(body, str) or not body.strip():
        raise RequestError("the request body is empty")
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise RequestError("the request body is not base64-encoded UTF-8") from None
    return body


def _value(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(f"feature {name} must be a number or null, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise RequestError(f"feature {name} must be finite")
    return number


def _csv_value(text: str, name: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    if not _DECIMAL.fullmatch(text):
        raise RequestError(f"feature {name}: {text[:20]!r} is not a number")
    return _value(float(text), name)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def parse_features(event: dict[str, Any], features: tuple[str, ...]) -> list[float | None]:
    """The feature values of the request, in the model's order (None: missing); RequestError says what is wrong."""
    method = event.get("httpMethod", "POST")
    if method != "POST":
        raise RequestError(f"method {method} is not allowed; use POST", 405)
    media_type = _header(event, "content-type").split(";")[0].strip().lower()
    if media_type not in ("text/csv", "application/json"):
        got = repr(media_type[:60]) if media_type else "no Content-Type header"
        raise RequestError(f"Content-Type must be text/csv or application/json, got {got}", 415)
    body = _body(event)
    if media_type == "text/csv":
        lines = body.strip().splitlines()
        if len(lines) != 1:
            raise RequestError(f"the CSV body has {len(lines)} lines; send one line of features")
        values = lines[0].split(",")
        if len(values) != len(features):
            raise RequestError(f"the CSV line has {len(values)} values; expected {len(features)}: {','.join(features)}")
        return [_csv_value(value, name) for name, value in zip(features, values, strict=True)]
    try:
        document = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise RequestError(f"the body is not valid JSON: {str(exc)[:80]}") from None
    if not isinstance(document, dict) or set(document) != {"features"} or not isinstance(document["features"], dict):
        raise RequestError('the JSON body must be {"features": {"<name>": <number>, ...}}')
    given = document["features"]
    missing, unknown = [n for n in features if n not in given], sorted(set(given) - set(features))
    if missing or unknown:
        raise RequestError(f"features missing: {', '.join(missing) or '-'}; unknown: {', '.join(unknown) or '-'}")
    return [_value(given[name], name) for name in features]


def _probability(answer: bytes) -> float:
    text = answer.decode("utf-8").strip()
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"endpoint answered {text[:60]!r}, not one probability")
    probability = float(text)
    if not 0 <= probability <= 1:
        raise ValueError(f"endpoint answered {probability}, outside [0, 1]")
    return probability


def _csv_row(values: list[float | None]) -> str:
    return ",".join("" if value is None else repr(value) for value in values)


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """The Lambda entry point."""
    try:
        endpoint, features, threshold = settings()
    except RuntimeError as exc:
        log.error("misconfigured: %s", exc)
        return _response(500, {"message": "the prediction service is misconfigured"})
    try:
        values = parse_features(event if isinstance(event, dict) else {}, features)
    except RequestError as exc:
        log.info("refused request (%d): %s", exc.status, exc)
        return _response(exc.status, {"message": str(exc)})
    try:
        answer = runtime_client().invoke_endpoint(
            EndpointName=endpoint, ContentType="text/csv", Accept="text/csv", Body=_csv_row(values)
        )
        probability = _probability(answer["Body"].read())
    except (ClientError, BotoCoreError, ValueError) as exc:
        log.error("endpoint %s failed: %s: %s", endpoint, type(exc).__name__, exc)
        return _response(502, {"message": "the model endpoint failed to answer; try again later"})
    return _response(200, {"probability": probability, "class": int(probability >= threshold), "threshold": threshold})
