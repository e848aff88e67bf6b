"""The HQL scripts (include/hql) on the sandbox's Hive engine, over generated files laid out as the ingest lands them.

Two periods: 2017Q1 in the legacy layout and 2017Q2 in Release 47, each with ~1% injected defects (the
generator's sidecar lists them). The module runs 2017Q1, then 2017Q2, then 2017Q1 again, and checks counts,
quarantine reasons and line numbers, typed values, and that reruns and other periods change nothing.
"""

# ruff: noqa: S608 - the queries are built from this module's constants

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hql_lake import HQL, Lake, data_files, extract, run_period

from loanlake.freddie_mac.layouts import fields
from sandbox.generator import GeneratorSpec, origination_records, performance_records, write_quarter
from sandbox.hive import HiveEngine, HiveScriptError

pytestmark = pytest.mark.integration

DB = "hql_test"
P1, P2 = "2017Q1", "2017Q2"
SPECS = {
    P1: GeneratorSpec(seed=11, loans=400, layout="legacy", as_of="202012", defect_rate=0.01),
    P2: GeneratorSpec(seed=12, loans=300, layout="r47", as_of="202012", defect_rate=0.01),
}
# Generator defect kind -> quarantine reason; the other kinds (crlf_endings, trailing_spaces, utf8_bom) are kept.
REASONS = {
    "wrong_field_count": "wrong field count",
    "non_numeric_number": "unparsable number",
    "impossible_date": "impossible date",
    "empty_line": "empty line",
}
METRIC_COLUMNS = (
    "source_table",
    "target_table",
    "source_files",
    "rows_read",
    "rows_kept",
    "rows_quarantined",
    "empty_line",
    "wrong_field_count",
    "unparsable_number",
    "impossible_date",
    "unknown_code",
    "null_keys",
    "duplicate_keys",
)
BOM = "\ufeff".encode()


def _checksum(lake: Lake, query: str) -> tuple[int, str]:
    rows = sorted(repr(row) for row in lake.rows(query))
    return len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()


def _state(lake: Lake, period: str) -> dict:
    """What a period wrote: its data files and a checksum of its rows, per table."""
    roots = {
        "acquisition": lake.root / "processed" / "acquisition" / f"source_period={period}",
        "performance": lake.root / "processed" / "performance" / f"source_period={period}",
        "quality_metrics": lake.root / "quality" / "quality_metrics" / f"period={period}",
    }
    files = {name: data_files(folder) for name, folder in roots.items()}
    files["quarantine"] = {
        name: stat
        for name, stat in data_files(lake.root / "quarantine" / "quarantine").items()
        if f"/period={period}/" in name
    }
    checksums = {
        "acquisition": _checksum(lake, f"SELECT * FROM {DB}.acquisition WHERE source_period = '{period}'"),
        "performance": _checksum(lake, f"SELECT * FROM {DB}.performance WHERE source_period = '{period}'"),
        "quarantine": _checksum(lake, f"SELECT * FROM {DB}.quarantine WHERE period = '{period}'"),
        "quality_metrics": _checksum(lake, f"SELECT * FROM {DB}.quality_metrics WHERE period = '{period}'"),
    }
    return {"files": files, "checksums": checksums}


