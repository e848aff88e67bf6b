"""The drift monitor's report: a JSON-serialisable summary of an assessment, and a PNG chart of it."""

from __future__ import annotations

import io
import textwrap
from typing import TYPE_CHECKING, Any

from loanlake.ml.capture import Capture
from loanlake.ml.drift import PSI_FLOOR, DriftAssessment, FeatureDrift

if TYPE_CHECKING:
    from matplotlib.axes import Axes

PANELS = 4
LEVEL_COLORS = {"none": "tab:green", "moderate": "tab:orange", "major": "tab:red"}


def drift_report(assessment: DriftAssessment, capture: Capture) -> dict[str, Any]:
    """Thresholds, counts, malformed records by reason, every feature's statistics, verdict and top features."""
    return {
        "verdict": assessment.verdict,
        "summary": assessment.summary,
        "material": assessment.material,
        "material_level": assessment.material_level,
        "thresholds": {
            "moderate": assessment.thresholds.moderate,
            "major": assessment.thresholds.major,
            "psi_floor": PSI_FLOOR,
            "min_records": assessment.min_records,
        },
        "counts": {
            "records": capture.records,
            "malformed_records": capture.malformed_records,
            "rows": assessment.rows,
        },
        "malformed": dict(sorted(capture.malformed.items())),
        "top_features": [drift.name for drift in assessment.features if drift.level != "none"],
        "features": [
            {
                "feature": drift.name,
                "psi": drift.psi,
                "level": drift.level,
                "ks": drift.ks,
                "ks_p_value": drift.ks_p_value,
                "bins": [
                    {"bin": label, "baseline_share": expected, "current_share": actual}
                    for label, expected, actual in zip(
                        drift.bins, drift.baseline_shares, drift.current_shares, strict=True
                    )
                ],
            }
            for drift in assessment.features
        ],
    }


def drift_chart(assessment: DriftAssessment, panels: int = PANELS) -> bytes:
    """PNG: baseline vs current bin shares of the most drifted features (up to ``panels``), and PSI per feature
    against the two thresholds."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 7.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(textwrap.fill(assessment.summary, 130), fontsize=10)
    shown = assessment.features[:panels]
    if not shown:
        axes = figure.add_subplot()
        axes.axis("off")
        axes.text(0.5, 0.5, "no statistics: too few rows", ha="center", va="center", fontsize=14)
    else:
        grid = figure.add_gridspec(2, len(shown))
        for column, drift in enumerate(shown):
            _bin_panel(figure.add_subplot(grid[0, column]), drift, legend=column == 0)
        _psi_panel(figure.add_subplot(grid[1, :]), assessment)
    png = io.BytesIO()
    figure.savefig(png, format="png")
    return png.getvalue()


def _bin_panel(axes: Axes, drift: FeatureDrift, legend: bool) -> None:
    """Baseline and current shares of one feature's bins (bins empty on both sides left out)."""
    bins = [
        (label, expected, actual)
        for label, expected, actual in zip(drift.bins, drift.baseline_shares, drift.current_shares, strict=True)
        if expected or actual
    ]
    positions = range(len(bins))
    axes.bar([x - 0.2 for x in positions], [b[1] for b in bins], 0.4, label="baseline", color="tab:gray")
    axes.bar([x + 0.2 for x in positions], [b[2] for b in bins], 0.4, label="current", color="tab:blue")
    axes.set_xticks(list(positions), [b[0] for b in bins], rotation=60, ha="right", fontsize=7)
    axes.set_title(f"{drift.name}: PSI {drift.psi:.3f} ({drift.level})", fontsize=9)
    axes.set_ylabel("share of rows", fontsize=8)
    axes.tick_params(axis="y", labelsize=7)
    if legend:
        axes.legend(fontsize=7)


def _psi_panel(axes: Axes, assessment: DriftAssessment) -> None:
    features = assessment.features
    thresholds = assessment.thresholds
    positions = list(range(len(features)))
    axes.bar(positions, [drift.psi for drift in features], color=[LEVEL_COLORS[drift.level] for drift in features])
    axes.set_xticks(positions, [drift.name for drift in features], rotation=45, ha="right", fontsize=7)
    axes.axhline(
        thresholds.moderate, linestyle="--", color="tab:orange", label=f"moderate (PSI {thresholds.moderate:g})"
    )
    axes.axhline(thresholds.major, linestyle="--", color="tab:red", label=f"major (PSI {thresholds.major:g})")
    axes.set_ylabel("PSI", fontsize=8)
    axes.set_title("PSI per feature", fontsize=9)
    axes.tick_params(axis="y", labelsize=7)
    axes.legend(fontsize=7)
