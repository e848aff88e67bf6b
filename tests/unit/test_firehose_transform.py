"""The Firehose transformation Lambda: good, bad and mixed batches, any input, the response size limit."""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HANDLER = Path(__file__).resolve().parents[2] / "include" / "lambda" / "firehose_transform" / "handler.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("firehose_transform_handler", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fh = _load()

GOOD = {
    "application_id": "APP007000000001",
    "event_time": "2026-01-01T00:00:01Z",
    "loan_amount": 250000.0,
    "interest_rate": 6.125,
    "credit_score": 720,
    "ltv": 80,
    "dti": 36,
    "state": "CA",
    "channel": "R",
}


def b64(payload: Any) -> str:
    """Base64 of bytes, of a str's UTF-8, or of any other value as compact JSON (as the producer sends)."""
    if not isinstance(payload, bytes | str):
        payload = json.dumps(payload, separators=(",", ":"))
    return base64.b64encode(payload if isinstance(payload, bytes) else payload.encode()).decode()


def invocation(*payloads: Any) -> dict[str, Any]:
    """A Firehose invocation event with one record per payload (see ``b64``)."""
    return {
        "invocationId": "inv-1",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/loan-events",
        "region": "us-east-1",
        "records": [
            {"recordId": f"r{i}", "approximateArrivalTimestamp": 1767225601000, "data": b64(payload)}
            for i, payload in enumerate(payloads)
        ],
    }


def decoded(entry: dict[str, Any]) -> bytes:
    return base64.b64decode(entry["data"])


def test_a_valid_event_is_normalised_to_one_compact_json_line():
    messy = {
        **GOOD,
        "application_id": "  APP1 ",
        "event_type": " Submitted ",
        "event_time": "2026-01-01T02:30:00.250+02:30",
        "loan_amount": " 250000 ",
        "credit_score": 720.0,
        "dti": "36.5",
        "state": " ca",
        "channel": "b",
        "source": {"app": "web"},
    }

    [entry] = fh.handler(invocation(messy), None)["records"]

    assert entry["recordId"] == "r0" and entry["result"] == "Ok"
    line = decoded(entry)
    assert line.endswith(b"\n") and line.count(b"\n") == 1 and b" " not in line
    assert json.loads(line) == {
        "application_id": "APP1",
        "event_type": "submitted",
        "event_time": "2026-01-01T00:00:00.250000Z",
        "loan_amount": 250000,
        "interest_rate": 6.125,
        "credit_score": 720,
        "ltv": 80,
        "dti": 36.5,
        "state": "CA",
        "channel": "B",
        "source": {"app": "web"},
    }
    assert list(json.loads(line))[:10] == [name for name, _, _ in fh.SCHEMA]


def test_optional_fields_become_null_and_keep_their_place():
    minimal = {k: v for k, v in GOOD.items() if k not in ("interest_rate", "credit_score")}

    [entry] = fh.handler(invocation(minimal), None)["records"]

    out = json.loads(decoded(entry))
    assert entry["result"] == "Ok"
    assert out["event_type"] is None and out["interest_rate"] is None and out["credit_score"] is None


def test_heartbeats_are_dropped():
    [entry] = fh.handler(invocation({"event_type": " HeartBeat "}), None)["records"]

    assert entry["result"] == "Dropped"


