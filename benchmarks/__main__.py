"""``python -m benchmarks [name ...]``: run every benchmarks/*.py module that defines ``main()``, in name order.

Each runs in a fresh interpreter, so none measures with modules another one imported, with plugins/ and the
repository root on PYTHONPATH (as in pyproject.toml and the Makefile). Names (e.g.
``parse_time``) pick a subset. Every benchmark prints its own figures and records its headline ones, which end up in
one table, ``benchmarks/RESULTS.md`` (see ``benchmarks/results.py``); a failing one is reported and the others still
run. Exit status 1 if any failed.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.results import RESULTS_ENV, TABLE, publish

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def benchmark_names() -> list[str]:
    """Modules of benchmarks/ with a top-level ``def main()``, in name order."""
    return sorted(
        path.stem
        for path in HERE.glob("*.py")
        if any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in ast.parse(path.read_text()).body)
        and path.stem != "__main__"
    )


def main(argv: list[str]) -> int:
    names = benchmark_names()
    unknown = sorted(set(argv) - set(names))
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {names}", file=sys.stderr)
        return 2
    paths = [str(ROOT / "plugins"), str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    rows = Path(tempfile.mkstemp(prefix="loanlake-bench-", suffix=".jsonl")[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)), RESULTS_ENV: str(rows)}
    failed = []
    for name in argv or names:
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        code = f"from {HERE.name}.{name} import main; main()"
        if subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=False).returncode:
            failed.append(name)
        print(f"== {name}: {time.perf_counter() - start:.1f} s\n", flush=True)
    publish(rows, [name for name in argv or names if name not in failed])
    rows.unlink()
    print(f"table of figures: {TABLE.relative_to(ROOT)}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
