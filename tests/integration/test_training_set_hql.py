"""training_set.hql and training_baseline.hql on the sandbox's Hive engine.

Two worlds: generated files of two quarters (2017Q1 legacy, 2017Q2 Release 47) run through the processing
scripts as test_hql.py runs them, then the training scripts three times (a run, its rerun, a second run
elsewhere); and a hand-written set of processed rows, one loan per case of the label rule.
"""

# ruff: noqa: S608 - the queries are built from this module's constants

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest
from hql_lake import HQL, Lake, data_files, extract, run_period

from loanlake.freddie_mac.layouts import DELIMITER, fields
from loanlake.ml.features import FEATURE_NAMES, FEATURES, LABEL, WINDOW_MONTHS, feature_row, to_csv
from sandbox.generator import GeneratorSpec, write_quarter
from sandbox.generator.spec import month_index
from sandbox.hive import HiveEngine, HiveScriptError, split_statements

pytestmark = pytest.mark.integration

TRAINING_SCRIPTS = ("training_set.hql", "training_baseline.hql")
AS_OF = "2019-06-01"
TRAIN_PERCENT = 80
SPECS = {  # generated up to AS_OF: 2017Q1 loans are seen for their whole window, most 2017Q2 ones are not
    "2017Q1": GeneratorSpec(seed=21, loans=300, layout="legacy", as_of="201906"),
    "2017Q2": GeneratorSpec(seed=22, loans=300, layout="r47", as_of="201906"),
}
GENERATED_DB = "training_generated"
MINI_DB = "training_mini"
EXAMPLE_COLUMNS = ("loan_seq_no", "source_period", "split", "outcome", LABEL, *FEATURE_NAMES)
NUMERIC = tuple(feature.name for feature in FEATURES if not feature.categorical)
CATEGORICAL = tuple(feature.name for feature in FEATURES if feature.categorical)


@dataclass
class TrainingRun:
    """What one run of the training scripts left: its files, examples and CSV lines."""

    root: Path
    files: dict[str, dict[str, tuple[int, int]]]  # folder under the root -> data files
    examples: dict[str, dict[str, object]]  # loan id -> EXAMPLE_COLUMNS
    lines: dict[str, list[str]] = field(default_factory=dict)  # train / validation -> CSV lines
    log: list[str] = field(default_factory=list)  # the scripts' statement log, for a failing test

    def rows(self, folder: str) -> list[list[str]]:
        """The '|'-separated rows of a baseline folder."""
        return [line.split("|") for line in _lines(self.root / "baseline" / folder)]


def _lines(folder: Path) -> list[str]:
    """Every line of every data file of a folder (hidden and _ files skipped, as the readers do)."""
    return [line for name in data_files(folder) for line in (folder / name).read_text().splitlines()]


def _variables(db: str, root: Path) -> dict[str, str]:
    return {
        "DB": db,
        "TRAINING_ROOT": root.as_uri(),
        "AS_OF": AS_OF,
        "WINDOW_MONTHS": str(WINDOW_MONTHS),
        "TRAIN_PERCENT": str(TRAIN_PERCENT),
    }


def _train(engine: HiveEngine, db: str, root: Path, scripts: tuple[str, ...] = TRAINING_SCRIPTS) -> TrainingRun:
    log: list[str] = []
    for script in scripts:
        engine.run_script((HQL / script).read_text(), _variables(db, root), log=log.append)
    examples = {
        row[0]: dict(zip(EXAMPLE_COLUMNS, row, strict=True))
        for row in engine.sql(f"SELECT {', '.join(EXAMPLE_COLUMNS)} FROM {db}.training_examples")
    }
    folders = ("examples", "train", "validation", "baseline/bins", "baseline/quantiles", "baseline/summary")
    files = {folder: data_files(root / folder) for folder in folders}
    lines = {split: _lines(root / split) for split in ("train", "validation")}
    return TrainingRun(root, files, examples, lines, log)


def _csv_line(example: dict[str, object]) -> str:
    """The CSV line an example should be, written the way the endpoint's rows are (features.to_csv)."""
    values = [None if example[name] is None else float(example[name]) for name in FEATURE_NAMES]
    return f"{example[LABEL]},{to_csv(values)}"


# -- generated data ------------------------------------------------------------------------------


