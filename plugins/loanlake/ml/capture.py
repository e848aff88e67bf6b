"""SageMaker data capture: the model inputs the endpoint received, as a matrix of features.

Data capture writes JSON Lines, one record per request; the drift monitor reads ``captureData.endpointInput``:
``{"observedContentType": ..., "mode": "INPUT", "data": ..., "encoding": ...}``, where the encoding is

- ``CSV``: data is the CSV body, one row per line;
- ``JSON``: data is the JSON text of the body: an array of numbers and nulls (one row), an array of such arrays,
  or ``{"instances": [...]}`` whose items are arrays or ``{"features": [...]}`` objects;
- ``BASE64``: data is the body in base64, read as CSV or JSON by its ``observedContentType`` (``text/csv``,
  ``application/json``).

A row holds one value per feature of ``FEATURES``, in order, without the label; an empty CSV field or a JSON null
is a missing value (NaN). A malformed record is skipped whole and counted under one of ``REASONS``; nothing raises
for bad input. Blank lines are not records.

For a million rows the bulk work runs in Arrow: pyarrow.json reads thousands of lines at once (a piece holding a
line it rejects is read again in smaller pieces, down to a few lines read with json), and CSV bodies are split,
checked and converted by Arrow kernels (pyarrow.csv, or value by value where a value is not a number). JSON and
base64 bodies are decoded record by record.
"""

from __future__ import annotations

import base64
import io
import json
import math
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from loanlake.ml.features import FEATURES

REASONS = (
    "not_json",  # the line is not a JSON document
    "no_endpoint_input",  # no captureData.endpointInput object
    "no_data",  # endpointInput without a string "data"
    "unknown_encoding",  # encoding is not CSV, JSON or BASE64
    "bad_base64",  # BASE64 data that is not base64 of UTF-8 text
    "unknown_content_type",  # BASE64 data whose observedContentType is neither CSV nor JSON
    "bad_json_body",  # a JSON body that does not parse
    "unsupported_json_shape",  # a JSON body that is not one of the accepted shapes
    "empty_body",  # a body without any row
    "wrong_field_count",  # a row without exactly one value per feature
    "non_numeric",  # a value that is neither a finite number nor missing
)
WIDTH = len(FEATURES)
CHUNK_LINES = 65_536  # lines read at a time, or fewer once they hold CHUNK_BYTES
CHUNK_BYTES = 1 << 26
PIECE_LINES = 4096  # lines pyarrow.json reads at a time: a rejected piece costs its lines a second reading
SPLIT = 16
LINE_BY_LINE = 64
BLOCK_BYTES = 1 << 22  # pyarrow.json block; a longer line makes its piece be read line by line
NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"  # what a CSV value may be (the cast takes it)
CSV_TYPE, JSON_TYPE = "text/csv", "application/json"

_OK = 0
_CODE = {reason: code for code, reason in enumerate(REASONS, 1)}
_INPUT_FIELDS = ("observedContentType", "encoding", "data")
_SCHEMA = pa.schema(
    [("captureData", pa.struct([("endpointInput", pa.struct([(name, pa.string()) for name in _INPUT_FIELDS]))]))]
)
_PARSE = pa_json.ParseOptions(explicit_schema=_SCHEMA, unexpected_field_behavior="ignore")
_READ = pa_json.ReadOptions(block_size=BLOCK_BYTES)
_CSV_COLUMNS = [f"f{i}" for i in range(WIDTH)]
_CSV = {
    "read_options": pa_csv.ReadOptions(column_names=_CSV_COLUMNS),
    "parse_options": pa_csv.ParseOptions(quote_char=False),
    "convert_options": pa_csv.ConvertOptions(column_types=dict.fromkeys(_CSV_COLUMNS, pa.float64()), null_values=[""]),
}


