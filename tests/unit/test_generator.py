"""The synthetic Freddie Mac data generator: layouts, determinism, loan lives, defects, drift, CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import rankdata

import sandbox.generator.loans as generator_loans
from loanlake.freddie_mac.layouts import FIELDS, KINDS, archive_name, detect_layout, member_names
from sandbox.generator import (
    DEFECT_KINDS,
    GeneratedArchive,
    GeneratorSpec,
    origination_records,
    performance_records,
    write_quarter,
    write_sample,
)
from sandbox.generator.cli import main

REPO = Path(__file__).resolve().parents[2]
LOAN_ID = re.compile(r"^F(\d{2})Q([1-4])(\d{7})$")
NUMERIC_FIELDS = {
    "credit_score",
    "mi_pct",
    "num_units",
    "orig_cltv",
    "orig_dti",
    "orig_upb",
    "orig_ltv",
    "orig_interest_rate",
    "orig_loan_term",
    "num_borrowers",
    "current_actual_upb",
    "loan_age",
    "remaining_months_to_maturity",
    "current_interest_rate",
}
DATE_FIELDS = {
    "first_payment_date",
    "maturity_date",
    "monthly_reporting_period",
    "period",
    "ddlpi",
    "zero_balance_effective_date",
}


def member_bytes(archive: GeneratedArchive) -> dict[str, bytes]:
    with zipfile.ZipFile(archive.path) as zipped:
        return {info.name: zipped.read(info.name) for info in archive.members.values()}


def scan_defects(data: bytes, names: tuple[str, ...]) -> dict[str, list[int]]:
    """Every defect found in a member by reading it back, by kind, as 1-based line numbers."""
    found: dict[str, list[int]] = {kind: [] for kind in DEFECT_KINDS}
    if data.startswith(b"\xef\xbb\xbf"):
        found["utf8_bom"].append(1)
    lines = data.decode("utf-8").split("\n")
    assert lines.pop() == "", "a member ends with a newline"
    for number, line in enumerate(lines, 1):
        if line == "":
            found["empty_line"].append(number)
            continue
        if line.endswith("\r"):
            found["crlf_endings"].append(number)
        values = line.rstrip("\r").lstrip("\ufeff").split("|")
        if len(values) != len(names):
            found["wrong_field_count"].append(number)
            continue
        record = dict(zip(names, values, strict=True))
        if any(value != value.rstrip(" ") for value in values):
            found["trailing_spaces"].append(number)
        if any(re.search(r"[A-Za-z]", record[name]) for name in NUMERIC_FIELDS & record.keys()):
            found["non_numeric_number"].append(number)
        if any(record[name] and not 1 <= int(record[name][4:]) <= 12 for name in DATE_FIELDS & record.keys()):
            found["impossible_date"].append(number)
    return found


def records_by_loan(records: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    loans: dict[str, list[dict[str, str]]] = defaultdict(list)
    for record in records:
        loans[record["loan_seq_no"]].append(record)
    return loans


def next_month(yyyymm: str) -> str:
    year, month = int(yyyymm[:4]), int(yyyymm[4:])
    return f"{year + month // 12}{month % 12 + 1:02d}"


def ever_90_within_24(records: list[dict[str, str]]) -> int:
    """The ML label: 90+ days delinquent, REO acquisition or a liquidation code within 24 months."""
    for record in records:
        status = record["current_delinquency_status"]
        if int(record["loan_age"]) <= 24 and (
            status == "RA"
            or (status.isdigit() and int(status) >= 3)
            or record["zero_balance_code"] in {"02", "03", "09"}
        ):
            return 1
    return 0


def labelled_loans(spec: GeneratorSpec) -> tuple[np.ndarray, np.ndarray]:
    """Credit score, LTV, DTI of loans with all three known, and their 24-month default label."""
    histories = records_by_loan(list(performance_records("quarterly", "2017Q1", spec)))
    features, labels = [], []
    for loan in origination_records("quarterly", "2017Q1", spec):
        row = [int(loan["credit_score"]), int(loan["orig_ltv"]), int(loan["orig_dti"])]
        if row[0] != 9999 and row[1] != 999 and row[2] != 999:
            features.append(row)
            labels.append(ever_90_within_24(histories[loan["loan_seq_no"]]))
    return np.array(features), np.array(labels)


def rank_auc(score: np.ndarray, label: np.ndarray) -> float:
    ranks = rankdata(score)
    positives, negatives = label.sum(), len(label) - label.sum()
    return float((ranks[label == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


@pytest.fixture(scope="module")
def defective(tmp_path_factory: pytest.TempPathFactory) -> list[GeneratedArchive]:
    """Both layouts, quarterly and sample, with many defects."""
    out = tmp_path_factory.mktemp("defective")
    archives = []
    for layout in ("legacy", "r47"):
        spec = GeneratorSpec(seed=3, loans=300, layout=layout, defect_rate=0.02)
        archives.append(write_quarter(out / layout, "2017Q1", spec))
        archives.append(write_sample(out / layout, 2016, spec))
    return archives


def test_every_undamaged_line_has_the_layout_field_count(defective: list[GeneratedArchive]) -> None:
    for archive in defective:
        for info, data in zip(archive.members.values(), member_bytes(archive).values(), strict=True):
            expected = len(FIELDS[(archive.layout, info.kind)])
            damaged = set(archive.defects[info.name]["wrong_field_count"])
            for number, line in enumerate(data.decode().split("\n")[:-1], 1):
                if line:
                    count = line.count("|") + 1
                    assert count == expected if number not in damaged else abs(count - expected) == 1, (
                        info.name,
                        number,
                    )


def test_sidecar_lists_exactly_the_defects_in_the_files(defective: list[GeneratedArchive]) -> None:
    for archive in defective:
        sidecar = json.loads(archive.sidecar.read_text())
        assert archive.sidecar.name == archive.path.name + ".defects.json"
        for info, data in zip(archive.members.values(), member_bytes(archive).values(), strict=True):
            found = scan_defects(data, FIELDS[(archive.layout, info.kind)])
            listed = sidecar["members"][info.name]
            assert {kind: entry["lines"] for kind, entry in listed["defects"].items()} == found
            assert {kind: entry["count"] for kind, entry in listed["defects"].items()} == {
                kind: len(lines) for kind, lines in found.items()
            }
            assert archive.defects[info.name] == found
            assert (
                (listed["records"], listed["lines"])
                == (info.records, info.lines)
                == (
                    sum(1 for line in data.split(b"\n")[:-1] if line),
                    data.count(b"\n"),
                )
            )
            assert listed["bytes"] == info.bytes == len(data)
    found_kinds = {
        kind for archive in defective for member in archive.defects.values() for kind, at in member.items() if at
    }
    assert found_kinds >= set(DEFECT_KINDS) - {"utf8_bom"}


def test_defect_line_numbers_hold_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generator_loans, "CHUNK_LOANS", 7)
    spec = GeneratorSpec(loans=60, layout="r47", defect_rate=0.2)
    archive = write_quarter(tmp_path, "2017Q1", spec)
    for info, data in zip(archive.members.values(), member_bytes(archive).values(), strict=True):
        assert archive.defects[info.name] == scan_defects(data, FIELDS[("r47", info.kind)])
    ids = [record["loan_seq_no"] for record in origination_records("quarterly", "2017Q1", spec)]
    assert ids == [f"F17Q1{number:07d}" for number in range(1, 61)]


def test_a_bom_only_ever_opens_a_file(tmp_path: Path) -> None:
    spec = GeneratorSpec(loans=40, defect_rate=1.0, defects=("utf8_bom", "crlf_endings"))
    archive = write_quarter(tmp_path, "2017Q1", spec)
    for name, data in member_bytes(archive).items():
        assert data.count(b"\xef\xbb\xbf") == len(archive.defects[name]["utf8_bom"]) <= 1
        assert archive.defects[name]["utf8_bom"] in ([], [1])


def test_undamaged_lines_are_the_clean_records(defective: list[GeneratedArchive]) -> None:
    archive = defective[0]
    spec = GeneratorSpec(seed=3, loans=300, layout=archive.layout, defect_rate=0.02)
    clean = ["|".join(record.values()) for record in origination_records("quarterly", archive.period, spec)]
    info = archive.members["origination"]
    lines = member_bytes(archive)[info.name].decode().split("\n")[:-1]
    damaged = {number for numbers in archive.defects[info.name].values() for number in numbers}
    records = [(number, line) for number, line in enumerate(lines, 1) if line]
    assert len(records) == len(clean)
    for (number, line), expected in zip(records, clean, strict=True):
        assert number in damaged or line == expected


def test_detect_layout_recognises_generated_files(defective: list[GeneratedArchive]) -> None:
    for archive in defective:
        for info, data in zip(archive.members.values(), member_bytes(archive).values(), strict=True):
            assert detect_layout(info.kind, data[:65536], info.name) == archive.layout


def test_same_spec_same_bytes_and_other_seeds_or_periods_differ(tmp_path: Path) -> None:
    spec = GeneratorSpec(loans=120, defect_rate=0.05)
    first = write_quarter(tmp_path / "a", "2017Q1", spec)
    again = write_quarter(tmp_path / "b", "2017Q1", spec)
    assert first.path.read_bytes() == again.path.read_bytes()
    assert first.sidecar.read_text() == again.sidecar.read_text()
    reseeded = write_quarter(tmp_path / "c", "2017Q1", GeneratorSpec(seed=8, loans=120, defect_rate=0.05))
    assert reseeded.members["origination"].sha256 != first.members["origination"].sha256
    scores = {
        period: [record["credit_score"] for record in origination_records("quarterly", period, GeneratorSpec(loans=50))]
        for period in ("2017Q1", "2017Q2")
    }
    assert scores["2017Q1"] != scores["2017Q2"]


def test_defects_leave_the_clean_data_alone(tmp_path: Path) -> None:
    clean = write_quarter(tmp_path / "clean", "2017Q1", GeneratorSpec(loans=80))
    damaged = write_quarter(tmp_path / "damaged", "2017Q1", GeneratorSpec(loans=80, defect_rate=0.1))
    assert clean.members["origination"].records == damaged.members["origination"].records
    assert clean.members["performance"].records == damaged.members["performance"].records
    assert all(not lines for member in clean.defects.values() for lines in member.values())


def test_archive_and_member_names_follow_layouts(tmp_path: Path) -> None:
    for layout, old_naming in (("legacy", False), ("legacy", True), ("r47", False)):
        spec = GeneratorSpec(loans=10, layout=layout)
        archive = write_quarter(tmp_path, "2016Q3", spec, old_naming=old_naming)
        assert archive.path.name == archive_name("quarterly", "2016Q3", old_naming=old_naming)
        expected = member_names("quarterly", "2016Q3", layout, old_naming=old_naming)
        assert {kind: info.name for kind, info in archive.members.items()} == expected
        with zipfile.ZipFile(archive.path) as zipped:
            assert zipped.namelist() == [expected[kind] for kind in KINDS]
            assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in zipped.infolist())
    sample = write_sample(tmp_path, 2017, GeneratorSpec(loans=10, layout="r47"))
    assert sample.path.name == "sample_2017.zip"
    assert {info.name for info in sample.members.values()} == {"sample_orig_2017.txt", "sample_perf_2017.txt"}


def test_loan_ids_have_the_real_format_and_never_repeat_across_files() -> None:
    spec = GeneratorSpec(loans=300)
    seen: set[str] = set()
    for dataset, period in (
        ("quarterly", "2017Q1"),
        ("quarterly", "2017Q2"),
        ("quarterly", "2018Q1"),
        ("sample", "2017"),
    ):
        ids = [record["loan_seq_no"] for record in origination_records(dataset, period, spec)]
        matches = [LOAN_ID.match(loan_id) for loan_id in ids]
        assert all(matches)
        assert {match[1] for match in matches} == {period[2:4]}
        quarters = {match[2] for match in matches}
        assert quarters == ({"1", "2", "3", "4"} if dataset == "sample" else {period[-1]})
        assert len(set(ids)) == len(ids) and not seen & set(ids)
        seen |= set(ids)


def test_origination_dates_and_values_are_plausible() -> None:
    records = list(origination_records("quarterly", "2017Q1", GeneratorSpec(loans=2000)))
    for record in records:
        first, maturity, term = record["first_payment_date"], record["maturity_date"], int(record["orig_loan_term"])
        assert first in {"201704", "201705", "201706"}
        months = (int(maturity[:4]) - int(first[:4])) * 12 + int(maturity[4:]) - int(first[4:])
        assert months == term - 1
        assert re.fullmatch(r"\d{3}00", record["postal_code"])
        ltv, mi = int(record["orig_ltv"]), int(record["mi_pct"])
        assert (mi == 0) if ltv <= 80 else (6 <= mi <= 35 or mi == 999 or ltv == 999)
    scores = np.array([int(record["credit_score"]) for record in records])
    known = scores[scores != 9999]
    assert 720 < known.mean() < 765 and known.min() >= 300 and known.max() <= 850
    assert {record["orig_loan_term"] for record in records} >= {"360", "180"}
    assert np.mean([record["orig_loan_term"] == "360" for record in records]) > 0.75
    assert 3.0 < np.mean([float(record["orig_interest_rate"]) for record in records]) < 5.5


@pytest.mark.parametrize("layout", ["legacy", "r47"])
def test_performance_histories_are_consistent(layout: str) -> None:
    spec = GeneratorSpec(loans=400, layout=layout, as_of="202406")
    origination = {record["loan_seq_no"]: record for record in origination_records("quarterly", "2017Q1", spec)}
    histories = records_by_loan(list(performance_records("quarterly", "2017Q1", spec)))
    period_field = FIELDS[(layout, "performance")][1]
    assert set(histories) == set(origination)
    codes = set()
    for loan_id, rows in histories.items():
        loan = origination[loan_id]
        assert rows[0][period_field] == loan["first_payment_date"]
        for number, (row, following) in enumerate(zip(rows, [*rows[1:], None], strict=True), 1):
            assert int(row["loan_age"]) == number
            assert int(row["remaining_months_to_maturity"]) == int(loan["orig_loan_term"]) - number
            assert row["current_interest_rate"] == loan["orig_interest_rate"]
            if following:
                assert following[period_field] == next_month(row[period_field])
                assert float(following["current_actual_upb"]) <= float(row["current_actual_upb"])
                assert row["zero_balance_code"] == ""
        last = rows[-1]
        assert last["zero_balance_code"] in {"01", "03", "09"} or last[period_field] == spec.as_of
        if last["zero_balance_code"]:
            assert float(last["current_actual_upb"]) == 0 and float(last["zero_balance_removal_upb"]) > 0
            codes.add(last["zero_balance_code"])
        if last["zero_balance_code"] == "09":
            assert last["current_delinquency_status"] == "RA"
        if last["zero_balance_code"] in {"03", "09"}:
            assert int(rows[-2]["current_delinquency_status"]) >= 3
        for status in {row["current_delinquency_status"] for row in rows} - {"RA", "XX"}:
            assert status == (str(int(status)) if layout == "legacy" else f"{int(status):02d}")
    assert codes == {"01", "03", "09"}


@pytest.mark.parametrize("layout", ["legacy", "r47"])
def test_liquidation_amounts_follow_the_layout_sign_convention(layout: str) -> None:
    spec = GeneratorSpec(loans=600, layout=layout, vintage_shift=1.0)
    sign = 1 if layout == "legacy" else -1
    expense_field = "expenses" if layout == "legacy" else "total_expenses"
    liquidations = [
        r for r in performance_records("quarterly", "2017Q1", spec) if r["zero_balance_code"] in {"03", "09"}
    ]
    assert liquidations
    for row in liquidations:
        amount = {name: float(row[name]) for name in ("net_sales_proceeds", "mi_recoveries", "non_mi_recoveries")}
        expenses, loss = float(row[expense_field]), float(row["actual_loss"])
        assert sign * expenses <= 0 and sign * amount["mi_recoveries"] >= 0 and sign * amount["non_mi_recoveries"] >= 0
        removed, interest = float(row["zero_balance_removal_upb"]), float(row["delinquent_accrued_interest"])
        legacy_loss = (
            amount["net_sales_proceeds"]
            + sign * (amount["mi_recoveries"] + amount["non_mi_recoveries"] + expenses)
            - removed
            - interest
        )
        assert sign * loss == pytest.approx(legacy_loss, abs=0.011)


@pytest.fixture(scope="module")
def baseline_and_shifted() -> dict[float, tuple[np.ndarray, np.ndarray]]:
    return {shift: labelled_loans(GeneratorSpec(seed=11, loans=3000, vintage_shift=shift)) for shift in (0.0, 1.0)}


def test_vintage_shift_raises_the_default_rate(baseline_and_shifted: dict) -> None:
    baseline = baseline_and_shifted[0.0][1].mean()
    shifted = baseline_and_shifted[1.0][1].mean()
    assert 0.02 <= baseline <= 0.07
    assert 0.10 <= shifted <= 0.22
    baseline_scores = baseline_and_shifted[0.0][0][:, 0]
    assert baseline_and_shifted[1.0][0][:, 0].mean() < baseline_scores.mean() - 25


def test_default_label_has_signal_in_score_ltv_and_dti(baseline_and_shifted: dict) -> None:
    features, labels = baseline_and_shifted[0.0]
    score = -features[:, 0] + features[:, 1] + features[:, 2]
    assert 0.65 <= rank_auc(score, labels) <= 0.90


def test_spec_rejects_bad_settings() -> None:
    for bad in ({"layout": "r46"}, {"as_of": "202513"}, {"loans": 0}, {"defect_rate": 1.5}, {"defects": ("typo",)}):
        with pytest.raises(ValueError):
            GeneratorSpec(**bad)
    with pytest.raises(ValueError, match="YYYYQn"):
        write_quarter(Path("unused"), "2017-1", GeneratorSpec())


def test_cli_writes_the_files_it_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--out", str(tmp_path), "--quarters", "2017Q1", "2017Q2", "--sample-years", "2017", "--loans", "30"]
    assert main([*argv, "--layout", "r47", "--defect-rate", "0.05", "--seed", "5", "--as-of", "202312"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3
    for line in printed:
        name = line.split(":")[0]
        path = tmp_path / name
        with zipfile.ZipFile(path) as zipped:
            for member in zipped.namelist():
                records = sum(1 for text in zipped.read(member).split(b"\n") if text.strip())
                assert f"{member} {records} records" in line
        assert line.endswith(f"{path.stat().st_size} bytes")
        assert (tmp_path / f"{name}.defects.json").exists()
    assert sorted(p.name for p in tmp_path.glob("*.zip")) == [
        "historical_data_2017Q1.zip",
        "historical_data_2017Q2.zip",
        "sample_2017.zip",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--quarters", "2017Q5"], "YYYYQn"),
        (["--sample-years", "17"], "2017"),
        (["--quarters", "2017Q1", "--as-of", "2025-12"], "YYYYMM"),
        ([], "nothing to write"),
    ],
)
def test_cli_rejects_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list, message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path), *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_module_runs_as_a_program(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)])}
    done = subprocess.run(
        [sys.executable, "-m", "sandbox.generator", "--out", str(tmp_path), "--sample-years", "2016", "--loans", "5"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert done.stdout.startswith("sample_2016.zip: sample_orig_2016.txt 5 records")
    assert (tmp_path / "sample_2016.zip").exists()