BAD_RECORDS = [
    ("not base64 at all!", "not valid base64"),
    ("QUJ", "not valid base64"),
    (b64(b"\xff\xfe{}"), "not UTF-8"),
    (b64("{not json"), "not valid JSON"),
    (b64('{"a": NaN}'), "NaN is not a JSON number"),
    (b64('{"a": 1, "a": 2}'), "duplicate key"),
    (b64("[1, 2]"), "JSON list, not an object"),
    (b64("[" * 100_000), "nested too deeply"),
    (b64({k: v for k, v in GOOD.items() if k != "loan_amount"}), "loan_amount is missing"),
    (b64({**GOOD, "application_id": "   "}), "application_id is empty"),
    (b64({**GOOD, "application_id": 42}), "application_id must be a string, got int"),
    (b64({**GOOD, "application_id": "x" * 65}), "longer than 64"),
    (b64({**GOOD, "event_time": "2026-01-01T00:00:00"}), "has no UTC offset"),
    (b64({**GOOD, "event_time": "yesterday"}), "not an ISO-8601 timestamp"),
    (b64({**GOOD, "event_time": "0001-01-01T00:00:00+01:00"}), "out of range"),
    (b64({**GOOD, "loan_amount": 0}), "loan_amount 0 is outside (0, inf]"),
    (b64({**GOOD, "loan_amount": True}), "loan_amount must be a number, got bool"),
    (b64({**GOOD, "loan_amount": "12abc"}), "loan_amount '12abc' is not a number"),
    (b64({**GOOD, "dti": "1_0"}), "dti '1_0' is not a number"),
    (b64(json.dumps(GOOD).replace("250000.0", "1e400")), "not valid JSON: number 1e400 is out of range"),
    (b64(json.dumps({**GOOD, "note": [1]}).replace("[1]", "[-1e999]")), "number -1e999 is out of range"),
    (b64({**GOOD, "loan_amount": "1e400"}), "loan_amount must be finite"),
    (b64(json.dumps(GOOD).replace("250000.0", "Infinity")), "Infinity is not a JSON number"),
    (b64({**GOOD, "loan_amount": [1]}), "must be a number, got list"),
    (b64({**GOOD, "credit_score": 299}), "credit_score 299 is outside [300, 850]"),
    (b64({**GOOD, "credit_score": 700.5}), "credit_score must be an integer"),
    (b64({**GOOD, "ltv": 200.5}), "ltv 200.5 is outside (0, 200]"),
    (b64({**GOOD, "dti": -1}), "dti -1 is outside [0, 100]"),
    (b64({**GOOD, "interest_rate": 31}), "interest_rate 31 is outside (0, 30]"),
    (b64({**GOOD, "state": "ZZ"}), "state 'ZZ' is not one of"),
    (b64({**GOOD, "channel": "X"}), "channel 'X' is not one of B, C, R, T"),
    (b64({**GOOD, "event_type": 5}), "event_type must be a string"),
    (b64({**GOOD, "application_id": "\ud800"}), "lone surrogate"),
]


@pytest.mark.parametrize(("data", "reason"), BAD_RECORDS, ids=[reason for _, reason in BAD_RECORDS])
def test_a_bad_record_fails_alone_with_its_original_data_and_one_log_line(data, reason, caplog):
    event = invocation()
    event["records"] = [{"recordId": "r0", "approximateArrivalTimestamp": 1767225601000, "data": data}]

    with caplog.at_level(logging.WARNING, logger="firehose_transform"):
        [entry] = fh.handler(event, None)["records"]

    assert entry == {"recordId": "r0", "result": "ProcessingFailed", "data": data}
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert line.startswith("record r0 ProcessingFailed: ") and reason in line
    assert "\n" not in line and "Traceback" not in caplog.text


def test_a_mixed_batch_keeps_every_record_in_order():
    payloads = [GOOD, "{bad", {**GOOD, "state": "ny"}, {"event_type": "heartbeat"}, [1], {**GOOD, "dti": 101}]
    event = invocation(*payloads)

    out = fh.handler(event, None)["records"]

    assert [e["recordId"] for e in out] == [r["recordId"] for r in event["records"]]
    assert [e["result"] for e in out] == [
        "Ok",
        "ProcessingFailed",
        "Ok",
        "Dropped",
        "ProcessingFailed",
        "ProcessingFailed",
    ]
    assert json.loads(decoded(out[2]))["state"] == "NY"
    for entry, record in zip(out, event["records"], strict=True):
        if entry["result"] != "Ok":
            assert entry["data"] == record["data"]


def test_the_record_the_producer_marks_bad_fails():
    from loanlake.streaming.producer import events

    payloads = list(events(4, bad_every=2))

    out = fh.handler(invocation(*payloads), None)["records"]

    assert [e["result"] for e in out] == ["Ok", "ProcessingFailed", "Ok", "ProcessingFailed"]