@dataclass(frozen=True)
class Capture:
    """The rows decoded from captured records, and what was skipped."""

    rows: np.ndarray  # (rows, len(FEATURES)) float64, NaN where missing, in record order
    records: int  # records read (non-blank lines)
    malformed: dict[str, int]  # records skipped, by reason (reasons seen only)

    @property
    def malformed_records(self) -> int:
        return sum(self.malformed.values())


def parse_capture(lines: Iterable[bytes | str]) -> Capture:
    """The rows of capture records; each item is a line or several (e.g. the body of a whole capture file)."""
    matrices, counts, records = [], np.zeros(len(REASONS) + 1, dtype=np.int64), 0
    for chunk in _chunks(lines):
        inputs = _read_records(chunk, PIECE_LINES)
        matrices.append(_decode(inputs))
        counts += np.bincount(inputs.reason, minlength=len(counts))
        records += len(chunk)
    return Capture(
        np.concatenate(matrices) if matrices else np.empty((0, WIDTH)),
        records,
        {reason: int(counts[code]) for reason, code in _CODE.items() if counts[code]},
    )


def _chunks(lines: Iterable[bytes | str]) -> Iterator[list[bytes]]:
    """The non-blank lines, CHUNK_LINES at a time, or fewer once they hold CHUNK_BYTES (a bigger item stays whole)."""
    chunk: list[bytes] = []
    size = 0
    for item in lines:
        text = item.encode("utf-8", "surrogatepass") if isinstance(item, str) else item
        chunk += [line for line in text.split(b"\n") if line and not line.isspace()]
        size += len(text)
        while len(chunk) >= CHUNK_LINES:
            yield chunk[:CHUNK_LINES]
            chunk = chunk[CHUNK_LINES:]
            size = 0
        if size >= CHUNK_BYTES and chunk:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


@dataclass
class _Inputs:
    """The endpoint inputs of a chunk's records (strings, null where absent) and each record's reason code."""

    content_type: pa.Array
    encoding: pa.Array
    data: pa.Array
    reason: np.ndarray  # int8, _OK while the record counts


