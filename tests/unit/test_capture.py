"""Decoding SageMaker data capture: every encoding gives the same rows; malformed records are counted, never raised."""

from __future__ import annotations

import base64
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loanlake.ml import capture as capture_module
from loanlake.ml.capture import REASONS, WIDTH, parse_capture
from loanlake.ml.features import FEATURES, to_csv

ROWS = [
    [712, 80, 85, 36, 6.125, 250000, 360, None, 2, 1, 0, 0, 2, 0, 1],
    [None, 95, 95, None, 7.5, 98000, 180, 30, 1, 1, 1, 2, 0, 1, 0],
    [801, 60.5, 60.5, 20, 5.0, 1200000, 360, 0, 2, 4, 0, 1, 3, 3, 4],
]


def record(data: str, encoding: str, content_type: str = "text/csv") -> str:
    """One capture line as SageMaker writes it."""
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": content_type,
                    "mode": "INPUT",
                    "data": data,
                    "encoding": encoding,
                },
                "endpointOutput": {
                    "observedContentType": "text/csv",
                    "mode": "OUTPUT",
                    "data": "0.02",
                    "encoding": "CSV",
                },
            },
            "eventMetadata": {"eventId": "e0b7a1c2", "inferenceTime": "2026-01-01T00:00:00Z"},
            "eventVersion": "0",
        }
    )


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def csv_body(rows: list[list]) -> str:
    return "".join(to_csv(row) + "\n" for row in rows)


def expected(rows: list[list]) -> np.ndarray:
    return np.array(rows, dtype=np.float64)


def assert_rows(actual: np.ndarray, rows: list[list]) -> None:
    np.testing.assert_array_equal(actual, expected(rows))  # NaN equals NaN here


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param([record(to_csv(row), "CSV") for row in ROWS], id="csv-one-row-a-record"),
        pytest.param([record(csv_body(ROWS), "CSV")], id="csv-one-body"),
        pytest.param([record(json.dumps(row), "JSON", "application/json") for row in ROWS], id="json-array"),
        pytest.param([record(json.dumps(ROWS), "JSON", "application/json")], id="json-array-of-arrays"),
        pytest.param([record(json.dumps({"instances": ROWS}), "JSON", "application/json")], id="json-instances"),
        pytest.param(
            [record(json.dumps({"instances": [{"features": row} for row in ROWS]}), "JSON", "application/json")],
            id="json-instances-features",
        ),
        pytest.param([record(b64(to_csv(row)), "BASE64") for row in ROWS], id="base64-csv"),
        pytest.param([record(b64(csv_body(ROWS)), "BASE64", "text/csv; charset=utf-8")], id="base64-csv-body"),
        pytest.param([record(b64(json.dumps(ROWS)), "BASE64", "application/json")], id="base64-json"),
        pytest.param(
            [
                record(to_csv(ROWS[0]), "CSV"),
                record(b64(json.dumps({"instances": [ROWS[1]]})), "BASE64", "application/json"),
                record(json.dumps(ROWS[2]), "JSON", "application/json"),
            ],
            id="mixed-in-record-order",
        ),
    ],
)
def test_every_encoding_decodes_to_the_same_rows(lines):
    capture = parse_capture(lines)

    assert_rows(capture.rows, ROWS)
    assert capture.malformed == {}
    assert capture.records == len(lines)


def test_lines_may_come_as_bytes_or_whole_files_with_blank_lines():
    lines = [record(to_csv(row), "CSV") for row in ROWS]
    whole_file = ("\n".join(lines) + "\n\n  \n").encode()

    for source in ([line.encode() for line in lines], [whole_file], [lines[0], "", whole_file.split(b"\n", 1)[1]]):
        capture = parse_capture(source)
        assert_rows(capture.rows, ROWS)
        assert capture.records == 3  # blank lines are not records


