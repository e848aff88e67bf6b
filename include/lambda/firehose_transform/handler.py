"""Firehose data transformation: validate and normalise loan-application events (Lambda ``handler.handler``).

Standard library only. Each record's data is one JSON object (UTF-8, base64 in the event):

==============  ========  =====================================================================
field           required  type and rule
==============  ========  =====================================================================
application_id  yes       string, non-empty after trimming, at most 64 characters
event_type      no        string, trimmed and lower-cased; ``heartbeat`` records are Dropped
event_time      yes       ISO-8601 timestamp with a UTC offset or ``Z``
loan_amount     yes       number > 0
interest_rate   no        number, 0 < rate <= 30 (percent)
credit_score    no        integer 300-850, or null for unknown
ltv             yes       number, 0 < ltv <= 200 (percent)
dti             yes       number, 0 <= dti <= 100 (percent)
state           yes       USPS code of a US state, DC, PR, GU or VI (case-insensitive)
channel         yes       R (retail), B (broker), C (correspondent) or T (TPO not specified)
==============  ========  =====================================================================

A number is a JSON number or a string holding a decimal number (``"250000"``, ``" 6.5 "``); booleans,
NaN and infinities are not numbers. A valid record comes back ``Ok`` as compact JSON with a trailing
newline: the fields above in this order (optional ones null when absent), strings trimmed, state and
channel upper-cased, numbers as JSON numbers (an integral credit score as an integer), ``event_time``
in UTC with ``Z``; fields outside the schema follow unchanged. Anything else (bad base64, not UTF-8,
not JSON, not an object, a duplicate key, a missing or wrongly typed field) comes back
``ProcessingFailed`` with its original data, and one log line names the record and the reason.

The Lambda response must stay under 6 MB (``RESPONSE_LIMIT_BYTES`` keeps a margin below 6 MiB). When
the transformed batch would not fit, the first ``Ok`` record that does not fit and every later one come back
``ProcessingFailed`` ("response size limit") with their original data, room for which is reserved up
front (a batch of originals is smaller than the request, whose Firehose buffer is at most 3 MB);
Firehose writes them to the error prefix instead of failing the batch. Every record id comes back
exactly once, in order, and no input makes the handler raise.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("firehose_transform")
log.setLevel(logging.INFO)

RESPONSE_LIMIT_BYTES = 6_000_000
OK, DROPPED, FAILED = "Ok", "Dropped", "ProcessingFailed"
_STATE_CODES = (
    "AK AL AR AZ CA CO CT DC DE FL GA GU HI IA ID IL IN KS KY LA MA MD ME MI MN MO MS MT NC ND NE NH NJ NM "
    "NV NY OH OK OR PA PR RI SC SD TN TX UT VA VI VT WA WI WV WY"
)
US_STATES = frozenset(_STATE_CODES.split())
CHANNELS = frozenset("RBCT")
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_MAX_NUMBER_TEXT = 40


class InvalidRecord(ValueError):
    """A record that breaks the schema; the message is the reason logged for it."""


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidRecord(f"{name} must be a string, got {type(value).__name__}")
    value = value.strip()
    if not value:
        raise InvalidRecord(f"{name} is empty")
    return value


def _number(value: Any, name: str) -> int | float:
    if isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_NUMBER_TEXT or not _DECIMAL.fullmatch(text):
            raise InvalidRecord(f"{name} {text[:20]!r} is not a number")
        value = int(text) if text.lstrip("+-").isdigit() else float(text)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRecord(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise InvalidRecord(f"{name} must be finite")
    return value


def _bounded(low: float, high: float, *, low_open: bool = False, integer: bool = False) -> Callable[[Any, str], Any]:
    def check(value: Any, name: str) -> int | float:
        number = _number(value, name)
        if integer:
            if number != int(number):
                raise InvalidRecord(f"{name} must be an integer, got {number!r}")
            number = int(number)
        if number < low or (low_open and number == low) or number > high:
            interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
            raise InvalidRecord(f"{name} {number!r} is outside {interval}")
        return number

    return check


def _application_id(value: Any, name: str) -> str:
    value = _text(value, name)
    if len(value) > 64:
        raise InvalidRecord(f"{name} is longer than 64 characters")
    return value


def _event_type(value: Any, name: str) -> str:
    return _text(value, name).lower()


def _event_time(value: Any, name: str) -> str:
    text = _text(value, name)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRecord(f"{name} {text[:40]!r} is not an ISO-8601 timestamp") from None
    if moment.tzinfo is None:
        raise InvalidRecord(f"{name} {text[:40]!r} has no UTC offset")
    try:
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    except OverflowError:
        raise InvalidRecord(f"{name} {text[:40]!r} is out of range in UTC") from None


def _code(allowed: frozenset[str]) -> Callable[[Any, str], str]:
    def check(value: Any, name: str) -> str:
        code = _text(value, name).upper()
        if code not in allowed:
            raise InvalidRecord(f"{name} {code[:10]!r} is not one of {', '.join(sorted(allowed))}")
        return code

    return check


# (field, required, check) in output order; an optional field that is absent or null stays null.
SCHEMA: tuple[tuple[str, bool, Callable[[Any, str], Any]], ...] = (
    ("application_id", True, _application_id),
    ("event_type", False, _event_type),
    ("event_time", True, _event_time),
    ("loan_amount", True, _bounded(0, math.inf, low_open=True)),
    ("interest_rate", False, _bounded(0, 30, low_open=True)),
    ("credit_score", False, _bounded(300, 850, integer=True)),
    ("ltv", True, _bounded(0, 200, low_open=True)),
    ("dti", True, _bounded(0, 100)),
    ("state", True, _code(US_STATES)),
    ("channel", True, _code(CHANNELS)),
)
_SCHEMA_FIELDS = frozenset(name for name, _, _ in SCHEMA)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate key in object")
    return obj


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text[:20]} is out of range")
    return number


def parse(data: Any) -> dict[str, Any]:
    """The JSON object in a record's base64 data; InvalidRecord says why there is none."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidRecord("data is not valid base64") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRecord(f"data is not UTF-8 (byte {exc.start})") from None
    try:
        obj = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constants, parse_float=_finite)
    except RecursionError:
        raise InvalidRecord("data is not valid JSON: nested too deeply") from None
    except ValueError as exc:
        raise InvalidRecord(f"data is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise InvalidRecord(f"data is a JSON {type(obj).__name__}, not an object")
    return obj


def normalise(event: dict[str, Any]) -> dict[str, Any]:
    """The event in its normal form (see the module docstring); InvalidRecord names the first bad field."""
    out: dict[str, Any] = {}
    for name, required, check in SCHEMA:
        value = event.get(name)
        if value is None:
            if required:
                raise InvalidRecord(f"{name} is missing")
            out[name] = None
        else:
            out[name] = check(value, name)
    out.update((key, value) for key, value in event.items() if key not in _SCHEMA_FIELDS)
    return out


def _original(record: Any) -> str:
    data = record.get("data") if isinstance(record, dict) else None
    return data if isinstance(data, str) else ""


def transform_record(record: Any) -> tuple[str, str, str | None]:
    """``(result, data to return, reason when failed)`` for one input record."""
    original = _original(record)
    try:
        event = parse(record.get("data") if isinstance(record, dict) else None)
        kind = event.get("event_type")
        if isinstance(kind, str) and kind.strip().lower() == "heartbeat":
            return DROPPED, original, None
        line = json.dumps(normalise(event), ensure_ascii=False, separators=(",", ":")) + "\n"
        encoded = line.encode("utf-8")
    except InvalidRecord as exc:
        return FAILED, original, str(exc)
    except UnicodeEncodeError:
        return FAILED, original, "data holds a lone surrogate escape (not encodable as UTF-8)"
    return OK, base64.b64encode(encoded).decode("ascii"), None


def _entry_size(record_id: Any, result: str, data: str) -> int:
    return len(json.dumps({"recordId": record_id, "result": result, "data": data})) + 2  # + ", "


def transform(event: Any, limit: int = RESPONSE_LIMIT_BYTES) -> dict[str, list[dict[str, Any]]]:
    """Firehose's response to an invocation event, at most ``limit`` bytes of JSON (see the module docstring)."""
    records = event.get("records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        log.error("event has no records list; nothing to transform")
        return {"records": []}
    ids = [record.get("recordId") if isinstance(record, dict) else None for record in records]
    originals = [_original(record) for record in records]
    reserve = sum(_entry_size(rid, FAILED, original) for rid, original in zip(ids, originals, strict=True))
    size = len(json.dumps({"records": []}))
    out: list[dict[str, Any]] = []
    counts = dict.fromkeys((OK, DROPPED, FAILED), 0)
    full = False
    for record, record_id, original in zip(records, ids, originals, strict=True):
        result, data, reason = transform_record(record)
        reserve -= _entry_size(record_id, FAILED, original)
        full = full or (result == OK and size + _entry_size(record_id, OK, data) + reserve > limit)
        if result == OK and full:
            result, data, reason = FAILED, original, "response size limit"
        if result == FAILED:
            log.warning("record %s ProcessingFailed: %s", record_id, reason)
        size += _entry_size(record_id, result, data)
        counts[result] += 1
        out.append({"recordId": record_id, "result": result, "data": data})
    log.info("transformed %d records: %s", len(out), counts)
    return {"records": out}


def handler(event: Any, context: Any = None) -> dict[str, list[dict[str, Any]]]:
    """The Lambda entry point."""
    return transform(event)
