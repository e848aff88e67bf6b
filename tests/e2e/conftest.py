"""Shared by the end-to-end tests. The fault-injection suite's count goes to the terminal summary from here."""

from __future__ import annotations

from typing import Any

import pytest

_FAULT_POINTS = pytest.StashKey[dict[str, Any]]()


@pytest.fixture(scope="session")
def fault_point_tally(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Where test_fault_injection.py leaves its line ("fault injection: N fault points, M passed") for the summary."""
    return request.config.stash.setdefault(_FAULT_POINTS, {})


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    tally = config.stash.get(_FAULT_POINTS, {})
    if tally.get("line"):
        terminalreporter.write_sep("-", "fault injection")
        terminalreporter.write_line(tally["line"])
        per_dag = ", ".join(f"{dag} {count}" for dag, count in tally.get("per_dag", {}).items())
        terminalreporter.write_line(f"  points per DAG: {per_dag}")
        seconds = ", ".join(f"{what} {value:.0f} s" for what, value in tally.get("seconds", {}).items())
        terminalreporter.write_line(f"  time: {seconds}")