@dataclass
class Generated:
    engine: HiveEngine
    root: Path
    origination: dict[str, dict[str, str]]  # loan id -> raw origination record, by field name
    performance: dict[str, list[dict[str, str]]]  # loan id -> raw monthly records, by legacy field name
    period_of: dict[str, str]  # loan id -> generated period
    first: TrainingRun
    rerun: TrainingRun
    first_after_second: dict[str, dict[str, tuple[int, int]]]
    second: TrainingRun


def _raw_records(raw: Path, layout: str, kind: str, period: str) -> list[dict[str, str]]:
    """The raw lines the generator wrote, split by '|' and named by the layout (performance: legacy names,
    which fields 1-32 of both layouts share)."""
    folder = raw / layout / kind / f"period={period}"
    names = fields(layout, kind) if kind == "origination" else fields("legacy", kind)
    return [
        dict(zip(names, line.split(DELIMITER), strict=kind == "origination"))
        for path in sorted(folder.iterdir())
        for line in path.read_text().splitlines()
    ]


@pytest.fixture(scope="module")
def generated(hive_engine: HiveEngine, tmp_path_factory: pytest.TempPathFactory) -> Generated:
    root = tmp_path_factory.mktemp("training")
    archives = {period: write_quarter(root / "zips", period, spec) for period, spec in SPECS.items()}
    for archive in archives.values():
        extract(archive, root / "raw")
    names = ("RAW_ROOT", "PROCESSED_ROOT", "QUARANTINE_ROOT", "QUALITY_ROOT")
    roots = {name: (root / name.removesuffix("_ROOT").lower()).as_uri() for name in names}
    variables = {period: {"DB": GENERATED_DB, **roots, "PERIOD": period} for period in SPECS}
    lake = Lake(hive_engine, root, archives, variables)
    for period in SPECS:
        run_period(lake, period)
    origination, performance, period_of = {}, defaultdict(list), {}
    for period, spec in SPECS.items():
        for record in _raw_records(root / "raw", spec.layout, "origination", period):
            origination[record["loan_seq_no"]] = record
            period_of[record["loan_seq_no"]] = period
        for record in _raw_records(root / "raw", spec.layout, "performance", period):
            performance[record["loan_seq_no"]].append(record)
    first = _train(hive_engine, GENERATED_DB, root / "ml" / "run-1")
    rerun = _train(hive_engine, GENERATED_DB, root / "ml" / "run-1")
    second = _train(hive_engine, GENERATED_DB, root / "ml" / "run-2")
    first_after_second = {folder: data_files(root / "ml" / "run-1" / folder) for folder in rerun.files}
    return Generated(
        hive_engine, root, origination, dict(performance), period_of, first, rerun, first_after_second, second
    )


def _expected_outcome(origination: dict[str, str], reports: list[dict[str, str]]) -> str:
    """The label rule of training_set.hql, in Python, over the raw records."""
    first_payment = month_index(origination["first_payment_date"])
    as_of = month_index(AS_OF[:4] + AS_OF[5:7])
    defaulted = prepaid = False
    last = None
    for report in reports:
        month = month_index(report["monthly_reporting_period"])
        if month > as_of:
            continue
        number = month - first_payment
        last = number if last is None else max(last, number)
        if 0 <= number <= WINDOW_MONTHS:
            status, zero_balance = report["current_delinquency_status"], report["zero_balance_code"]
            defaulted |= (status.isdigit() and int(status) >= 3) or status == "RA" or zero_balance in ("02", "03", "09")
            prepaid |= zero_balance == "01"
    if defaulted:
        return "ever_90_dpd"
    if prepaid:
        return "prepaid"
    return "observed" if last is not None and last >= WINDOW_MONTHS else "censored"


def test_every_generated_loan_is_one_example(generated: Generated) -> None:
    examples = generated.first.examples
    assert set(examples) == set(generated.origination)
    assert {loan: example["source_period"] for loan, example in examples.items()} == generated.period_of


@pytest.mark.parametrize("period", list(SPECS))
def test_features_equal_feature_row_of_the_raw_records(generated: Generated, period: str) -> None:
    checked = 0
    for loan, example in generated.first.examples.items():
        if generated.period_of[loan] != period:
            continue
        actual = [None if example[name] is None else float(example[name]) for name in FEATURE_NAMES]
        assert actual == feature_row(generated.origination[loan]), loan
        checked += 1
    assert checked == SPECS[period].loans
    missing = Counter(
        name for example in generated.first.examples.values() for name in FEATURE_NAMES if example[name] is None
    )
    assert missing["orig_dti"], missing  # sentinels (999) became missing values


