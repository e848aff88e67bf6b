"""The bad-input corpus, raw lines: each case's line in a raw file, through the real HQL steps on Hive.

The raw lines of bad_input_cases.py are written, in case order, into the files the ingest would land for one
period (legacy origination and performance, Release 47 origination), then every HQL step of the period runs
once on the session's Hive engine (Spark SQL). Each case then finds its line as a quarantine row with its
reason at its line number, or as a kept row, never both and never neither; and per raw table, the period's
quality metrics hold lines read = rows kept + lines quarantined, checked by the processing DAG's own gate.
"""

# ruff: noqa: S608 - the queries are built from this module's constants

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from bad_input_cases import RAW_LINE_CASES, RAW_PERIOD, Case, Kept, Quarantined

from loanlake.config import parse_config
from loanlake.emr.steps import HQL_SCRIPTS
from loanlake.processing import quality

pytestmark = pytest.mark.integration

DB = "bad_input_corpus"
HQL = Path(__file__).resolve().parents[2] / "include" / "hql"
TARGET = {"origination": "acquisition", "performance": "performance"}


@dataclass
class RawLake:
    line_numbers: dict[str, int]  # case id -> its line number in its file
    lines_written: Counter = field(default_factory=Counter)  # raw table -> lines as the engine splits them
    quarantine: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)  # (file, line) -> reason, line
    kept: dict[tuple[str, str], list[dict]] = field(default_factory=dict)  # (target table, loan id) -> rows
    metrics: list[quality.TableMetrics] = field(default_factory=list)


def raw_table(file: str) -> str:
    layout, kind, _ = file.split("/")
    return f"raw_{layout}_{kind}"


def raw_path(root: Path, file: str) -> Path:
    layout, kind, name = file.split("/")
    return root / "raw" / layout / kind / f"period={RAW_PERIOD}" / name


@pytest.fixture(scope="module")
def raw_lake(hive_engine, tmp_path_factory: pytest.TempPathFactory) -> RawLake:
    root = tmp_path_factory.mktemp("bad-input-lake")
    contents: dict[str, bytes] = defaultdict(bytes)
    numbers, written = {}, Counter()
    for case in RAW_LINE_CASES:
        given = case.input
        assert not contents[given.file] or contents[given.file].endswith((b"\n", b"\r")), (
            f"{case.id}: only a file's last line may go without a line end"
        )
        numbers[case.id] = contents[given.file].count(b"\n") + 1
        contents[given.file] += given.line + given.end
        written[raw_table(given.file)] += case.expect.rows if isinstance(case.expect, Quarantined) else 1
    for file, data in contents.items():
        path = raw_path(root, file)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    variables = {
        "DB": DB,
        "RAW_ROOT": (root / "raw").as_uri(),
        "PROCESSED_ROOT": (root / "processed").as_uri(),
        "QUARANTINE_ROOT": (root / "quarantine").as_uri(),
        "QUALITY_ROOT": (root / "quality").as_uri(),
        "PERIOD": RAW_PERIOD,
    }
    hive_engine.sql(f"DROP DATABASE IF EXISTS {DB} CASCADE")
    try:
        for script in HQL_SCRIPTS:  # the period's steps, in the order the processing DAG adds them
            hive_engine.run_script((HQL / script).read_text(), variables, log=lambda line: None)
        state = RawLake(numbers, written)
        for source_file, line_number, line, reason in hive_engine.sql(
            f"SELECT source_file, line_number, line, reason FROM {DB}.quarantine WHERE period = '{RAW_PERIOD}'"
        ):
            key = (source_file.rsplit("/", 1)[-1], line_number)
            assert key not in state.quarantine, f"two quarantine rows for line {key}"
            state.quarantine[key] = (reason, line)
        for table in TARGET.values():
            frame = hive_engine.spark.sql(f"SELECT * FROM {DB}.{table} WHERE source_period = '{RAW_PERIOD}'")
            for row in frame.collect():
                state.kept.setdefault((table, row["loan_seq_no"]), []).append(row.asDict())
        folder = root / "quality" / "quality_metrics" / f"period={RAW_PERIOD}"
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith((".", "_")):
                state.metrics += quality.parse_metrics(RAW_PERIOD, path.as_uri(), path.read_text())
    finally:
        hive_engine.sql(f"DROP DATABASE IF EXISTS {DB} CASCADE")
    return state


@pytest.mark.parametrize("case", RAW_LINE_CASES, ids=[case.id for case in RAW_LINE_CASES])
def test_raw_line_case(case: Case, raw_lake: RawLake) -> None:
    given, expect = case.input, case.expect
    name, kind = given.file.rsplit("/", 1)[-1], given.file.split("/")[1]
    number = raw_lake.line_numbers[case.id]
    kept = raw_lake.kept.get((TARGET[kind], given.loan), []) if given.loan else []

    if isinstance(expect, Quarantined):
        rows = [raw_lake.quarantine.get((name, number + offset)) for offset in range(expect.rows)]
        assert [row and row[0] for row in rows] == [expect.reason] * expect.rows, f"{name} line {number}: {rows}"
        if given.loan:
            assert any(given.loan in row[1] for row in rows), "the quarantine row holds the line as read"
        assert kept == [], "a quarantined line is not loaded too"
    else:
        assert isinstance(expect, Kept)
        assert (name, number) not in raw_lake.quarantine, raw_lake.quarantine.get((name, number))
        assert len(kept) == 1, f"{given.loan}: {len(kept)} rows kept"
        if expect.column:
            assert kept[0][expect.column] == expect.value


def test_every_raw_line_is_kept_or_quarantined_and_the_gate_agrees(raw_lake: RawLake) -> None:
    """Per raw table: lines read = what was written; read = kept + quarantined; the reasons add up to the cases."""
    rows = {row.source_table: row for row in raw_lake.metrics}
    expected_reasons: dict[str, Counter] = defaultdict(Counter)
    for case in RAW_LINE_CASES:
        if isinstance(case.expect, Quarantined):
            key = case.expect.reason.replace(" ", "_")
            expected_reasons[raw_table(case.input.file)][key] += case.expect.rows
    for table, written in raw_lake.lines_written.items():
        counts = rows[table].counts
        assert counts["rows_read"] == written, table
        assert counts["rows_read"] == counts["rows_kept"] + counts["rows_quarantined"], table
        assert +rows[table].reasons == expected_reasons[table], table
    assert quality.check_row_balance(raw_lake.metrics, parse_config({})) == []
    assert len(raw_lake.quarantine) == sum(sum(reasons.values()) for reasons in expected_reasons.values())
