"""Drift statistics: captured rows against the training baseline, feature by feature, and a verdict for the batch.

- PSI over the baseline's bins, the missing bin included: sum((a - e) * ln(a / e)) over the bins, a and e the
  current and baseline shares. A share below ``PSI_FLOOR`` counts as the floor, so a bin empty on one side adds
  a large but finite term (and a bin empty on both sides adds nothing).
- KS for numeric features against the baseline's percentiles: D = max over q of |F(value_q) - q/100|, F the
  empirical CDF of the current non-missing values. Where percentiles tie (a discrete feature, e.g. the loan
  term), the tied value is compared at the highest of its q, which is where the baseline's CDF is (within the
  percentiles' resolution of 0.01). The p-value is the Kolmogorov distribution (``scipy.special.kolmogorov``) at
  sqrt(n*m/(n+m)) * D, n and m the baseline's and the batch's non-missing rows: the limit that
  ``scipy.stats.ks_2samp``'s finite-size distribution approaches at a day's sample sizes, in constant time. It is
  informative: with a day of traffic a tiny shift is already "significant", so the verdict rests on PSI.
- The verdict is the level of the largest PSI: ``none`` below ``moderate``, ``moderate`` from it, ``major`` from
  ``major``; ``no_verdict`` when the batch has fewer than ``min_records`` rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from loanlake.ml.baseline import Baseline, FeatureBaseline

PSI_FLOOR = 1e-4
MODERATE, MAJOR = 0.1, 0.25
MIN_RECORDS = 1000
LEVELS = ("none", "moderate", "major")
NO_VERDICT = "no_verdict"


@dataclass(frozen=True)
class Thresholds:
    """PSI from which a feature's drift is moderate, and major."""

    moderate: float = MODERATE
    major: float = MAJOR

    def __post_init__(self) -> None:
        if not 0 < self.moderate < self.major:
            raise ValueError(f"PSI thresholds must be 0 < moderate < major, not {self.moderate} and {self.major}")

    def level(self, psi: float) -> str:
        return "major" if psi >= self.major else "moderate" if psi >= self.moderate else "none"


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's drift: PSI and its level, KS (numeric features), and both sides' bin shares."""

    name: str
    psi: float
    level: str
    ks: float | None  # None for categorical features, or when the batch has no value for the feature
    ks_p_value: float | None
    bins: tuple[str, ...]  # the baseline's bin labels, the missing bin last
    baseline_shares: tuple[float, ...]
    current_shares: tuple[float, ...]


@dataclass(frozen=True)
class DriftAssessment:
    """The batch's verdict, with every feature's drift, most drifted first."""

    verdict: str  # no_verdict, none, moderate or major
    summary: str
    rows: int
    min_records: int
    thresholds: Thresholds
    material_level: str
    features: tuple[FeatureDrift, ...]  # empty with no_verdict

    @property
    def material(self) -> bool:
        """Drift at or above ``material_level``: the monitor asks for retraining."""
        return self.verdict in LEVELS and LEVELS.index(self.verdict) >= LEVELS.index(self.material_level)

    @property
    def top(self) -> FeatureDrift | None:
        return self.features[0] if self.features else None


def psi(baseline_shares: np.ndarray, current_shares: np.ndarray, floor: float = PSI_FLOOR) -> float:
    """Population Stability Index of two distributions over the same bins, shares floored at ``floor``."""
    expected, actual = np.maximum(baseline_shares, floor), np.maximum(current_shares, floor)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def ks_p_value(statistic: float, baseline_rows: int, current_rows: int) -> float:
    """Two-sided p-value of D for samples of these sizes: the Kolmogorov distribution at sqrt(n*m/(n+m)) * D."""
    from scipy.special import kolmogorov

    return float(kolmogorov(math.sqrt(baseline_rows * current_rows / (baseline_rows + current_rows)) * statistic))


def feature_drift(baseline: FeatureBaseline, values: np.ndarray, thresholds: Thresholds) -> FeatureDrift:
    """One feature's drift from its column of the batch (NaN = missing).

    The values are sorted once (NaN last); counts below each bin edge and percentile are then lookups."""
    ordered = np.sort(values)
    missing = int(np.count_nonzero(np.isnan(ordered)))
    present = len(values) - missing
    below_edges = np.searchsorted(ordered[:present], baseline.edges, side="left")  # values < edge
    current = np.append(np.diff(below_edges, prepend=0, append=present), missing) / len(values)
    expected = baseline.shares
    value = psi(expected, current)
    ks = p_value = None
    if baseline.quantiles is not None and present and baseline.non_missing_rows:
        points, levels = _percentile_points(baseline.quantiles)
        cdf = np.searchsorted(ordered[:present], points, side="right") / present  # values <= point
        ks = float(np.max(np.abs(cdf - levels)))
        p_value = ks_p_value(ks, baseline.non_missing_rows, present)
    return FeatureDrift(
        baseline.name,
        value,
        thresholds.level(value),
        ks,
        p_value,
        baseline.labels,
        tuple(expected.tolist()),
        tuple(current.tolist()),
    )


def _percentile_points(quantiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct percentile values, and for each the highest q/100 that has it (where the baseline CDF is)."""
    points, first = np.unique(quantiles[::-1], return_index=True)
    return points, (len(quantiles) - first) / 100


def assess(
    baseline: Baseline,
    rows: np.ndarray,
    *,
    moderate: float = MODERATE,
    major: float = MAJOR,
    min_records: int = MIN_RECORDS,
    material_level: str = "major",
) -> DriftAssessment:
    """The drift of a batch of rows (one column per baseline feature, NaN = missing) against the baseline."""
    thresholds = Thresholds(moderate, major)
    rows = np.asarray(rows, dtype=np.float64)
    if material_level not in LEVELS[1:]:
        raise ValueError(f"material_level must be one of {LEVELS[1:]}, not {material_level!r}")
    if rows.ndim != 2 or rows.shape[1] != len(baseline.features):
        raise ValueError(f"rows have shape {rows.shape}, expected (n, {len(baseline.features)}): one column a feature")
    count = len(rows)

    def outcome(verdict: str, summary: str, features: tuple[FeatureDrift, ...] = ()) -> DriftAssessment:
        return DriftAssessment(verdict, summary, count, min_records, thresholds, material_level, features)

    if count < min_records:
        return outcome(NO_VERDICT, f"no verdict: {count:,} rows captured, fewer than the {min_records:,} needed")
    drifts = [feature_drift(fb, rows[:, j], thresholds) for j, fb in enumerate(baseline.features)]
    features = tuple(sorted(drifts, key=lambda drift: drift.psi, reverse=True))
    top = features[0]
    drifted = {level: sum(drift.level == level for drift in features) for level in LEVELS[1:]}
    if top.level == "none":
        summary = f"no significant drift in {count:,} rows: largest PSI {top.psi:.3f} ({top.name})"
    else:
        summary = (
            f"{top.level} drift in {count:,} rows: largest PSI {top.psi:.3f} ({top.name}); "
            f"{drifted['major']} feature(s) major (PSI >= {thresholds.major:g}), "
            f"{drifted['moderate']} moderate (PSI >= {thresholds.moderate:g})"
        )
    return outcome(top.level, summary, features)
