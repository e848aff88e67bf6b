"""Freddie Mac Single-Family Loan-Level Dataset: file layouts and file names.

Two layouts exist. ``legacy`` (Release 46 and earlier: origination 32 fields, performance 32)
and ``r47`` (Release 47, July 2026, and later: origination 31 fields, performance 35). A line's
field count tells them apart; file names tell the kind (origination or performance) and the
period (``2017Q1`` for a quarterly file, ``2017`` for an annual sample).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

Layout = Literal["legacy", "r47"]
Kind = Literal["origination", "performance"]
Dataset = Literal["quarterly", "sample"]

LAYOUTS: tuple[Layout, ...] = ("legacy", "r47")
KINDS: tuple[Kind, ...] = ("origination", "performance")
DELIMITER = "|"
ZIP_MAGIC = b"PK\x03\x04"

_ORIGINATION_COMMON_HEAD = (
    "credit_score",
    "first_payment_date",
    "first_time_homebuyer_flag",
    "maturity_date",
    "msa",
    "mi_pct",
    "num_units",
    "occupancy_status",
    "orig_cltv",
    "orig_dti",
    "orig_upb",
    "orig_ltv",
    "orig_interest_rate",
    "channel",
    "ppm_flag",
    "amortization_type",
    "property_state",
    "property_type",
    "postal_code",
    "loan_seq_no",
    "loan_purpose",
    "orig_loan_term",
    "num_borrowers",
    "seller_name",
)
_ORIGINATION_COMMON_TAIL = (
    "super_conforming_flag",
    "pre_harp_loan_seq_no",
    "program_indicator",
    "harp_indicator",
    "property_valuation_method",
    "interest_only_indicator",
)

_PERFORMANCE_LEGACY = (
    "loan_seq_no",
    "monthly_reporting_period",
    "current_actual_upb",
    "current_delinquency_status",
    "loan_age",
    "remaining_months_to_maturity",
    "defect_settlement_date",
    "modification_flag",
    "zero_balance_code",
    "zero_balance_effective_date",
    "current_interest_rate",
    "current_non_interest_bearing_upb",
    "ddlpi",
    "mi_recoveries",
    "net_sales_proceeds",
    "non_mi_recoveries",
    "expenses",
    "legal_costs",
    "maintenance_preservation_costs",
    "taxes_insurance",
    "misc_expenses",
    "actual_loss",
    "modification_cost",
    "step_modification_flag",
    "payment_deferral",
    "eltv",
    "zero_balance_removal_upb",
    "delinquent_accrued_interest",
    "delinquency_due_to_disaster",
    "borrower_assistance_status",
    "current_month_modification_cost",
    "interest_bearing_upb",
)

# Release 47 renamed some performance fields; positions 1-32 keep their meaning.
_R47_RENAMES = {
    "monthly_reporting_period": "period",
    "expenses": "total_expenses",
    "modification_cost": "cumulative_modification_costs",
    "step_modification_flag": "interest_rate_step_indicator",
    "payment_deferral": "payment_deferral_flag",
    "borrower_assistance_status": "borrower_assistance_plan",
    "current_month_modification_cost": "current_period_modification_costs",
    "interest_bearing_upb": "current_interest_bearing_upb",
}

FIELDS: dict[tuple[Layout, Kind], tuple[str, ...]] = {
    ("legacy", "origination"): (
        *_ORIGINATION_COMMON_HEAD,
        "servicer_name",
        *_ORIGINATION_COMMON_TAIL,
        "mi_cancellation_indicator",
    ),
    ("r47", "origination"): (
        *_ORIGINATION_COMMON_HEAD,
        *_ORIGINATION_COMMON_TAIL,
        "vantagescore_4",
    ),
    ("legacy", "performance"): _PERFORMANCE_LEGACY,
    ("r47", "performance"): (
        *(_R47_RENAMES.get(name, name) for name in _PERFORMANCE_LEGACY),
        "mi_cancellation_indicator",
        "servicer_name",
        "bankruptcy_cramdown_costs",
    ),
}


class LayoutError(ValueError):
    """A file whose name or content matches no known Freddie Mac layout."""


def fields(layout: Layout, kind: Kind) -> tuple[str, ...]:
    """Field names of ``kind`` records in ``layout``, in file order."""
    return FIELDS[(layout, kind)]


def layout_for_field_count(kind: Kind, count: int) -> Layout:
    """The layout whose ``kind`` records have ``count`` fields."""
    for layout in LAYOUTS:
        if len(FIELDS[(layout, kind)]) == count:
            return layout
    expected = ", ".join(f"{len(FIELDS[(lay, kind)])} ({lay})" for lay in LAYOUTS)
    raise LayoutError(f"{kind} record has {count} fields; expected {expected}")


def detect_layout(kind: Kind, head: bytes, name: str = "<stream>") -> Layout:
    """Layout of a file from its first bytes: the most common field count among complete lines.

    A few malformed lines (the dataset has them) do not decide the layout; the majority does.
    """
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = [line.rstrip("\r") for line in text.split("\n")[:-1] if line.strip()]
    if not lines:
        raise LayoutError(f"{name}: no complete record in the first {len(head)} bytes")
    counts = Counter(line.count(DELIMITER) + 1 for line in lines)
    for count, _ in counts.most_common():
        try:
            return layout_for_field_count(kind, count)
        except LayoutError:
            continue
    raise LayoutError(f"{name}: no {kind} layout has any of the field counts found {dict(counts)}")


@dataclass(frozen=True)
class ArchiveName:
    """What a source zip's file name says: ``historical_data_2017Q1.zip`` or ``sample_2017.zip``."""

    filename: str
    dataset: Dataset
    period: str  # "2017Q1" for quarterly, "2017" for samples

    @property
    def year(self) -> int:
        return int(self.period[:4])