def test_csv_details_windows_line_ends_spaces_and_exponents():
    body = "712,80,85,36,6.125,2.5E5,360,,2,1,0,0,2,0,1\r\n 801 , 60.5,60.5,20,5.,1200000,360,0,2,4,0,1,3,3,+4\r\n"

    capture = parse_capture([record(body, "CSV")])

    assert_rows(capture.rows, [ROWS[0], ROWS[2]])


MALFORMED = {
    "not_json": "this is not JSON",
    "no_endpoint_input": json.dumps({"captureData": {"endpointOutput": {}}}),
    "no_data": json.dumps({"captureData": {"endpointInput": {"encoding": "CSV", "data": 42}}}),
    "unknown_encoding": record(to_csv(ROWS[0]), "XML"),
    "bad_base64": record("not base64!", "BASE64"),
    "unknown_content_type": record(b64(to_csv(ROWS[0])), "BASE64", "application/x-parquet"),
    "bad_json_body": record("[712, 80,", "JSON", "application/json"),
    "unsupported_json_shape": record(json.dumps({"rows": ROWS}), "JSON", "application/json"),
    "empty_body": record("\n\n", "CSV"),
    "wrong_field_count": record(to_csv(ROWS[0]) + ",1", "CSV"),
    "non_numeric": record(to_csv(ROWS[0]).replace("712", "seven"), "CSV"),
}


def test_the_reasons_are_the_ones_documented():
    assert set(MALFORMED) == set(REASONS)


@pytest.mark.parametrize("reason", sorted(MALFORMED))
def test_each_malformed_kind_is_counted_under_its_reason_and_the_good_lines_still_count(reason):
    good = [record(to_csv(row), "CSV") for row in ROWS]
    lines = [good[0], MALFORMED[reason], good[1], good[2]]

    capture = parse_capture(lines)

    assert capture.malformed == {reason: 1}
    assert capture.records == 4
    assert capture.malformed_records == 1
    assert_rows(capture.rows, ROWS)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (record(to_csv(ROWS[0]).replace("712", "nan"), "CSV"), "non_numeric"),  # NaN is not "missing"
        (record(to_csv(ROWS[0]).replace("712", "1e400"), "CSV"), "non_numeric"),  # overflows to infinity
        (record(to_csv(ROWS[0]).replace("712", '"712"'), "CSV"), "non_numeric"),  # no CSV quoting
        (record(json.dumps(ROWS[0]).replace("712", "NaN"), "JSON", "application/json"), "non_numeric"),
        (record(json.dumps(ROWS[0]).replace("712", "true"), "JSON", "application/json"), "non_numeric"),
        (record(json.dumps(ROWS[0]).replace("712", '"712"'), "JSON", "application/json"), "non_numeric"),
        (record(json.dumps(ROWS[0]).replace("712", "1" * 400), "JSON", "application/json"), "non_numeric"),
        (record(json.dumps(ROWS[0][:-1]), "JSON", "application/json"), "wrong_field_count"),
        (record(json.dumps([ROWS[0], 5]), "JSON", "application/json"), "unsupported_json_shape"),
        (
            record(json.dumps({"instances": [{"values": ROWS[0]}]}), "JSON", "application/json"),
            "unsupported_json_shape",
        ),
        (record(json.dumps({"instances": []}), "JSON", "application/json"), "empty_body"),
        (record(csv_body(ROWS) + "1,2\n", "CSV"), "wrong_field_count"),  # one bad row skips the whole record
        (record(b64("caf\xe9").replace("=", ""), "BASE64"), "bad_base64"),
        (record(base64.b64encode(b"\xff\xfe").decode(), "BASE64"), "bad_base64"),  # not UTF-8 once decoded
        (record(b64(to_csv(ROWS[0])), "BASE64", ""), "unknown_content_type"),
        ('{"captureData": {"endpointInput": {"data": "\\ud800", "encoding": "CSV"}}}', "not_json"),
        ("[1, 2, 3]", "no_endpoint_input"),
        ("[" * 100_000, "not_json"),
    ],
)
def test_edge_cases_are_skipped_under_their_reason(line, reason):
    capture = parse_capture([line, record(to_csv(ROWS[1]), "CSV")])

    assert capture.malformed == {reason: 1}
    assert_rows(capture.rows, [ROWS[1]])