def test_labels_follow_the_rule_on_generated_histories(generated: Generated) -> None:
    outcomes = Counter()
    for loan, example in generated.first.examples.items():
        expected = _expected_outcome(generated.origination[loan], generated.performance.get(loan, []))
        assert example["outcome"] == expected, loan
        assert example[LABEL] == {"ever_90_dpd": 1, "prepaid": 0, "observed": 0}.get(expected), loan
        outcomes[(generated.period_of[loan], expected)] += 1
    # 2017Q1 loans (first payments April to June 2017) are all seen to month 24 by June 2019; of 2017Q2
    # (July to September) only the defaulted and prepaid ones have a label.
    assert outcomes[("2017Q1", "censored")] == 0 and outcomes[("2017Q1", "observed")] > 0
    assert outcomes[("2017Q2", "observed")] == 0 and outcomes[("2017Q2", "censored")] > 0
    assert all(outcomes[(period, kind)] for period in SPECS for kind in ("ever_90_dpd", "prepaid")), outcomes


def test_the_split_is_crc32_of_the_loan_id_about_80_20(generated: Generated) -> None:
    # Hive's UDFCrc32 documents crc32('ABC') = 2743272264: the engines and zlib agree on the function.
    assert generated.engine.sql("SELECT CRC32('ABC'), PMOD(CRC32('F17Q10000001'), 100)") == [
        (2743272264, zlib.crc32(b"F17Q10000001") % 100)
    ]
    examples = generated.first.examples
    for loan, example in examples.items():
        assert example["split"] == ("train" if zlib.crc32(loan.encode()) % 100 < TRAIN_PERCENT else "validation")
    share = sum(example["split"] == "train" for example in examples.values()) / len(examples)
    assert 0.74 <= share <= 0.86, share
    labelled = [example for example in examples.values() if example[LABEL] is not None]
    assert len(generated.first.lines["train"]) == sum(example["split"] == "train" for example in labelled)
    assert len(generated.first.lines["validation"]) == sum(example["split"] == "validation" for example in labelled)


def test_a_rerun_gives_the_same_rows_and_replaces_the_files(generated: Generated) -> None:
    first, rerun, second = generated.first, generated.rerun, generated.second
    assert rerun.examples == first.examples == second.examples
    for split in ("train", "validation"):
        assert Counter(rerun.lines[split]) == Counter(first.lines[split]) == Counter(second.lines[split])
    for folder, files in first.files.items():  # overwritten, not added to: as many files as before
        assert len(rerun.files[folder]) == len(files) > 0, folder
    assert generated.first_after_second == rerun.files  # another run's root leaves this one untouched
    assert sorted(rerun.rows("bins")) == sorted(first.rows("bins"))
    assert sorted(rerun.rows("quantiles")) == sorted(first.rows("quantiles"))


def test_the_csv_files_are_what_sagemaker_and_the_endpoint_expect(generated: Generated) -> None:
    examples = generated.first.examples.values()
    for split in ("train", "validation"):
        lines = generated.first.lines[split]
        expected = [_csv_line(e) for e in examples if e["split"] == split and e[LABEL] is not None]
        assert Counter(lines) == Counter(expected)
        for line in lines:  # no header, the label first, every feature, no \N or .0 noise
            values = line.split(",")
            assert len(values) == len(FEATURES) + 1 and values[0] in ("0", "1"), line
            assert "\\N" not in line and not any(value.endswith(".0") for value in values), line
        assert any(",," in line for line in lines)  # missing values are empty fields


def _train_values(run: TrainingRun) -> dict[str, list[float | None]]:
    """Each feature's values in the train CSV, None when missing."""
    columns = defaultdict(list)
    for line in run.lines["train"]:
        for name, value in zip(FEATURE_NAMES, line.split(",")[1:], strict=True):
            columns[name].append(float(value) if value else None)
    return columns