@pytest.mark.parametrize("event", [None, {}, {"records": "x"}, [], {"records": None}])
def test_an_event_without_records_gets_an_empty_answer(event):
    assert fh.handler(event, None) == {"records": []}


def test_malformed_record_entries_still_come_back():
    event = {"records": [{"recordId": "a"}, {"recordId": "b", "data": 7}, "junk", {"recordId": "c", "data": b64(GOOD)}]}

    out = fh.handler(event, None)["records"]

    assert [(e["recordId"], e["result"], e["data"]) for e in out[:3]] == [
        ("a", "ProcessingFailed", ""),
        ("b", "ProcessingFailed", ""),
        (None, "ProcessingFailed", ""),
    ]
    assert out[3]["result"] == "Ok"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
near_valid = st.fixed_dictionaries(
    {},
    optional={
        name: st.one_of(
            st.just(GOOD.get(name, "heartbeat")), st.text(max_size=12), st.integers(-1000, 1000), st.floats(), st.none()
        )
        for name in [*GOOD, "event_type"]
    },
)
payloads = st.one_of(
    st.binary(max_size=64).map(b64),
    st.text(max_size=64),
    json_values.map(lambda v: b64(json.dumps(v))),
    near_valid.map(lambda v: b64(json.dumps(v))),
    st.integers(0, 999).map(lambda i: b64({**GOOD, "application_id": f"A{i}"})),
)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(datas=st.lists(payloads, max_size=12), limit=st.integers(0, 4000))
def test_no_input_raises_and_every_record_comes_back_once_in_order(datas, limit):
    records = [{"recordId": f"id-{i}", "data": data} for i, data in enumerate(datas)]

    response = fh.transform({"records": records}, limit=limit)
    out = response["records"]

    assert [e["recordId"] for e in out] == [r["recordId"] for r in records]
    for entry, record in zip(out, records, strict=True):
        assert entry["result"] in ("Ok", "Dropped", "ProcessingFailed")
        if entry["result"] == "Ok":
            line = base64.b64decode(entry["data"], validate=True).decode()
            assert line.endswith("\n") and isinstance(json.loads(line), dict)
        else:
            assert entry["data"] == record["data"]
    all_failed = {"records": [{**r, "result": "ProcessingFailed"} for r in records]}
    if len(json.dumps(all_failed)) <= limit:  # a limit the original data fits under is kept
        assert len(json.dumps(response)) <= limit


def test_records_past_the_size_limit_fail_with_their_original_data(caplog):
    event = invocation(*[{**GOOD, "application_id": f"A{i}"} for i in range(10)])
    everything = len(json.dumps(fh.transform(event)))
    limit = everything - 1  # one byte short: the last Ok record no longer fits

    with caplog.at_level(logging.WARNING, logger="firehose_transform"):
        response = fh.transform(event, limit=limit)

    results = [e["result"] for e in response["records"]]
    assert "ProcessingFailed" in results and results[0] == "Ok"
    first_failed = results.index("ProcessingFailed")
    assert all(r == "ProcessingFailed" for r in results[first_failed:])
    assert len(json.dumps(response)) <= limit
    for entry, record in zip(response["records"][first_failed:], event["records"][first_failed:], strict=True):
        assert entry["data"] == record["data"]
    assert sum("response size limit" in r.getMessage() for r in caplog.records) == 10 - first_failed


def test_a_batch_that_grows_past_the_lambda_limit_fails_its_tail():
    # The transformation adds the absent optional fields as nulls: ~5.3 MB of input grows to ~6.6 MB.
    minimal = {k: v for k, v in GOOD.items() if k not in ("interest_rate", "credit_score")}
    event = invocation(*[{**minimal, "application_id": f"A{i:07d}"} for i in range(20_000)])

    response = fh.handler(event, None)

    results = [e["result"] for e in response["records"]]
    first_failed = results.index("ProcessingFailed")
    assert first_failed > 0 and set(results[first_failed:]) == {"ProcessingFailed"} and len(results) == 20_000
    assert len(json.dumps(response)) <= fh.RESPONSE_LIMIT_BYTES < 6 * 1024 * 1024
