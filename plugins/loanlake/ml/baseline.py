"""The training set's baseline for the drift monitor: bins and percentiles of every feature, as Hive writes them.

A folder with two tables of Hive text files (one or more part files each): fields separated by ``|``, NULL
written as an empty field (Hive's default ``\\N`` is read as NULL too), no header.

- ``bins/``: ``feature|bin|lower|upper|rows``. Value bins 0..k-1 of every feature in increasing order, a value v
  in the bin with lower <= v < upper; lower is empty on bin 0 (-infinity) and upper on bin k-1 (+infinity).
  Bin -1, lower and upper empty, counts the missing values (present only if the training set had some).
  Numeric features' edges are the training set's deciles, deduplicated; categorical features have one bin per
  code seen, [c, c+1) or up to the next code seen (as ``include/hql/training_baseline.hql`` writes them, so a
  code never seen shares the bin of the code below it). Bins are contiguous, except that [c, c+1) bins may skip a
  code the training set never had, which then counts as a bin of its own without baseline rows.
- ``quantiles/``: ``feature|q|value``, percentiles q = 1..99 of each numeric feature's non-missing values.

Every feature counts every training row, so all features' bins add up to the same total. A feature the training
set has no value of has only bin -1 and no percentiles.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from loanlake.ml.features import FEATURES, Feature

SEPARATOR = "|"
NULLS = ("", "\\N")
MISSING_BIN = -1
PERCENTILES = tuple(range(1, 100))
BIN_FIELDS = ("feature", "bin", "lower", "upper", "rows")
QUANTILE_FIELDS = ("feature", "q", "value")


class BaselineError(ValueError):
    """The baseline is missing or malformed; the message names the file, line and content at fault."""


class _Line(NamedTuple):
    source: str
    number: int
    text: str

    def __str__(self) -> str:
        return f"{self.source} line {self.number} {self.text!r}"


@dataclass(frozen=True)
class FeatureBaseline:
    """One feature's training distribution: value bins then the missing bin, and percentiles if numeric."""

    feature: Feature
    edges: np.ndarray  # k-1 increasing inner edges: value bin i holds edges[i-1] <= v < edges[i]
    rows: np.ndarray  # training rows in each of the k value bins, then in the missing bin (0 if none)
    labels: tuple[str, ...]  # one per entry of rows
    quantiles: np.ndarray | None  # percentiles 1..99; None if categorical, or the training set had no value

    @property
    def name(self) -> str:
        return self.feature.name

    @property
    def shares(self) -> np.ndarray:
        return self.rows / self.rows.sum()

    @property
    def non_missing_rows(self) -> int:
        return int(self.rows[:-1].sum())


@dataclass(frozen=True)
class Baseline:
    """Every feature's baseline, in the order of the columns of the rows the monitor compares with it."""

    features: tuple[FeatureBaseline, ...]

    @property
    def training_rows(self) -> int:
        return int(self.features[0].rows.sum())

    @classmethod
    def from_lines(
        cls, bin_lines: Iterable[str], quantile_lines: Iterable[str], features: Sequence[Feature] = FEATURES
    ) -> Baseline:
        """The baseline from the lines of the two tables (each table's part files concatenated)."""
        return cls.from_files({"bins": bin_lines}, {"quantiles": quantile_lines}, features)

    @classmethod
    def from_files(
        cls,
        bin_files: Mapping[str, Iterable[str]],
        quantile_files: Mapping[str, Iterable[str]],
        features: Sequence[Feature] = FEATURES,
    ) -> Baseline:
        """The baseline from the part files of the two tables, file name -> lines; errors name file and line."""
        by_name = {feature.name: feature for feature in features}
        bins = _read_bins(_lines(bin_files), by_name)
        quantiles = _read_quantiles(_lines(quantile_files), by_name)
        baseline = cls(
            tuple(
                _feature_baseline(feature, bins.get(feature.name, {}), quantiles.get(feature.name))
                for feature in features
            )
        )
        totals = {fb.name: int(fb.rows.sum()) for fb in baseline.features}
        if len(set(totals.values())) > 1:
            raise BaselineError(
                f"{', '.join(bin_files)}: the features' bins count different training rows ({_counts(totals)}): "
                "a part file is missing or the table was written by different runs"
            )
        return baseline


def read_baseline(s3: Any, bucket: str, prefix: str, features: Sequence[Feature] = FEATURES) -> Baseline:
    """The baseline under ``s3://<bucket>/<prefix>/bins/`` and ``.../quantiles/``: every file of each folder, except
    Hadoop's hidden ones (names starting with ``_`` or ``.``, e.g. ``_SUCCESS``)."""
    tables = [_s3_files(s3, bucket, f"{prefix.strip('/')}/{table}/") for table in ("bins", "quantiles")]
    return Baseline.from_files(*tables, features=features)


