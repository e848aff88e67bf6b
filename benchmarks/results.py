"""The table of every benchmark's headline figures: each benchmark records its own; ``python -m benchmarks``
collects them into ``benchmarks/results.json`` and writes ``benchmarks/RESULTS.md`` with the machine's description.

A benchmark run alone (``python -m benchmarks drift``) replaces that benchmark's rows and keeps the others'.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS_ENV = "LOANLAKE_BENCH_RESULTS"  # the file the running benchmarks append their rows to
STORE, TABLE = HERE / "results.json", HERE / "RESULTS.md"


def record(
    benchmark: str, figure: str, value: str, baseline: str = "", ratio: str = "", target: str = "", verdict: str = ""
) -> None:
    """One row of the table (figures already formatted, with units); a no-op outside ``python -m benchmarks``."""
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    row = dict(benchmark=benchmark, figure=figure, value=value, baseline=baseline, ratio=ratio, target=target)
    with open(path, "a") as out:
        out.write(json.dumps(row | {"verdict": verdict}) + "\n")


def machine() -> str:
    """CPU model, cores, memory, OS and Python: what the figures depend on."""
    cpuinfo = _read("/proc/cpuinfo").splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "unknown CPU")
    memory = next((line.split()[1] for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal")), "0")
    return (
        f"{cpu}, {os.cpu_count()} cores, {int(memory) / 1024**2:.0f} GiB, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def publish(new_rows_file: Path, benchmarks_run: list[str]) -> None:
    """Merge the run's rows into results.json (replacing the benchmarks that ran) and write RESULTS.md."""
    stored = json.loads(STORE.read_text()) if STORE.exists() else {"runs": {}, "rows": []}
    rows = [row for row in stored["rows"] if row["benchmark"] not in benchmarks_run]
    if new_rows_file.exists():
        rows += [json.loads(line) for line in new_rows_file.read_text().splitlines() if line.strip()]
    stamp = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}"
    runs = stored["runs"] | dict.fromkeys(benchmarks_run, stamp)
    STORE.write_text(json.dumps({"runs": runs, "rows": rows}, indent=2) + "\n")
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m benchmarks`); each benchmark's script says what it measures and how.",
        "Ratios compare with a baseline measured in the same run; the targets are the issues'.",
        "",
        "| benchmark | figure | value | baseline | ratio | target | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    order = {name: index for index, name in enumerate(sorted(runs))}
    for row in sorted(rows, key=lambda r: order.get(r["benchmark"], len(order))):
        cells = (row[key] for key in ("benchmark", "figure", "value", "baseline", "ratio", "target", "verdict"))
        lines.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |")
    lines += ["", "Runs:", ""] + [f"- `{name}`: {when}" for name, when in sorted(runs.items())]
    TABLE.write_text("\n".join(lines) + "\n")
