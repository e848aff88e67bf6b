"""The deployment gate: a new model replaces the live one only when it is at least as good."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

METRIC = "validation:auc"


class MetricMissingError(ValueError):
    """The training job reported no validation AUC: it cannot be compared with the live model."""


@dataclass(frozen=True)
class Decision:
    """Whether to deploy, both numbers, and why, in one sentence for the log and the run's note."""

    deploy: bool
    new_auc: float
    live_auc: float | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def validation_auc(final_metrics: Sequence[Mapping[str, Any]], job_name: str) -> float:
    """``validation:auc`` from a training job's ``FinalMetricDataList``."""
    for metric in final_metrics:
        if metric.get("MetricName") == METRIC:
            return float(metric["Value"])
    names = ", ".join(sorted(str(m.get("MetricName")) for m in final_metrics)) or "none"
    raise MetricMissingError(
        f"training job {job_name} reported no {METRIC} (final metrics: {names}): "
        "is a validation channel given and eval_metric auc?"
    )


def decide(new_auc: float, live_auc: float | None, floor: float, tolerance: float) -> Decision:
    """Deploy when new >= floor and (no live model, or new >= live - tolerance)."""
    if new_auc < floor:
        return Decision(False, new_auc, live_auc, f"new AUC {new_auc:.4f} is below the floor {floor:.4f}: not deployed")
    if live_auc is None:
        return Decision(True, new_auc, None, f"first model: AUC {new_auc:.4f} is above the floor {floor:.4f}: deployed")
    if new_auc >= live_auc - tolerance:
        return Decision(
            True,
            new_auc,
            live_auc,
            f"new AUC {new_auc:.4f} >= live {live_auc:.4f} - tolerance {tolerance:.4f}: deployed",
        )
    return Decision(
        False,
        new_auc,
        live_auc,
        f"new AUC {new_auc:.4f} < live {live_auc:.4f} - tolerance {tolerance:.4f}: the live model stays",
    )