@pytest.fixture(scope="module")
def lake(hive_engine: HiveEngine, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("lake")
    archives = {period: write_quarter(root / "zips", period, spec) for period, spec in SPECS.items()}
    for archive in archives.values():
        extract(archive, root / "raw")
    # A byte order mark on a Release 47 file whose first line is otherwise clean: it must not make the line fail.
    first = root / "raw" / "r47" / "origination" / f"period={P2}" / archives[P2].members["origination"].name
    assert all(1 not in lines for lines in archives[P2].defects[first.name].values())
    first.write_bytes(BOM + first.read_bytes())
    variables = {
        period: {
            "DB": DB,
            "RAW_ROOT": (root / "raw").as_uri(),
            "PROCESSED_ROOT": (root / "processed").as_uri(),
            "QUARANTINE_ROOT": (root / "quarantine").as_uri(),
            "QUALITY_ROOT": (root / "quality").as_uri(),
            "PERIOD": period,
        }
        for period in SPECS
    }
    lake = Lake(hive_engine, root, archives, variables)
    run_period(lake, P1)
    lake.before_p2 = _state(lake, P1)
    run_period(lake, P2)
    lake.after_p2 = _state(lake, P1)
    run_period(lake, P1)
    lake.after_rerun = _state(lake, P1)
    return lake


def _metrics(lake: Lake, period: str) -> dict[str, dict[str, str]]:
    """The metrics files of a period, read as Airflow reads them: every data file, comma-separated, no header."""
    folder = lake.root / "quality" / "quality_metrics" / f"period={period}"
    rows = {}
    for name in data_files(folder):
        for line in (folder / name).read_text().splitlines():
            values = line.split(",")
            assert len(values) == len(METRIC_COLUMNS), line
            rows[values[0]] = dict(zip(METRIC_COLUMNS, values, strict=True))
    return rows


def _yyyymm(text: str) -> date | None:
    return date(int(text[:4]), int(text[4:]), 1) if text else None


def _money(text: str, sign: int = 1) -> Decimal | None:
    return sign * Decimal(text) if text else None


@pytest.mark.parametrize("period", [P1, P2])
def test_every_line_is_kept_or_quarantined_as_the_sidecar_says(lake: Lake, period: str) -> None:
    archive = lake.archives[period]
    metrics = _metrics(lake, period)
    assert set(metrics) == {
        f"raw_{layout}_{kind}" for layout in ("legacy", "r47") for kind in ("origination", "performance")
    }
    quarantined: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for source_file, line_number, reason in lake.rows(
        f"SELECT source_file, line_number, reason FROM {DB}.quarantine WHERE period = '{period}'"
    ):
        quarantined[source_file.rsplit("/", 1)[-1]][reason].append(line_number)
    for kind, member in archive.members.items():
        expected = {
            REASONS[defect]: lines for defect, lines in archive.defects[member.name].items() if defect in REASONS
        }
        expected = {reason: lines for reason, lines in expected.items() if lines}
        assert {reason: sorted(lines) for reason, lines in quarantined[member.name].items()} == expected
        row = metrics[f"raw_{archive.layout}_{kind}"]
        rejected = sum(len(lines) for lines in expected.values())
        assert row["target_table"] == ("acquisition" if kind == "origination" else "performance")
        assert int(row["source_files"]) == 1
        assert int(row["rows_read"]) == member.lines
        assert int(row["rows_quarantined"]) == rejected
        assert int(row["rows_kept"]) == member.lines - rejected
        for defect, reason in REASONS.items():
            assert int(row[reason.replace(" ", "_")]) == len(archive.defects[member.name][defect])
        assert int(row["unknown_code"]) == 0
        assert (int(row["null_keys"]), int(row["duplicate_keys"])) == (0, 0)
    other = "r47" if archive.layout == "legacy" else "legacy"
    for kind in ("origination", "performance"):
        assert set(metrics[f"raw_{other}_{kind}"].values()) - {f"raw_{other}_{kind}", "acquisition", "performance"} == {
            "0"
        }
    kept = dict(
        lake.rows(
            f"SELECT 'acquisition', COUNT(*) FROM {DB}.acquisition WHERE source_period = '{period}' "
            f"UNION ALL SELECT 'performance', COUNT(*) FROM {DB}.performance WHERE source_period = '{period}'"
        )
    )
    assert kept["acquisition"] == int(metrics[f"raw_{archive.layout}_origination"]["rows_kept"])
    assert kept["performance"] == int(metrics[f"raw_{archive.layout}_performance"]["rows_kept"])
    assert any(defects["crlf_endings"] or defects["trailing_spaces"] for defects in archive.defects.values())


@pytest.mark.parametrize("period", [P1, P2])
def test_acquisition_values_match_the_generated_records(lake: Lake, period: str) -> None:
    spec = SPECS[period]
    expected = {record["loan_seq_no"]: record for record in origination_records("quarterly", period, spec)}
    columns = (
        "loan_seq_no, credit_score, credit_score_code, first_payment_date, maturity_date, orig_upb, "
        "orig_interest_rate, mi_pct, orig_dti, seller_name, servicer_name, mi_cancellation_indicator, "
        "vantagescore_4, first_time_homebuyer_flag, source_layout, orig_year, orig_quarter"
    )
    rows = lake.rows(f"SELECT {columns} FROM {DB}.acquisition WHERE source_period = '{period}'")
    origination = lake.archives[period].members["origination"]
    assert len(rows) == len(expected) - sum(
        len(lines)
        for defect, lines in lake.archives[period].defects[origination.name].items()
        if defect in REASONS and defect != "empty_line"
    )
    legacy = spec.layout == "legacy"
    for row in rows:
        record = expected[row[0]]
        assert row[1] == (None if record["credit_score"] == "9999" else int(record["credit_score"]))
        assert row[2] == ("9999" if record["credit_score"] == "9999" else None)
        assert row[3] == _yyyymm(record["first_payment_date"])
        assert row[4] == _yyyymm(record["maturity_date"])
        assert row[5] == Decimal(record["orig_upb"])
        assert row[6] == Decimal(record["orig_interest_rate"])
        assert row[7] == (None if record["mi_pct"] == "999" else int(record["mi_pct"]))
        assert row[8] == (None if record["orig_dti"] == "999" else int(record["orig_dti"]))
        assert row[9] == record["seller_name"].strip()
        if legacy:
            assert row[10] == record["servicer_name"]
            assert row[11] == (
                None if record["mi_cancellation_indicator"] == "9" else record["mi_cancellation_indicator"]
            )
            assert row[12] is None
        else:
            assert row[10] is None and row[11] is None
            assert row[12] == (None if record["vantagescore_4"] == "9999" else int(record["vantagescore_4"]))
        assert row[13] == (None if record["first_time_homebuyer_flag"] == "9" else record["first_time_homebuyer_flag"])
        assert row[14] == spec.layout
        assert (row[15], row[16]) == (int(period[:4]), int(period[-1]))
    assert any(row[1] is None for row in rows) or all(r["credit_score"] != "9999" for r in expected.values())


@pytest.mark.parametrize("period", [P1, P2])
def test_performance_values_signs_and_delinquency_are_normalised(lake: Lake, period: str) -> None:
    spec = SPECS[period]
    named = dict(zip(fields("legacy", "performance"), fields(spec.layout, "performance"), strict=False))
    expected = {
        (record["loan_seq_no"], record[named["monthly_reporting_period"]]): {
            **record,
            **{legacy: record[name] for legacy, name in named.items()},
        }
        for record in performance_records("quarterly", period, spec)
    }
    rows = lake.rows(
        "SELECT loan_seq_no, monthly_reporting_period, current_actual_upb, delinquency_status, delinquency_months, "
        "is_reo_acquisition, delinquency_status_raw, actual_loss, expenses, legal_costs, mi_recoveries, "
        "net_sales_proceeds, zero_balance_code, eltv, servicer_name, reporting_quarter, source_layout "
        f"FROM {DB}.performance WHERE source_period = '{period}'"
    )
    sign = -1 if spec.layout == "legacy" else 1  # to the Release 47 convention: losses, expenses positive
    seen = Counter()
    for row in rows:
        record = expected[(row[0], row[1].strftime("%Y%m"))]
        status = record["current_delinquency_status"]
        assert row[2] == Decimal(record["current_actual_upb"])
        assert row[6] == status
        if status.isdigit():
            assert (row[3], row[4], row[5]) == (f"{int(status):02d}", int(status), False)
        else:
            assert (row[3], row[4], row[5]) == (status, None, status == "RA")
            seen[status] += 1
        assert row[7] == _money(record["actual_loss"], sign)
        assert row[8] == _money(record["expenses"], sign)
        assert row[9] == _money(record["legal_costs"], sign)
        assert row[10] == _money(record["mi_recoveries"], sign)
        assert row[11] == _money(record["net_sales_proceeds"])
        assert row[12] == (record["zero_balance_code"] or None)
        assert row[13] == (None if record["eltv"] in ("", "999") else int(record["eltv"]))
        assert row[14] == (record["servicer_name"].strip() if spec.layout == "r47" else None)
        assert row[15] == f"{row[1].year}Q{(row[1].month - 1) // 3 + 1}"
        assert row[16] == spec.layout
        if row[7] is not None:
            seen["liquidation"] += 1
            assert row[7] > 0 and row[8] > 0 and row[10] <= 0
    assert seen["liquidation"] and seen["RA"] and seen["XX"], seen


def test_both_layouts_share_one_schema(lake: Lake) -> None:
    by_layout = {
        row[0]: row[1:]
        for row in lake.rows(
            f"SELECT source_layout, COUNT(*), COUNT(servicer_name), COUNT(mi_cancellation_indicator), "
            f"COUNT(vantagescore_4) FROM {DB}.acquisition GROUP BY source_layout"
        )
    }
    assert by_layout["legacy"][0] == by_layout["legacy"][1] > 0 and by_layout["legacy"][3] == 0
    assert by_layout["r47"][0] > 0 and by_layout["r47"][1] == by_layout["r47"][2] == 0 and by_layout["r47"][3] > 0
    performance = dict(lake.rows(f"SELECT source_layout, COUNT(servicer_name) FROM {DB}.performance GROUP BY 1"))
    assert performance["legacy"] == 0 and performance["r47"] > 0


def test_partitions_files_and_order(lake: Lake) -> None:
    processed = lake.root / "processed"
    assert sorted(path.name for path in (processed / "acquisition").iterdir()) == [
        f"source_period={P1}",
        f"source_period={P2}",
    ]
    quarters = lake.rows(f"SELECT DISTINCT reporting_quarter FROM {DB}.performance WHERE source_period = '{P1}'")
    assert len(quarters) == len(list((processed / "performance" / f"source_period={P1}").iterdir())) > 10
    parquet = [path for path in processed.rglob("*.parquet") if not path.name.startswith(".")]
    assert parquet and all(path.name.endswith(".snappy.parquet") for path in parquet)
    for folder in (processed / "performance" / f"source_period={P2}").iterdir():
        files = [path for path in folder.iterdir() if path.suffix == ".parquet" and not path.name.startswith(".")]
        assert len(files) == 1  # one task per reporting quarter
        keys = [(row[0], row[1]) for row in lake.engine.spark.read.parquet(str(files[0])).collect()]
        assert keys == sorted(keys)


def test_a_second_period_leaves_the_first_untouched(lake: Lake) -> None:
    assert lake.before_p2 == lake.after_p2


def test_a_rerun_gives_identical_partitions(lake: Lake) -> None:
    assert lake.after_rerun["checksums"] == lake.before_p2["checksums"]

    def shape(files: dict[str, tuple[int, int]]) -> Counter:  # Spark names files with a fresh id each run
        return Counter(str(Path(name).parent) for name in files)

    for table, files in lake.before_p2["files"].items():
        assert shape(lake.after_rerun["files"][table]) == shape(files), table


def test_a_loan_delivered_twice_in_a_period_is_counted(hive_engine: HiveEngine, tmp_path: Path) -> None:
    archive = write_quarter(tmp_path / "zips", "2018Q1", GeneratorSpec(seed=13, loans=40, layout="r47"))
    extract(archive, tmp_path / "raw")
    original = tmp_path / "raw" / "r47" / "origination" / "period=2018Q1" / archive.members["origination"].name
    original.with_name("copy_" + original.name).write_bytes(original.read_bytes())
    roots = ("RAW_ROOT", "PROCESSED_ROOT", "QUARANTINE_ROOT", "QUALITY_ROOT")
    variables = {"DB": "hql_twice", "PERIOD": "2018Q1"}
    variables |= {name: (tmp_path / name.removesuffix("_ROOT").lower()).as_uri() for name in roots}
    lake = Lake(hive_engine, tmp_path, {"2018Q1": archive}, {"2018Q1": variables})
    try:
        run_period(lake, "2018Q1")
        row = _metrics(lake, "2018Q1")["raw_r47_origination"]
        assert (int(row["rows_kept"]), int(row["duplicate_keys"]), int(row["null_keys"])) == (80, 80, 0)
    finally:
        hive_engine.sql("DROP DATABASE IF EXISTS hql_twice CASCADE")


def test_an_undefined_variable_fails_before_anything_runs(hive_engine: HiveEngine) -> None:
    script = (HQL / "raw_tables.hql").read_text()
    with pytest.raises(HiveScriptError, match=r"undefined variable \$\{RAW_ROOT\}"):
        hive_engine.run_script(script, {"DB": "hql_no_such_database"})
    with pytest.raises(HiveScriptError, match=r"\$\{hivevar:MISSING\}"):
        hive_engine.run_script("SELECT '${hivevar:MISSING}'", {})


def test_a_broken_statement_is_named(hive_engine: HiveEngine) -> None:
    log: list[str] = []
    script = "SELECT 1;\n-- a comment; with a semicolon\nSELECT no_such_column\nFROM hql_no_such_database.t;\nSELECT 2"
    with pytest.raises(HiveScriptError, match=r"statement 2 \(SELECT no_such_column\) failed: .*hql_no_such") as error:
        hive_engine.run_script(script, {}, log=log.append)
    assert "\n" not in str(error.value)
    assert len(log) == 1 and log[0].startswith("statement 1/3: SELECT 1")


def test_the_run_logs_each_statement(lake: Lake) -> None:
    inserts = [line for line in lake.log if "INSERT OVERWRITE TABLE ${DB}.acquisition" in line]
    assert len(inserts) == 3 and all(line.endswith(" rows)") for line in inserts), inserts
