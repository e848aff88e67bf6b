"""The model's features: one contract for the training set (Hive), the endpoint's input and the drift monitor.

``include/hql/training_set.hql`` writes the label and then these columns, in this order, from the processed
acquisition table; the endpoint scores CSV rows of the same columns without the label; the drift monitor
compares captured rows with the training set's baseline feature by feature. Codes map categorical fields to
small integers (trees split on them; PSI bins them as categories). A missing value is an empty CSV field,
which XGBoost reads as missing.

``feature_row`` computes the same values in Python from an origination record as published (raw strings,
sentinels included), for scoring traffic; a test holds it equal to the Hive output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

LABEL = "ever_90_dpd_24m"
WINDOW_MONTHS = 24


@dataclass(frozen=True)
class Feature:
    """One model input: a processed acquisition column, numeric or mapped from codes."""

    name: str
    column: str  # the processed acquisition column it comes from
    codes: Mapping[str, int] = field(default_factory=dict)  # empty: numeric
    sentinels: tuple[str, ...] = ()  # raw values that mean "not available"

    @property
    def categorical(self) -> bool:
        return bool(self.codes)


FEATURES: tuple[Feature, ...] = (
    Feature("credit_score", "credit_score", sentinels=("9999",)),
    Feature("orig_ltv", "orig_ltv", sentinels=("999",)),
    Feature("orig_cltv", "orig_cltv", sentinels=("999",)),
    Feature("orig_dti", "orig_dti", sentinels=("999",)),
    Feature("orig_interest_rate", "orig_interest_rate"),
    Feature("orig_upb", "orig_upb"),
    Feature("orig_loan_term", "orig_loan_term"),
    Feature("mi_pct", "mi_pct", sentinels=("999",)),
    Feature("num_borrowers", "num_borrowers", sentinels=("99",)),
    Feature("num_units", "num_units", sentinels=("99",)),
    Feature("first_time_homebuyer", "first_time_homebuyer_flag", codes={"N": 0, "Y": 1}),
    Feature("occupancy", "occupancy_status", codes={"P": 0, "S": 1, "I": 2}),
    Feature("loan_purpose", "loan_purpose", codes={"P": 0, "N": 1, "C": 2, "R": 3}),
    Feature("channel", "channel", codes={"R": 0, "B": 1, "C": 2, "T": 3}),
    Feature("property_type", "property_type", codes={"SF": 0, "PU": 1, "CO": 2, "MH": 3, "CP": 4}),
)
FEATURE_NAMES: tuple[str, ...] = tuple(feature.name for feature in FEATURES)


def feature_value(feature: Feature, raw: str | None) -> float | None:
    """The feature's value from a raw origination field; None when missing, a sentinel or unparsable."""
    text = (raw or "").strip()
    if not text or text in feature.sentinels:
        return None
    if feature.categorical:
        code = feature.codes.get(text)
        return None if code is None else float(code)
    try:
        return float(Decimal(text))
    except InvalidOperation:
        return None


def feature_row(origination: Mapping[str, str | None]) -> list[float | None]:
    """The model input of one origination record, keyed by the layouts' field names."""
    return [feature_value(feature, origination.get(feature.column)) for feature in FEATURES]


def to_csv(row: list[float | None]) -> str:
    """One CSV line without the label, as the endpoint takes it: empty for missing, integers without '.0'."""
    return ",".join("" if value is None else str(value) if value % 1 else str(int(value)) for value in row)