def test_baseline_bins_cover_the_train_rows_contiguously(generated: Generated) -> None:
    run = generated.first
    values = _train_values(run)
    train_rows = len(run.lines["train"])
    bins = defaultdict(dict)
    for feature, number, lower, upper, rows in run.rows("bins"):
        assert int(number) not in bins[feature], (feature, number)
        bins[feature][int(number)] = (lower, upper, int(rows))
    assert set(bins) == set(FEATURE_NAMES)
    deciles = defaultdict(set)
    for feature, q, value in run.rows("quantiles"):
        if int(q) % 10 == 0:
            deciles[feature].add(float(value))
    for feature, feature_bins in bins.items():
        known = [v for v in values[feature] if v is not None]
        missing = feature_bins.pop(-1, None)
        assert (missing is not None) == (len(known) < train_rows), feature
        if missing is not None:
            assert missing == ("", "", train_rows - len(known)), feature
        assert sorted(feature_bins) == list(range(len(feature_bins))), feature
        ordered = [feature_bins[number] for number in range(len(feature_bins))]
        assert ordered[0][0] == "" and ordered[-1][1] == "", feature
        for (_, upper, _), (lower, _, _) in pairwise(ordered):
            assert upper == lower != "", feature
        edges = [float(lower) for lower, _, _ in ordered[1:]]
        assert edges == sorted(set(edges)), feature
        for lower, upper, rows in ordered:
            low, high = float(lower or "-inf"), float(upper or "inf")
            assert rows == sum(low <= v < high for v in known), (feature, lower, upper)
        assert sum(rows for _, _, rows in ordered) + (missing[2] if missing else 0) == train_rows
        if feature in CATEGORICAL:  # one bin per code seen, each starting at its code
            assert edges == sorted(set(known))[1:], feature
            assert all(rows > 0 for _, _, rows in ordered), feature
        else:
            assert edges == sorted(deciles[feature]), feature
            assert len(ordered) <= 10, feature
    assert len(bins["credit_score"]) == 10  # a spread-out feature gets all ten deciles


def test_baseline_quantiles_are_non_decreasing_within_the_values(generated: Generated) -> None:
    run = generated.first
    values = _train_values(run)
    quantiles = defaultdict(dict)
    for feature, q, value in run.rows("quantiles"):
        quantiles[feature][int(q)] = float(value)
        assert not value.endswith(".0") and "E" not in value, value
    assert set(quantiles) == set(NUMERIC)
    for feature, by_q in quantiles.items():
        assert sorted(by_q) == list(range(1, 100)), feature
        ordered = [by_q[q] for q in range(1, 100)]
        assert ordered == sorted(ordered), feature
        known = [v for v in values[feature] if v is not None]
        assert min(known) <= ordered[0] and ordered[-1] <= max(known), feature


def test_baseline_summary_counts_the_run(generated: Generated) -> None:
    run = generated.first
    assert run.rows("summary") == [
        [
            str(len(run.examples)),
            str(sum(e[LABEL] is None for e in run.examples.values())),
            str(len(run.lines["train"])),
            str(sum(line.startswith("1,") for line in run.lines["train"])),
            str(len(run.lines["validation"])),
            str(sum(line.startswith("1,") for line in run.lines["validation"])),
        ]
    ]


# -- hand-written processed rows -------------------------------------------------------------------


def _month(first_payment: date, number: int) -> date:
    index = first_payment.year * 12 + first_payment.month - 1 + number
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class MiniLoan:
    """A loan of the hand-checked set: its reports, and the outcome training_set.hql must give it."""

    loan_seq_no: str
    first_payment: date
    last_month: int | None  # month number of its last report; None: no report at all
    outcome: str | None  # None: no example (no acquisition row)
    statuses: dict[int, str] = field(default_factory=dict)  # month number -> delinquency status ('00' otherwise)
    zero_balance: tuple[int, str] | None = None  # (month number, code) of its last report
    periods: tuple[tuple[str, str], ...] = (("2016Q1", "legacy"),)  # (source_period, source_layout) delivering it
    acquisition: bool = True

    def reports(self) -> list[dict[str, object]]:
        rows = []
        for number in range(0 if self.last_month is None else self.last_month + 1):
            status = self.statuses.get(number, "00")
            month = _month(self.first_payment, number)
            code = self.zero_balance[1] if self.zero_balance and self.zero_balance[0] == number else None
            rows.append(
                {
                    "loan_seq_no": self.loan_seq_no,
                    "monthly_reporting_period": month,
                    "delinquency_status": status,
                    "delinquency_months": int(status) if status.isdigit() else None,
                    "is_reo_acquisition": status == "RA",
                    "delinquency_status_raw": status,
                    "zero_balance_code": code,
                    "reporting_quarter": f"{month.year}Q{(month.month - 1) // 3 + 1}",
                }
            )
        return rows