def test_bad_lines_among_many_good_ones_cost_only_themselves():
    rng = np.random.default_rng(7)
    rows = rng.integers(0, 1000, size=(3000, WIDTH)).astype(float).tolist()
    lines = [record(to_csv(row), "CSV") for row in rows]
    bad = {17: "garbage", 1500: MALFORMED["non_numeric"], 2999: MALFORMED["no_endpoint_input"]}
    for position, line in bad.items():
        lines.insert(position, line)

    capture = parse_capture(lines)

    assert capture.malformed == {"not_json": 1, "non_numeric": 1, "no_endpoint_input": 1}
    assert capture.records == 3003
    assert_rows(capture.rows, rows)


@pytest.mark.parametrize(("chunk_lines", "chunk_bytes"), [(7, 1 << 26), (1000, 2000)])
def test_rows_keep_their_order_across_chunks_and_pieces(monkeypatch, chunk_lines, chunk_bytes):
    monkeypatch.setattr(capture_module, "CHUNK_LINES", chunk_lines)
    monkeypatch.setattr(capture_module, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(capture_module, "PIECE_LINES", 5)
    monkeypatch.setattr(capture_module, "SPLIT", 2)
    monkeypatch.setattr(capture_module, "LINE_BY_LINE", 2)
    rows = [[float(i)] * WIDTH for i in range(100)]
    lines = [record(to_csv(row), "CSV") for row in rows]
    lines[40:40] = ["garbage", ""]
    whole_file = "\n".join(lines[50:])

    capture = parse_capture([*lines[:50], whole_file])

    assert capture.records == 101
    assert capture.malformed == {"not_json": 1}
    assert_rows(capture.rows, rows)


def test_nothing_to_read_gives_an_empty_matrix():
    capture = parse_capture([])
    assert capture.rows.shape == (0, len(FEATURES))
    assert (capture.records, capture.malformed) == (0, {})


lines_of_any_kind = st.lists(
    st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200),
        st.builds(record, st.text(alphabet="0123456789.,-eE \n\r", max_size=80), st.sampled_from(["CSV", "JSON"])),
        st.builds(
            lambda data: record(b64(data), "BASE64", "text/csv"), st.text(alphabet="0123456789.,\n", max_size=80)
        ),
        st.builds(
            lambda value: record(json.dumps(value), "JSON", "application/json"),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                lambda children: st.lists(children, max_size=16) | st.dictionaries(st.text(max_size=9), children),
                max_leaves=40,
            ),
        ),
    ),
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(lines_of_any_kind)
def test_the_parser_never_raises_and_its_counts_add_up(lines):
    capture = parse_capture(lines)

    pieces = [
        piece
        for line in lines
        for piece in (line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line).split(b"\n")
    ]
    assert capture.records == sum(1 for piece in pieces if piece.strip())
    assert capture.malformed_records <= capture.records
    assert set(capture.malformed) <= set(REASONS)
    assert capture.rows.shape[1] == WIDTH
    assert not np.isinf(capture.rows).any()


finite_or_missing = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=64))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(finite_or_missing, min_size=WIDTH, max_size=WIDTH), min_size=1, max_size=8))
def test_rows_survive_every_encoding_exactly(rows):
    body = "".join(",".join("" if value is None else repr(value) for value in row) + "\n" for row in rows)
    lines = [
        record(body, "CSV"),
        record(json.dumps(rows), "JSON", "application/json"),
        record(b64(body), "BASE64", "text/csv"),
        record(b64(json.dumps({"instances": rows})), "BASE64", "application/json"),
    ]

    capture = parse_capture(lines)

    assert capture.malformed == {}
    want = [[math.nan if value is None else value for value in row] for row in rows] * 4
    np.testing.assert_array_equal(capture.rows, np.array(want, dtype=np.float64))
