"""Loan books rendered as pipe-delimited origination and monthly performance lines, clean (no defects).

Loss and expense signs. Legacy files (Release 46 and earlier) report liquidation recoveries
(``mi_recoveries``, ``non_mi_recoveries``) as positive amounts and expenses (``expenses``,
``legal_costs``, ``maintenance_preservation_costs``, ``taxes_insurance``, ``misc_expenses``) and
``actual_loss`` as negative amounts, so that ``actual_loss = net_sales_proceeds + mi_recoveries +
non_mi_recoveries + expenses - removal UPB - delinquent_accrued_interest``. Release 47 files flip
those signs: losses and expenses positive, recoveries negative. ``net_sales_proceeds``,
``delinquent_accrued_interest`` and ``zero_balance_removal_upb`` are positive in both layouts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from loanlake.freddie_mac.layouts import DELIMITER, FIELDS, KINDS, LAYOUTS, Dataset, Kind, Layout
from sandbox.generator.loans import LoanBook, loan_books
from sandbox.generator.spec import GeneratorSpec, month_index

# A column is constant text or a printf format with one value per line.
Column = str | tuple[str, Sequence]

# Release 47 renamed some performance fields; columns are keyed by the legacy names.
_LEGACY_NAME = dict(zip(FIELDS[("r47", "performance")], FIELDS[("legacy", "performance")], strict=False))
_KNOWN_NAMES = {
    kind: {_LEGACY_NAME.get(name, name) for layout in LAYOUTS for name in FIELDS[(layout, kind)]} for kind in KINDS
}
_LEGACY_SIGNS = {  # liquidation fields whose sign Release 47 flips, with their legacy sign
    "mi_recoveries": 1,
    "non_mi_recoveries": 1,
    "expenses": -1,
    "legal_costs": -1,
    "maintenance_preservation_costs": -1,
    "taxes_insurance": -1,
    "misc_expenses": -1,
    "actual_loss": -1,
}


def render(layout: Layout, kind: Kind, columns: Mapping[str, Column]) -> list[str]:
    """Lines in the field order of ``layout``, one per value of the (at least one) varying column.

    Fields without a column are left blank.
    """
    unknown = set(columns) - _KNOWN_NAMES[kind]
    if unknown:
        raise KeyError(f"no {kind} field named {sorted(unknown)}")
    parts: list[str] = []
    values: list[Sequence] = []
    for name in FIELDS[(layout, kind)]:
        column = columns.get(_LEGACY_NAME.get(name, name), "")
        if isinstance(column, str):
            parts.append(column.replace("%", "%%"))
        else:
            parts.append(column[0])
            values.append(column[1])
    template = DELIMITER.join(parts)
    return [template % row for row in zip(*values, strict=True)]


def yyyymm(months: np.ndarray) -> np.ndarray:
    """``YYYYMM`` integers of month indexes."""
    return (months // 12) * 100 + months % 12 + 1


def origination_lines(book: LoanBook, layout: Layout) -> list[str]:
    """The origination file lines of a chunk of loans."""
    columns: dict[str, Column] = {
        "credit_score": ("%d", book.credit_score.tolist()),
        "first_payment_date": ("%d", yyyymm(book.first_payment).tolist()),
        "first_time_homebuyer_flag": ("%s", book.first_time_homebuyer.tolist()),
        "maturity_date": ("%d", yyyymm(book.first_payment + book.term - 1).tolist()),
        "msa": ("%s", book.msa.tolist()),
        "mi_pct": ("%d", book.mi_pct.tolist()),
        "num_units": ("%d", book.units.tolist()),
        "occupancy_status": ("%s", book.occupancy.tolist()),
        "orig_cltv": ("%d", book.cltv.tolist()),
        "orig_dti": ("%d", book.dti.tolist()),
        "orig_upb": ("%d", book.orig_upb.tolist()),
        "orig_ltv": ("%d", book.ltv.tolist()),
        "orig_interest_rate": ("%.3f", book.rate.tolist()),
        "channel": ("%s", book.channel.tolist()),
        "ppm_flag": "N",
        "amortization_type": "FRM",
        "property_state": ("%s", book.state.tolist()),
        "property_type": ("%s", book.property_type.tolist()),
        "postal_code": ("%s", book.postal_code.tolist()),
        "loan_seq_no": ("%s", book.loan_ids.tolist()),
        "loan_purpose": ("%s", book.purpose.tolist()),
        "orig_loan_term": ("%d", book.term.tolist()),
        "num_borrowers": ("%d", book.borrowers.tolist()),
        "seller_name": ("%s", book.seller.tolist()),
        "servicer_name": ("%s", book.servicer.tolist()),
        "super_conforming_flag": ("%s", book.super_conforming.tolist()),
        "program_indicator": ("%s", book.program.tolist()),
        "property_valuation_method": ("%d", book.valuation_method.tolist()),
        "interest_only_indicator": "N",
        "mi_cancellation_indicator": ("%s", book.mi_cancellation.tolist()),
        "vantagescore_4": ("%d", book.vantage_score.tolist()),
    }
    return render(layout, "origination", columns)


def scheduled_balance_cents(book: LoanBook, loan: np.ndarray, installments: np.ndarray) -> np.ndarray:
    """Unpaid balance in cents after ``installments`` level payments of a fully amortising loan."""
    monthly = book.rate[loan] / 1200
    growth = (1 + monthly) ** book.term[loan]
    share_left = (growth - (1 + monthly) ** installments) / (growth - 1)
    return np.maximum(np.rint(book.orig_upb[loan] * 100 * share_left), 0).astype(np.int64)


@dataclass(frozen=True)
class _Months:
    """The monthly rows of a chunk, one array element per row, in loan then month order."""

    loan: np.ndarray  # position of the row's loan in the book
    age: np.ndarray
    status: np.ndarray  # months missed
    installments: np.ndarray  # installments paid up to and including the month
    balance: np.ndarray  # cents
    closing: np.ndarray  # the zero-balance month
    liquidating: np.ndarray  # a zero-balance month ending in a short sale or REO


def _months(book: LoanBook, as_of: str) -> _Months:
    """One row per loan and month from the first payment date to zero balance or ``as_of``.

    A loan that misses payments stops amortising (its balance stays where its last paid installment
    left it) and its status counts the months missed; a short sale is reported one month later still.
    """
    months = np.clip(np.minimum(book.end_age, month_index(as_of) - book.first_payment + 1), 0, None)
    loan = np.repeat(np.arange(len(months)), months)
    age = np.arange(len(loan)) - np.repeat(np.cumsum(months) - months, months) + 1
    closing = age == book.end_age[loan]
    liquidating = closing & (book.end_code[loan] != "01")
    since_missed = age - book.delinquent_from[loan]
    missed = (book.delinquent_from[loan] > 0) & (since_missed >= 0) & (since_missed < book.delinquent_months[loan])
    status = np.where(missed, since_missed + 1, np.where(liquidating, book.delinquent_months[loan] + 1, 0))
    installments = np.where(closing & ~liquidating, age, age - status)
    balance = np.where(closing, 0, scheduled_balance_cents(book, loan, installments))
    return _Months(loan, age, status, installments, balance, closing, liquidating)


def performance_lines(book: LoanBook, layout: Layout, as_of: str) -> list[str]:
    """Monthly performance lines of a chunk of loans; zero-balance months carry the disposition fields."""
    months = _months(book, as_of)
    lines = render(layout, "performance", _month_columns(book, layout, months, slice(None)))
    rows = np.flatnonzero(months.closing)
    columns = {**_month_columns(book, layout, months, rows), **_closing_columns(book, layout, months, rows)}
    for row, line in zip(rows.tolist(), render(layout, "performance", columns), strict=True):
        lines[row] = line
    return lines


def _month_columns(book: LoanBook, layout: Layout, months: _Months, rows: np.ndarray | slice) -> dict[str, Column]:
    """The fields every monthly row reports, for the selected rows."""
    loan, age, balance = months.loan[rows], months.age[rows], months.balance[rows]
    return {
        "loan_seq_no": ("%s", book.loan_ids[loan].tolist()),
        "monthly_reporting_period": ("%d", yyyymm(book.first_payment[loan] + age - 1).tolist()),
        "current_actual_upb": ("%.2f", (balance / 100).tolist()),
        "current_delinquency_status": ("%s", _status_text(book, layout, months, rows).tolist()),
        "loan_age": ("%d", age.tolist()),
        "remaining_months_to_maturity": ("%d", (book.term[loan] - age).tolist()),
        "current_interest_rate": ("%.3f", book.rate[loan].tolist()),
        "current_non_interest_bearing_upb": "0",
        "ddlpi": ("%d", yyyymm(book.first_payment[loan] + months.installments[rows] - 1).tolist()),
        "eltv": ("%d", _estimated_ltv(book, loan, age, balance).tolist()),
        "interest_bearing_upb": ("%.2f", (balance / 100).tolist()),
        "mi_cancellation_indicator": ("%s", book.mi_cancellation[loan].tolist()),
        "servicer_name": ("%s", book.servicer[loan].tolist()),
    }


_STATUS_CODES = {
    "legacy": np.array([str(months) for months in range(100)]),
    "r47": np.array([f"{months:02d}" for months in range(100)]),
}


def _status_text(book: LoanBook, layout: Layout, months: _Months, rows: np.ndarray | slice) -> np.ndarray:
    """Delinquency status as reported: months missed (zero-padded in Release 47), RA at REO, XX unknown."""
    loan, status = months.loan[rows], months.status[rows]
    text = _STATUS_CODES[layout][status]
    text = np.where(months.liquidating[rows] & (book.end_code[loan] == "09"), "RA", text)
    unknown = (months.age[rows] == book.unknown_status_age[loan]) & (status == 0) & ~months.closing[rows]
    return np.where(unknown, "XX", text)


def _estimated_ltv(book: LoanBook, loan: np.ndarray, age: np.ndarray, balance: np.ndarray) -> np.ndarray:
    """Current LTV: the balance over the original value grown with home prices (3.5% a year)."""
    value_growth = 1.035 ** (age / 12)
    eltv = np.rint(book.ltv[loan] * balance / (book.orig_upb[loan] * 100) / value_growth).astype(int)
    return np.where(book.ltv[loan] == 999, 999, eltv)


def _closing_columns(book: LoanBook, layout: Layout, months: _Months, rows: np.ndarray) -> dict[str, Column]:
    """Zero-balance fields of the closing rows: code, date, balance removed and liquidation amounts."""
    loan, liquidating = months.loan[rows], months.liquidating[rows]
    paid_before = np.where(liquidating, months.installments[rows], months.age[rows] - 1)
    removed = scheduled_balance_cents(book, loan, paid_before)
    return {
        "zero_balance_code": ("%s", book.end_code[loan].tolist()),
        "zero_balance_effective_date": ("%d", yyyymm(book.first_payment[loan] + months.age[rows] - 1).tolist()),
        "zero_balance_removal_upb": ("%.2f", (removed / 100).tolist()),
        "eltv": "",
        **_liquidation_columns(book, layout, loan, removed, liquidating),
    }


def _liquidation_columns(
    book: LoanBook, layout: Layout, loan: np.ndarray, removed: np.ndarray, liquidating: np.ndarray
) -> dict[str, Column]:
    """Sale proceeds, expenses, recoveries and loss of liquidations (blank for prepayments), signed per layout."""

    def share(fraction: np.ndarray) -> np.ndarray:
        return np.rint(removed * fraction[loan]).astype(np.int64)

    interest = np.rint(removed * book.rate[loan] / 1200 * book.delinquent_months[loan]).astype(np.int64)
    sale, non_mi = share(book.sale_share), share(book.non_mi_share)
    legal, upkeep = share(book.legal_share), share(book.upkeep_share)
    tax, misc = share(book.tax_share), share(book.misc_share)
    expenses = legal + upkeep + tax + misc
    shortfall = removed + interest + expenses - sale
    mi_pct = book.mi_pct[loan]
    insured = (mi_pct > 0) & (mi_pct < 999)
    mi = np.where(insured, np.minimum(np.rint(removed * mi_pct / 100), np.maximum(shortfall, 0)), 0).astype(np.int64)
    amounts = {
        "delinquent_accrued_interest": interest,
        "net_sales_proceeds": sale,
        "mi_recoveries": mi,
        "non_mi_recoveries": non_mi,
        "expenses": expenses,
        "legal_costs": legal,
        "maintenance_preservation_costs": upkeep,
        "taxes_insurance": tax,
        "misc_expenses": misc,
        "actual_loss": shortfall - mi - non_mi,
    }
    return {name: ("%s", _money_text(_signed(name, cents, layout), liquidating)) for name, cents in amounts.items()}


def _signed(name: str, cents: np.ndarray, layout: Layout) -> np.ndarray:
    """Amounts with the layout's sign: legacy signs for legacy files, the opposite for Release 47."""
    if name not in _LEGACY_SIGNS:
        return cents
    return cents * _LEGACY_SIGNS[name] * (1 if layout == "legacy" else -1)


def _money_text(cents: np.ndarray, filled: np.ndarray) -> list[str]:
    """Dollar amounts with cents where ``filled``, blank elsewhere."""
    return [f"{amount / 100:.2f}" if keep else "" for amount, keep in zip(cents.tolist(), filled.tolist(), strict=True)]


def origination_records(dataset: Dataset, period: str, spec: GeneratorSpec) -> Iterator[dict[str, str]]:
    """The clean origination records of a file, by field name: what a parser should recover."""
    names = FIELDS[(spec.layout, "origination")]
    for book in loan_books(dataset, period, spec):
        for line in origination_lines(book, spec.layout):
            yield dict(zip(names, line.split(DELIMITER), strict=True))


def performance_records(dataset: Dataset, period: str, spec: GeneratorSpec) -> Iterator[dict[str, str]]:
    """The clean monthly performance records of a file, by field name."""
    names = FIELDS[(spec.layout, "performance")]
    for book in loan_books(dataset, period, spec):
        for line in performance_lines(book, spec.layout, spec.as_of):
            yield dict(zip(names, line.split(DELIMITER), strict=True))