JAN_2016 = date(2016, 1, 1)
AS_OF_DATE = date.fromisoformat(AS_OF)
MINI_LOANS = (
    MiniLoan("F15Q40000001", JAN_2016, 35, "ever_90_dpd", {8: "01", 9: "02", 10: "03", 11: "00"}),
    MiniLoan("F15Q40000002", JAN_2016, 35, "observed", {28: "01", 29: "02", 30: "03"}),
    MiniLoan("F15Q40000003", JAN_2016, 12, "ever_90_dpd", {11: "01", 12: "02"}, (12, "03")),
    MiniLoan("F15Q40000004", JAN_2016, 8, "prepaid", zero_balance=(8, "01")),
    MiniLoan("F18Q30000005", _month(AS_OF_DATE, -9), 9, "censored"),  # observed 10 months, reporting still
    MiniLoan("F15Q40000006", JAN_2016, 30, "ever_90_dpd", {13: "01", 14: "02", **{m: "RA" for m in range(15, 31)}}),
    MiniLoan("F15Q40000007", JAN_2016, 30, "observed", periods=(("2016Q1", "legacy"), ("2016", "r47"))),
    MiniLoan("F15Q40000008", JAN_2016, 5, "censored", zero_balance=(5, "06")),  # repurchased: outcome unknown
    MiniLoan("F17Q40000009", date(2018, 1, 1), 30, "censored", {18: "01", 19: "02", 20: "03"}),  # after AS_OF
    MiniLoan("F15Q40000010", JAN_2016, 30, "ever_90_dpd", {22: "01", 23: "02", 24: "03"}),  # the window's last month
    MiniLoan("F15Q40000011", JAN_2016, 30, "observed", {23: "01", 24: "02", 25: "03"}),  # one month after it
    MiniLoan("F17Q20000012", _month(AS_OF_DATE, -24), 24, "observed"),  # seen exactly to month 24
    MiniLoan("F17Q20000013", _month(AS_OF_DATE, -23), 23, "censored"),  # one month short
    MiniLoan("F15Q40000014", JAN_2016, None, "censored"),  # no report at all
    MiniLoan("F15Q40000015", JAN_2016, 30, None, {10: "03"}, acquisition=False),  # performance without a loan
    MiniLoan("F15Q40000016", JAN_2016, 20, "ever_90_dpd", zero_balance=(20, "02")),
    MiniLoan("F15Q40000017", JAN_2016, 6, "ever_90_dpd", {5: "01"}, (6, "09")),
    MiniLoan("F15Q40000018", JAN_2016, 20, "prepaid", {5: "01", 6: "02", 7: "00"}, (20, "01")),
    MiniLoan("F15Q40000019", JAN_2016, 30, "observed", zero_balance=(30, "01")),  # prepaid after the window
)
LABELS = {"ever_90_dpd": 1, "prepaid": 0, "observed": 0, "censored": None}


def _acquisition_values(position: int) -> dict[str, object]:
    """Processed acquisition values of the loan at ``position``: varied numbers, every code, unknown and NULL."""
    values: dict[str, object] = {
        "credit_score": None if position == 3 else 620 + 10 * position,
        "orig_ltv": 60 + position,
        "orig_cltv": None if position == 5 else 61 + position,
        "orig_dti": 20 + position,
        "orig_interest_rate": Decimal("3.125") + Decimal("0.125") * position,
        "orig_upb": Decimal("150000.50") if position == 2 else Decimal(100_000 + 7_000 * position),
        "orig_loan_term": 360 if position % 3 else 180,
        "mi_pct": 0 if position % 2 else 25,
        "num_borrowers": 1 + position % 2,
        "num_units": None if position == 7 else 1,
    }
    for feature in FEATURES:
        if feature.categorical:
            choices = [*feature.codes, "Z", None]  # every code, an unknown one, NULL
            values[feature.column] = choices[position % len(choices)]
    return values


def _insert(engine: HiveEngine, table: str, rows: list[dict[str, object]]) -> None:
    """Rows into a processed table, by column name (columns not given are NULL), partitions included."""
    schema = engine.spark.table(table).schema
    data = [tuple(row.get(column.name) for column in schema) for row in rows]
    engine.spark.createDataFrame(data, schema).write.insertInto(table)