def _read_records(lines: list[bytes], piece: int) -> _Inputs:
    """The lines read ``piece`` at a time; a piece pyarrow.json rejects is read again in SPLIT pieces, and so on
    down to LINE_BY_LINE lines, read line by line."""
    parts = []
    for start in range(0, len(lines), piece):
        part = lines[start : start + piece]
        inputs = _read_bulk(part)
        if inputs is None:
            smaller = -(-len(part) // SPLIT)
            inputs = _read_line_by_line(part) if len(part) <= LINE_BY_LINE else _read_records(part, smaller)
        parts.append(inputs)
    if len(parts) == 1:
        return parts[0]
    return _Inputs(
        *(pa.concat_arrays([getattr(part, name) for part in parts]) for name in ("content_type", "encoding", "data")),
        np.concatenate([part.reason for part in parts]),
    )


def _read_bulk(lines: list[bytes]) -> _Inputs | None:
    """The lines read by pyarrow.json; None if it rejects one (or reads a line as more than one record)."""
    try:
        table = pa_json.read_json(io.BytesIO(b"\n".join(lines)), read_options=_READ, parse_options=_PARSE)
        if table.num_rows != len(lines):
            return None
        endpoint_input = pc.struct_field(table.column("captureData"), "endpointInput").combine_chunks()
        content_type, encoding, data = (pc.struct_field(endpoint_input, name) for name in _INPUT_FIELDS)
        for strings in (content_type, encoding, data):
            strings.validate(full=True)  # pyarrow.json does not check UTF-8
    except pa.ArrowInvalid:
        return None
    reason = np.where(
        endpoint_input.is_null().to_numpy(zero_copy_only=False),
        _CODE["no_endpoint_input"],
        np.where(data.is_null().to_numpy(zero_copy_only=False), _CODE["no_data"], _OK),
    ).astype(np.int8)
    return _Inputs(content_type, encoding, data, reason)


def _read_line_by_line(lines: list[bytes]) -> _Inputs:
    fields: list[tuple[str | None, ...]] = []
    reasons = []
    for line in lines:
        values, reason = _endpoint_input(line)
        fields.append(values)
        reasons.append(reason)
    columns = [pa.array(column, type=pa.string()) for column in zip(*fields, strict=True)]
    return _Inputs(*columns, np.array(reasons, dtype=np.int8))


def _endpoint_input(line: bytes) -> tuple[tuple[str | None, ...], int]:
    """(observedContentType, encoding, data) of one record, non-strings as None, and its reason code."""
    absent = (None,) * len(_INPUT_FIELDS)
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return absent, _CODE["not_json"]
    capture = record.get("captureData") if isinstance(record, dict) else None
    endpoint_input = capture.get("endpointInput") if isinstance(capture, dict) else None
    if not isinstance(endpoint_input, dict):
        return absent, _CODE["no_endpoint_input"]
    values = tuple(value if isinstance(value := endpoint_input.get(name), str) else None for name in _INPUT_FIELDS)
    try:
        "".join(filter(None, values)).encode()
    except UnicodeEncodeError:  # a lone surrogate escape: JSON syntax, but not text
        return absent, _CODE["not_json"]
    return values, _CODE["no_data"] if values[2] is None else _OK


def _decode(inputs: _Inputs) -> np.ndarray:
    """The rows of a chunk's records in record order; flags the records it skips in ``inputs.reason``."""
    reason = inputs.reason
    encoding = pc.utf8_upper(inputs.encoding)
    counting = reason == _OK
    is_csv, is_json, is_base64 = (
        pc.fill_null(pc.equal(encoding, name), False).to_numpy(zero_copy_only=False) & counting
        for name in ("CSV", "JSON", "BASE64")
    )
    reason[counting & ~(is_csv | is_json | is_base64)] = _CODE["unknown_encoding"]
    csv_bodies = [pc.filter(inputs.data, is_csv)]
    csv_records = [np.flatnonzero(is_csv)]
    json_bodies = list(zip(np.flatnonzero(is_json), pc.filter(inputs.data, is_json).to_pylist(), strict=True))
    decoded_csv: list[tuple[int, str]] = []
    base64_inputs = zip(
        np.flatnonzero(is_base64),
        pc.filter(inputs.content_type, is_base64).to_pylist(),
        pc.filter(inputs.data, is_base64).to_pylist(),
        strict=True,
    )
    for record, content_type, data in base64_inputs:
        media_type = (content_type or "").split(";")[0].strip().lower()
        if media_type not in (CSV_TYPE, JSON_TYPE):
            reason[record] = _CODE["unknown_content_type"]
            continue
        try:
            body = base64.b64decode(data, validate=True).decode()
        except ValueError:  # not base64 (binascii.Error), not ASCII, or not UTF-8 once decoded
            reason[record] = _CODE["bad_base64"]
            continue
        (decoded_csv if media_type == CSV_TYPE else json_bodies).append((record, body))
    if decoded_csv:
        csv_records.append(np.array([record for record, _ in decoded_csv], dtype=np.int64))
        csv_bodies.append(pa.array([body for _, body in decoded_csv], type=pa.string()))
    csv_rows, csv_row_records = _csv_rows(pa.concat_arrays(csv_bodies), np.concatenate(csv_records), reason)
    json_rows, json_row_records = _json_rows(json_bodies, reason)
    rows, row_records = np.concatenate([csv_rows, json_rows]), np.concatenate([csv_row_records, json_row_records])
    keep = reason[row_records] == _OK
    return rows[keep][np.argsort(row_records[keep], kind="stable")]


def _csv_rows(bodies: pa.Array, records: np.ndarray, reason: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every row of the CSV bodies and its record; flags the records of bad bodies in ``reason``."""
    lines = pc.split_pattern(bodies, "\n")
    line_body = pc.list_parent_indices(lines).to_numpy()
    text = pc.utf8_trim_whitespace(pc.list_flatten(lines))
    filled = pc.greater(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False)
    reason[records[np.bincount(line_body[filled], minlength=len(records)) == 0]] = _CODE["empty_body"]
    text, line_record = pc.filter(text, filled), records[line_body[filled]]
    whole = pc.count_substring(text, ",").to_numpy() == WIDTH - 1
    reason[line_record[~whole]] = _CODE["wrong_field_count"]
    text, line_record = pc.filter(text, whole), line_record[whole]
    try:
        rows, bad = _csv_values_in_bulk(text)
    except pa.ArrowInvalid:  # some value is not a number: find the rows value by value
        rows, bad = _csv_values_one_by_one(text)
    reason[line_record[bad]] = _CODE["non_numeric"]
    return rows, line_record


def _csv_values_in_bulk(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The rows' values read by pyarrow.csv, and which rows hold NaN or infinity; raises if a value is not a number."""
    one_list = pa.ListArray.from_arrays(pa.array([0, len(text)], pa.int32()), text)
    table = pa_csv.read_csv(pa.BufferReader(pc.binary_join(one_list, "\n")[0].as_buffer()), **_CSV)
    bad = np.zeros(len(text), dtype=bool)
    for column in table.columns:
        bad |= pc.fill_null(pc.or_(pc.is_nan(column), pc.is_inf(column)), False).to_numpy()
    return np.column_stack([column.to_numpy() for column in table.columns]).reshape(-1, WIDTH), bad


def _csv_values_one_by_one(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The rows' values, each checked against ``NUMBER``, and which rows hold one that is not a finite number."""
    fields = pc.utf8_trim_whitespace(pc.list_flatten(pc.split_pattern(text, ",")))
    numeric = pc.match_substring_regex(fields, NUMBER).to_numpy(zero_copy_only=False)
    present = pc.greater(pc.utf8_length(fields), 0).to_numpy(zero_copy_only=False)
    values = pc.cast(pc.if_else(numeric, fields, pa.scalar(None, pa.string())), pa.float64())
    rows = values.to_numpy(zero_copy_only=False).reshape(-1, WIDTH)
    return rows, (present & ~numeric).reshape(-1, WIDTH).any(axis=1) | np.isinf(rows).any(axis=1)


def _json_rows(bodies: list[tuple[int, str]], reason: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every row of the JSON bodies and its record; flags the records of bad bodies in ``reason``."""
    rows: list[list[float | None]] = []
    row_records: list[int] = []
    for record, text in bodies:
        body_rows = _json_body_rows(text)
        if isinstance(body_rows, int):
            reason[record] = body_rows
        else:
            rows += body_rows
            row_records += [record] * len(body_rows)
    return np.array(rows, dtype=np.float64).reshape(-1, WIDTH), np.array(row_records, dtype=np.int64)


def _json_body_rows(text: str) -> list[list[float | None]] | int:
    """The rows of one JSON body, or the reason code it is skipped for."""
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        return _CODE["bad_json_body"]
    if isinstance(body, dict) and isinstance(body.get("instances"), list):
        rows = [item.get("features") if isinstance(item, dict) else item for item in body["instances"]]
    elif isinstance(body, list) and any(isinstance(item, list) for item in body):
        rows = body
    elif isinstance(body, list):
        rows = [body] if body else []
    else:
        return _CODE["unsupported_json_shape"]
    if not rows:
        return _CODE["empty_body"]
    if not all(isinstance(row, list) for row in rows):
        return _CODE["unsupported_json_shape"]
    if any(len(row) != WIDTH for row in rows):
        return _CODE["wrong_field_count"]
    if not all(_json_number(value) for row in rows for value in row):
        return _CODE["non_numeric"]
    return rows


def _json_number(value: object) -> bool:
    """A JSON null, or a finite number a float holds (not a boolean)."""
    if value is None:
        return True
    if type(value) is float:
        return math.isfinite(value)
    return type(value) is int and abs(value) <= sys.float_info.max
