"""Hive steps: one ``hive-script`` step per script and period, in the order the scripts depend on each other."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from loanlake.config import LoanlakeConfig

# The contract with include/hql/: these scripts, run in this order, once per period.
HQL_SCRIPTS = (
    "create_databases.hql",
    "raw_tables.hql",
    "quarantine.hql",
    "acquisition.hql",
    "performance.hql",
    "quality_metrics.hql",
)
MAX_ACTIVE_STEPS = 256  # EMR refuses more pending and running steps on one cluster
MAX_PERIODS_PER_RUN = MAX_ACTIVE_STEPS // len(HQL_SCRIPTS)

ActionOnFailure = Literal["CANCEL_AND_WAIT", "CONTINUE", "TERMINATE_CLUSTER"]


@dataclass(frozen=True)
class HiveStep:
    """One EMR step that runs a Hive script with ``-d NAME=value`` variables."""

    name: str
    script: str  # s3:// URI of the .hql file
    variables: dict[str, str] = field(default_factory=dict)
    # CANCEL_AND_WAIT: the later steps are cancelled, the cluster stays for the teardown (and its logs).
    action_on_failure: ActionOnFailure = "CANCEL_AND_WAIT"

    def to_emr(self) -> dict[str, Any]:
        args = ["hive-script", "--run-hive-script", "--args", "-f", self.script]
        for name, value in self.variables.items():
            args += ["-d", f"{name}={value}"]
        return {
            "Name": self.name,
            "ActionOnFailure": self.action_on_failure,
            "HadoopJarStep": {"Jar": "command-runner.jar", "Args": args},
        }


def script_uri(scripts_root: str, script: str) -> str:
    return f"{scripts_root.rstrip('/')}/{script}"


def step_name(period: str, script: str) -> str:
    """Unique per run: the cluster belongs to one run, and each script runs once per period."""
    return f"{period} {script.removesuffix('.hql')}"


def period_steps(config: LoanlakeConfig, scripts_root: str, periods: Sequence[str]) -> list[HiveStep]:
    """Every script for every period, period by period."""
    if len(periods) > MAX_PERIODS_PER_RUN:
        raise ValueError(f"{len(periods)} periods: at most {MAX_PERIODS_PER_RUN} fit in one run's steps")
    roots = {
        "DB": config.emr.hive_database,
        "RAW_ROOT": config.s3_root(config.raw_prefix),
        "PROCESSED_ROOT": config.s3_root(config.processed_prefix),
        "QUARANTINE_ROOT": config.s3_root(config.quarantine_prefix),
        "QUALITY_ROOT": config.s3_root(config.quality_prefix),
    }
    return [
        HiveStep(step_name(period, script), script_uri(scripts_root, script), {**roots, "PERIOD": period})
        for period in periods
        for script in HQL_SCRIPTS
    ]