def _create_processed_tables(engine: HiveEngine, root: Path) -> None:
    """The database and the processed tables as the processing scripts create them (their CREATE statements)."""
    variables = {"DB": MINI_DB, "PROCESSED_ROOT": (root / "processed").as_uri()}
    engine.run_script((HQL / "create_databases.hql").read_text(), variables)
    for script in ("acquisition.hql", "performance.hql"):
        creates = [
            statement
            for statement in split_statements((HQL / script).read_text())
            if _code(statement).startswith("CREATE EXTERNAL TABLE")
        ]
        assert len(creates) == 1, script
        engine.run_script(creates[0], variables)


def _code(statement: str) -> str:
    """A statement without its comment lines."""
    return "\n".join(line for line in statement.splitlines() if not line.lstrip().startswith("--")).strip()


@pytest.fixture(scope="module")
def mini(hive_engine: HiveEngine, tmp_path_factory: pytest.TempPathFactory) -> TrainingRun:
    root = tmp_path_factory.mktemp("training_mini")
    _create_processed_tables(hive_engine, root)
    acquisitions, reports = [], []
    for position, loan in enumerate(MINI_LOANS):
        for period, layout in loan.periods:
            partition = {"source_period": period, "source_layout": layout, "orig_year": 2016, "orig_quarter": 1}
            if loan.acquisition:
                values = _acquisition_values(position)
                if layout == "r47":  # the copy training_set.hql must choose: the later release
                    values["credit_score"] = 800
                acquisitions.append(
                    {"loan_seq_no": loan.loan_seq_no, "first_payment_date": loan.first_payment, **values, **partition}
                )
            reports += [{**report, "source_period": period, "source_layout": layout} for report in loan.reports()]
    _insert(hive_engine, f"{MINI_DB}.acquisition", acquisitions)
    _insert(hive_engine, f"{MINI_DB}.performance", reports)
    return _train(hive_engine, MINI_DB, root / "ml" / "run", ("training_set.hql",))


def test_labels_of_the_hand_checked_loans(mini: TrainingRun) -> None:
    expected = {loan.loan_seq_no: loan.outcome for loan in MINI_LOANS if loan.outcome is not None}
    assert {loan: example["outcome"] for loan, example in mini.examples.items()} == expected
    assert {loan: example[LABEL] for loan, example in mini.examples.items()} == {
        loan: LABELS[outcome] for loan, outcome in expected.items()
    }
    labelled = [example for example in mini.examples.values() if example[LABEL] is not None]
    assert sorted(mini.lines["train"] + mini.lines["validation"]) == sorted(_csv_line(e) for e in labelled)


def test_a_loan_of_two_source_periods_is_one_example_from_the_later_release(mini: TrainingRun) -> None:
    twice = mini.examples["F15Q40000007"]
    assert (twice["source_period"], twice["credit_score"], twice["outcome"]) == ("2016", 800, "observed")
    assert len(mini.examples) == sum(loan.acquisition for loan in MINI_LOANS)


def test_codes_and_missing_values_map_as_features_py_says(mini: TrainingRun) -> None:
    for position, loan in enumerate(MINI_LOANS):
        if not loan.acquisition or loan.loan_seq_no == "F15Q40000007":
            continue
        record = {name: None if value is None else str(value) for name, value in _acquisition_values(position).items()}
        example = mini.examples[loan.loan_seq_no]
        actual = [None if example[name] is None else float(example[name]) for name in FEATURE_NAMES]
        assert actual == feature_row(record), loan.loan_seq_no
    seen = {name: {example[name] for example in mini.examples.values()} for name in CATEGORICAL}
    for feature in FEATURES:
        if feature.categorical:  # every code came through, unknown and NULL ones as missing
            assert seen[feature.name] == {*feature.codes.values(), None}, feature.name
    lines = mini.lines["train"] + mini.lines["validation"]
    assert any(",150000.5," in line for line in lines) and any(",107000," in line for line in lines)


def test_bad_variables_fail_the_first_statement_and_write_nothing(hive_engine: HiveEngine, tmp_path: Path) -> None:
    script = (HQL / "training_set.hql").read_text()
    for name, value in (("AS_OF", "2019-06"), ("WINDOW_MONTHS", "24.5"), ("TRAIN_PERCENT", "100")):
        variables = {**_variables(MINI_DB, tmp_path / "bad"), name: value}
        with pytest.raises(HiveScriptError, match=r"statement 1 \(SELECT ASSERT_TRUE\("):
            hive_engine.run_script(script, variables)
    assert not (tmp_path / "bad").exists()