_ARCHIVE_PATTERNS = (
    (re.compile(r"^historical_data_(\d{4})Q([1-4])\.zip$", re.I), "quarterly", "yq"),
    (re.compile(r"^historical_data1_Q([1-4])(\d{4})\.zip$", re.I), "quarterly", "qy"),
    (re.compile(r"^sample_(\d{4})\.zip$", re.I), "sample", "y"),
)


def parse_archive_name(filename: str) -> ArchiveName | None:
    """The dataset and period of a source zip, or None for a file that is no loan-level zip."""
    for pattern, dataset, order in _ARCHIVE_PATTERNS:
        match = pattern.match(filename)
        if not match:
            continue
        if order == "yq":
            period = f"{match[1]}Q{match[2]}"
        elif order == "qy":
            period = f"{match[2]}Q{match[1]}"
        else:
            period = match[1]
        return ArchiveName(filename, dataset, period)  # type: ignore[arg-type]
    return None


_MEMBER_PATTERNS: tuple[tuple[re.Pattern[str], Kind], ...] = (
    (re.compile(r"^historical_data1?_time_(?:\d{4}Q[1-4]|Q[1-4]\d{4})\.txt$", re.I), "performance"),
    (re.compile(r"^historical_data1?_(?:\d{4}Q[1-4]|Q[1-4]\d{4})\.txt$", re.I), "origination"),
    (re.compile(r"^orig_\d{4}Q[1-4]\.txt$", re.I), "origination"),
    (re.compile(r"^perf_\d{4}Q[1-4]\.txt$", re.I), "performance"),
    (re.compile(r"^sample_orig_\d{4}\.txt$", re.I), "origination"),
    (re.compile(r"^sample_(?:svcg|perf)_\d{4}\.txt$", re.I), "performance"),
)


def member_kind(member: str) -> Kind:
    """Origination or performance, from a zip member's file name."""
    basename = member.rsplit("/", 1)[-1]
    for pattern, kind in _MEMBER_PATTERNS:
        if pattern.match(basename):
            return kind
    raise LayoutError(f"zip member {member!r} is neither an origination nor a performance file")


def archive_name(dataset: Dataset, period: str, *, old_naming: bool = False) -> str:
    """The zip file name Freddie Mac uses for a quarter or a sample year."""
    if dataset == "sample":
        return f"sample_{period}.zip"
    year, quarter = period[:4], period[5]
    return f"historical_data1_Q{quarter}{year}.zip" if old_naming else f"historical_data_{year}Q{quarter}.zip"


def member_names(dataset: Dataset, period: str, layout: Layout, *, old_naming: bool = False) -> dict[Kind, str]:
    """The file names inside a zip, by kind, for a layout and naming scheme."""
    if dataset == "sample":
        perf = "perf" if layout == "r47" else "svcg"
        return {"origination": f"sample_orig_{period}.txt", "performance": f"sample_{perf}_{period}.txt"}
    if layout == "r47":
        return {"origination": f"orig_{period}.txt", "performance": f"perf_{period}.txt"}
    if old_naming:
        stem, time_stem = (
            f"historical_data1_Q{period[5]}{period[:4]}",
            f"historical_data1_time_Q{period[5]}{period[:4]}",
        )
    else:
        stem, time_stem = f"historical_data_{period}", f"historical_data_time_{period}"
    return {"origination": f"{stem}.txt", "performance": f"{time_stem}.txt"}


def raw_key(prefix: str, layout: Layout, kind: Kind, period: str, member: str) -> str:
    """S3 key of an extracted member: ``<prefix>/<layout>/<kind>/period=<period>/<member>``."""
    basename = member.rsplit("/", 1)[-1]
    return f"{prefix.strip('/')}/{layout}/{kind}/period={period}/{basename}"
