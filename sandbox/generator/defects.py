"""Defects injected into clean lines, one per affected line, so a test can count them exactly.

- ``wrong_field_count``: one field dropped or one duplicated.
- ``non_numeric_number``: a digit of a numeric field (credit score, balance, age, ...) becomes a letter.
- ``impossible_date``: the month of a ``YYYYMM`` field becomes 13 or 00.
- ``crlf_endings``: the line ends with ``\\r\\n``.
- ``trailing_spaces``: spaces after a text value (seller or servicer name, the loan id in legacy performance).
- ``utf8_bom``: a byte order mark at the start of the file; only the first record can get it.
- ``empty_line``: an empty line before the record; the defect's line number is the empty line's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from loanlake.freddie_mac.layouts import DELIMITER, Kind
from sandbox.generator.spec import DEFECT_KINDS

_NUMERIC_TARGETS: dict[Kind, tuple[str, ...]] = {
    "origination": ("credit_score", "orig_upb", "orig_ltv", "orig_dti", "orig_loan_term"),
    "performance": ("current_actual_upb", "loan_age", "remaining_months_to_maturity"),
}
_DATE_TARGETS: dict[Kind, tuple[str, ...]] = {
    "origination": ("first_payment_date", "maturity_date"),
    "performance": ("monthly_reporting_period", "period", "ddlpi"),
}
_TEXT_TARGETS: dict[Kind, tuple[str, ...]] = {
    "origination": ("seller_name",),
    "performance": ("servicer_name", "loan_seq_no"),  # the first one the layout has
}
_BOM = "\ufeff"


def plan_defects(
    rng: np.random.Generator, records: int, kinds: tuple[str, ...], rate: float, *, file_start: bool
) -> np.ndarray:
    """The defect of each record as an index into DEFECT_KINDS, -1 for a clean record.

    A BOM can only go on the first record of a file, so other records draw from the remaining kinds.
    """
    hit = rng.random(records) < rate
    others = np.array([DEFECT_KINDS.index(kind) for kind in kinds if kind != "utf8_bom"], dtype=int)
    picks = np.full(records, -1)
    if len(others):
        drawn = others[rng.integers(0, len(others), records)]
        picks = np.where(hit, drawn, -1)
    if file_start and records and hit[0] and kinds:
        picks[0] = DEFECT_KINDS.index(kinds[rng.integers(0, len(kinds))])
    return picks


def inject(kind: str, line: str, names: tuple[str, ...], member_kind: Kind, rng: np.random.Generator) -> str:
    """``line`` with one defect of ``kind``; ``names`` are the fields of its layout and kind."""
    return _INJECTORS[kind](line, names, member_kind, rng)


def _wrong_field_count(line: str, names: tuple[str, ...], member_kind: Kind, rng: np.random.Generator) -> str:
    values = line.split(DELIMITER)
    at = int(rng.integers(0, len(values)))
    if rng.random() < 0.5:
        del values[at]
    else:
        values.insert(at, values[at])
    return DELIMITER.join(values)


def _non_numeric_number(line: str, names: tuple[str, ...], member_kind: Kind, rng: np.random.Generator) -> str:
    def letter_for_digit(value: str) -> str:
        digits = [i for i, char in enumerate(value) if char.isdigit()]
        at = digits[int(rng.integers(0, len(digits)))]
        return value[:at] + "OISBZ"[int(rng.integers(0, 5))] + value[at + 1 :]

    return _replace_field(line, names, _NUMERIC_TARGETS[member_kind], rng, letter_for_digit)


def _impossible_date(line: str, names: tuple[str, ...], member_kind: Kind, rng: np.random.Generator) -> str:
    return _replace_field(
        line, names, _DATE_TARGETS[member_kind], rng, lambda value: value[:4] + ("13", "00")[int(rng.integers(0, 2))]
    )


def _trailing_spaces(line: str, names: tuple[str, ...], member_kind: Kind, rng: np.random.Generator) -> str:
    target = next(name for name in _TEXT_TARGETS[member_kind] if name in names)
    return _replace_field(line, names, (target,), rng, lambda value: value + " " * int(rng.integers(1, 9)))


def _replace_field(
    line: str, names: tuple[str, ...], targets: tuple[str, ...], rng: np.random.Generator, change: Callable[[str], str]
) -> str:
    """``line`` with one of the ``targets`` fields (those its layout has) passed through ``change``."""
    present = [names.index(name) for name in targets if name in names]
    at = present[int(rng.integers(0, len(present)))]
    values = line.split(DELIMITER)
    values[at] = change(values[at])
    return DELIMITER.join(values)


_INJECTORS: dict[str, Callable[[str, tuple[str, ...], Kind, np.random.Generator], str]] = {
    "wrong_field_count": _wrong_field_count,
    "non_numeric_number": _non_numeric_number,
    "impossible_date": _impossible_date,
    "crlf_endings": lambda line, names, member_kind, rng: line + "\r",
    "trailing_spaces": _trailing_spaces,
    "utf8_bom": lambda line, names, member_kind, rng: _BOM + line,
    "empty_line": lambda line, names, member_kind, rng: "\n" + line,
}