def _s3_files(s3: Any, bucket: str, prefix: str) -> dict[str, list[str]]:
    files = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith("/") or obj["Key"].rsplit("/", 1)[-1].startswith(("_", ".")):
                continue
            uri = f"s3://{bucket}/{obj['Key']}"
            try:
                files[uri] = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode().splitlines()
            except UnicodeDecodeError as error:
                raise BaselineError(f"{uri}: not UTF-8 text ({error})") from None
    if not files:
        raise BaselineError(f"no baseline files under s3://{bucket}/{prefix}: did the training-set step run?")
    return files


def _lines(files: Mapping[str, Iterable[str]]) -> Iterable[tuple[_Line, list[str]]]:
    """The non-blank lines of every file with their fields."""
    for source, lines in files.items():
        for number, text in enumerate(lines, 1):
            text = text.rstrip("\r\n")
            if text.strip():
                yield _Line(source, number, text), text.split(SEPARATOR)


def _number(line: _Line, name: str, text: str) -> float | None:
    if text.strip() in NULLS:
        return None
    try:
        value = float(text)
    except ValueError:
        raise BaselineError(f"{line}: {name} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise BaselineError(f"{line}: {name} {text!r} is not a finite number")
    return value


def _whole(line: _Line, name: str, text: str) -> int:
    value = _number(line, name, text)
    if value is None or not value.is_integer():
        raise BaselineError(f"{line}: {name} {text!r} is not a whole number")
    return int(value)


def _feature(line: _Line, text: str, by_name: Mapping[str, Feature]) -> Feature:
    if text not in by_name:
        raise BaselineError(f"{line}: {text!r} is not a model feature (loanlake.ml.features)")
    return by_name[text]


def _fields(line: _Line, fields: list[str], names: tuple[str, ...]) -> None:
    if len(fields) != len(names):
        raise BaselineError(f"{line}: {len(fields)} fields, expected {len(names)}: {SEPARATOR.join(names)}")


@dataclass(frozen=True)
class _Bin:
    line: _Line
    lower: float | None
    upper: float | None
    rows: int


def _read_bins(lines: Iterable[tuple[_Line, list[str]]], by_name: Mapping[str, Feature]) -> dict[str, dict[int, _Bin]]:
    bins: dict[str, dict[int, _Bin]] = {}
    for line, fields in lines:
        _fields(line, fields, BIN_FIELDS)
        feature = _feature(line, fields[0], by_name)
        number = _whole(line, "bin", fields[1])
        entry = _Bin(
            line, _number(line, "lower", fields[2]), _number(line, "upper", fields[3]), _whole(line, "rows", fields[4])
        )
        if entry.rows < 0:
            raise BaselineError(f"{line}: rows {entry.rows} is negative")
        if number < MISSING_BIN:
            raise BaselineError(f"{line}: bin {number}: bins are numbered from 0, and -1 for missing values")
        if number == MISSING_BIN and (entry.lower is not None or entry.upper is not None):
            raise BaselineError(f"{line}: the missing bin (-1) has no bounds")
        earlier = bins.setdefault(feature.name, {}).get(number)
        if earlier:
            raise BaselineError(f"{line}: {feature.name} bin {number} again (first at {earlier.line})")
        bins[feature.name][number] = entry
    return bins


def _read_quantiles(
    lines: Iterable[tuple[_Line, list[str]]], by_name: Mapping[str, Feature]
) -> dict[str, dict[int, tuple[_Line, float]]]:
    quantiles: dict[str, dict[int, tuple[_Line, float]]] = {}
    for line, fields in lines:
        _fields(line, fields, QUANTILE_FIELDS)
        feature = _feature(line, fields[0], by_name)
        if feature.categorical:
            raise BaselineError(f"{line}: {feature.name} is categorical; percentiles are for numeric features")
        q = _whole(line, "q", fields[1])
        if q not in PERCENTILES:
            raise BaselineError(f"{line}: q {q} is not a percentile 1..99")
        value = _number(line, "value", fields[2])
        if value is None:
            raise BaselineError(f"{line}: percentile {q} of {feature.name} has no value")
        earlier = quantiles.setdefault(feature.name, {}).get(q)
        if earlier:
            raise BaselineError(f"{line}: {feature.name} percentile {q} again (first at {earlier[0]})")
        quantiles[feature.name][q] = (line, value)
    return quantiles


def _feature_baseline(
    feature: Feature, bins: dict[int, _Bin], quantiles: dict[int, tuple[_Line, float]] | None
) -> FeatureBaseline:
    value_bins = [bins[number] for number in sorted(bins) if number != MISSING_BIN]
    missing = bins.get(MISSING_BIN)
    if not value_bins:
        return _never_present(feature, missing, quantiles)
    if sorted(bins.keys() - {MISSING_BIN}) != list(range(len(value_bins))):
        raise BaselineError(
            f"{value_bins[-1].line}: {feature.name} has bins {sorted(bins.keys() - {MISSING_BIN})}, "
            f"not numbered 0..{len(value_bins) - 1}"
        )
    if value_bins[0].lower is not None:
        raise BaselineError(f"{value_bins[0].line}: bin 0 of {feature.name} must have an empty lower bound")
    if value_bins[-1].upper is not None:
        raise BaselineError(f"{value_bins[-1].line}: the last bin of {feature.name} must have an empty upper bound")
    edges, rows, bounds = [], [value_bins[0].rows], [(None, value_bins[0].upper)]
    for below, above in itertools.pairwise(value_bins):
        if below.upper is None or above.lower is None:
            raise BaselineError(f"{below.line} / {above.line}: only the end bins of {feature.name} are open")
        if below.lower is not None and below.lower >= below.upper:
            raise BaselineError(f"{below.line}: empty bin, lower >= upper")
        if above.lower < below.upper or (above.lower > below.upper and not feature.categorical):
            raise BaselineError(f"{below.line} / {above.line}: {feature.name} bins are not contiguous")
        if above.lower > below.upper:  # a code the training set never had: a bin of its own, no baseline rows
            edges.append(below.upper)
            rows.append(0)
            bounds.append((below.upper, above.lower))
        edges.append(above.lower)
        rows.append(above.rows)
        bounds.append((above.lower, above.upper))
    rows.append(missing.rows if missing else 0)
    if not sum(rows):
        raise BaselineError(f"{value_bins[0].line}: {feature.name} bins count no training rows")
    return FeatureBaseline(
        feature,
        np.array(edges, dtype=np.float64),
        np.array(rows, dtype=np.int64),
        (*(_label(feature, lower, upper) for lower, upper in bounds), "missing"),
        None if feature.categorical else _percentiles(feature, quantiles),
    )


def _never_present(
    feature: Feature, missing: _Bin | None, quantiles: dict[int, tuple[_Line, float]] | None
) -> FeatureBaseline:
    """A feature the training set has no value of (only its missing bin): one open value bin without rows, so any
    value the endpoint receives for it counts as drift."""
    if missing is None:
        raise BaselineError(f"bins: no bins for feature {feature.name}")
    if not missing.rows:
        raise BaselineError(f"{missing.line}: {feature.name} bins count no training rows")
    if quantiles:
        raise BaselineError(f"{next(iter(quantiles.values()))[0]}: {feature.name} has percentiles but no value bins")
    return FeatureBaseline(
        feature, np.empty(0), np.array([0, missing.rows]), (_label(feature, None, None), "missing"), None
    )


def _percentiles(feature: Feature, quantiles: dict[int, tuple[_Line, float]] | None) -> np.ndarray:
    if not quantiles:
        raise BaselineError(f"quantiles: no percentiles for numeric feature {feature.name}")
    absent = [q for q in PERCENTILES if q not in quantiles]
    if absent:
        raise BaselineError(f"quantiles: {feature.name} lacks percentile(s) {', '.join(map(str, absent[:10]))}")
    for q in PERCENTILES[1:]:
        (line, value), (_, previous) = quantiles[q], quantiles[q - 1]
        if value < previous:
            raise BaselineError(f"{line}: {feature.name} percentile {q} is below percentile {q - 1} ({previous:g})")
    return np.array([quantiles[q][1] for q in PERCENTILES], dtype=np.float64)


def _label(feature: Feature, lower: float | None, upper: float | None) -> str:
    """The codes a categorical bin holds, else its range."""
    low, high = -math.inf if lower is None else lower, math.inf if upper is None else upper
    codes = [code for code, value in feature.codes.items() if low <= value < high]
    if codes:
        return "/".join(codes)
    if lower is None and upper is None:
        return "all"
    if lower is None:
        return f"< {upper:g}"
    if upper is None:
        return f">= {lower:g}"
    return f"[{lower:g}, {upper:g})"


def _counts(totals: Mapping[str, int]) -> str:
    by_total: dict[int, list[str]] = {}
    for name, total in totals.items():
        by_total.setdefault(total, []).append(name)
    return "; ".join(f"{total:,}: {', '.join(names)}" for total, names in by_total.items())
