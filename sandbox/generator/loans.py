"""Synthetic loans, one chunk at a time: origination attributes and how each loan's life ends.

Everything is drawn with numpy in whole arrays, so a chunk of thousands of loans costs a few
milliseconds. The random stream of a chunk depends on (seed, period, dataset, chunk) only; the
vintage shift moves the same draws, so a shifted file holds riskier versions of the same loans.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from loanlake.freddie_mac.layouts import Dataset
from sandbox.generator.spec import SAMPLE_NUMBER_BASE, GeneratorSpec, parse_period
from sandbox.generator.tables import OTHER_SERVICERS, PLACES, SELLERS, conforming_limit, market_rate

CHUNK_LOANS = 5_000
# Random streams of one (seed, period, dataset): loans per chunk, defects per member, sample quarters.
LOAN_STREAM, ORIGINATION_DEFECT_STREAM, PERFORMANCE_DEFECT_STREAM, QUARTER_STREAM = range(4)


@dataclass(frozen=True)
class LoanBook:
    """One chunk of loans, one array element per loan, values as the origination file reports them."""

    loan_ids: np.ndarray
    first_payment: np.ndarray  # month index (see spec.month_index) of the first payment date
    term: np.ndarray
    credit_score: np.ndarray  # 9999 = not available
    vantage_score: np.ndarray  # 9999 = not available
    ltv: np.ndarray  # 999 = not available
    cltv: np.ndarray
    dti: np.ndarray  # 999 = not available
    mi_pct: np.ndarray  # 0 = no MI, 999 = not available
    orig_upb: np.ndarray  # whole dollars
    rate: np.ndarray  # percent, a multiple of 0.125
    first_time_homebuyer: np.ndarray
    occupancy: np.ndarray
    channel: np.ndarray
    purpose: np.ndarray
    units: np.ndarray
    property_type: np.ndarray
    borrowers: np.ndarray
    state: np.ndarray
    msa: np.ndarray
    postal_code: np.ndarray
    seller: np.ndarray
    servicer: np.ndarray
    super_conforming: np.ndarray
    program: np.ndarray
    valuation_method: np.ndarray
    mi_cancellation: np.ndarray
    # The loan's life in loan ages (age 1 = the first payment date).
    delinquent_from: np.ndarray  # age of the first missed payment; 0 = never delinquent
    delinquent_months: np.ndarray  # missed payments before the cure or the liquidation
    end_age: np.ndarray  # age of the zero-balance month (it may lie after as_of)
    end_code: np.ndarray  # "01" prepaid or matured, "03" short sale or charge-off, "09" REO
    unknown_status_age: np.ndarray  # age reported with status XX; 0 = none
    # Liquidation amounts as shares of the balance removed.
    sale_share: np.ndarray
    legal_share: np.ndarray
    upkeep_share: np.ndarray
    tax_share: np.ndarray
    misc_share: np.ndarray
    non_mi_share: np.ndarray


def rng_for(spec: GeneratorSpec, dataset: Dataset, period: str, chunk: int, stream: int) -> np.random.Generator:
    """The random generator of one stream of one chunk: quarters and datasets differ, reruns repeat."""
    period_code = int(period.replace("Q", ""))
    dataset_code = 0 if dataset == "quarterly" else 1
    return np.random.default_rng(np.random.SeedSequence([spec.seed, period_code, dataset_code, chunk, stream]))


def loan_books(dataset: Dataset, period: str, spec: GeneratorSpec) -> Iterator[LoanBook]:
    """The loans of a file, CHUNK_LOANS at a time, in loan id order."""
    for chunk, first in enumerate(range(0, spec.loans, CHUNK_LOANS)):
        yield simulate_chunk(dataset, period, spec, chunk, range(first, min(first + CHUNK_LOANS, spec.loans)))


def simulate_chunk(dataset: Dataset, period: str, spec: GeneratorSpec, chunk: int, loans: range) -> LoanBook:
    """Origination attributes and life outcomes of the loans with the given positions in the file."""
    year, _ = parse_period(dataset, period)
    quarters, numbers = _quarters_and_numbers(dataset, period, spec, loans)
    rng = rng_for(spec, dataset, period, chunk, LOAN_STREAM)
    n, shift, market = len(loans), spec.vintage_shift, market_rate(year)
    credit = _credit(rng, n, shift)
    terms = _loan_terms(rng, n, year, quarters, shift)
    state, msa, postal_code = _places(rng, n)
    seller, servicer = _lenders(rng, n)
    rate = _note_rate(rng, credit, terms, market, shift)
    trouble = rng.random(n) < _trouble_probability(credit, terms, rate - market, shift)
    return LoanBook(
        loan_ids=np.array(
            [f"F{year % 100:02d}Q{q}{num:07d}" for q, num in zip(quarters.tolist(), numbers.tolist(), strict=True)]
        ),
        rate=rate,
        state=state,
        msa=msa,
        postal_code=postal_code,
        seller=seller,
        servicer=servicer,
        super_conforming=np.where(terms["orig_upb"] > conforming_limit(year), "Y", ""),
        mi_cancellation=np.where(credit["mi_pct"] == 0, "7", np.where(credit["mi_pct"] == 999, "9", "N")),
        **credit,
        **terms,
        **_life(rng, n, terms["term"], trouble, rate - market),
        **_liquidation_shares(rng, n, shift),
    )


def _credit(rng: np.random.Generator, n: int, shift: float) -> dict[str, np.ndarray]:
    """Scores, LTV, CLTV, DTI and MI coverage as reported, sentinels included; the shift makes them riskier."""
    score = np.clip(np.round(742 - 45 * shift + (48 + 6 * shift) * rng.standard_normal(n)), 300, 850).astype(int)
    score_known = rng.random(n) >= 0.003
    vantage = np.clip(np.round(score + rng.normal(0, 22, n)), 300, 850).astype(int)
    vantage_known = score_known & (rng.random(n) >= 0.25)
    ltv_pick = rng.random(n)
    spread = rng.normal(72 + 8 * shift, 15, n)
    ltv = np.clip(np.round(np.where(ltv_pick < 0.22, 80, np.where(ltv_pick < 0.30 + 0.06 * shift, 95, spread))), 6, 97)
    ltv = ltv.astype(int)
    cltv = np.minimum(ltv + np.where(rng.random(n) < 0.07, rng.integers(1, 16, n), 0), 105)
    ltv_known = rng.random(n) >= 0.001
    dti = np.clip(np.round(rng.normal(35 + 6 * shift, 9, n)), 1, 50 + 15 * shift).astype(int)
    dti_known = rng.random(n) >= 0.01
    mi_pct = np.where(ltv > 80, np.round(np.interp(ltv, [81, 85, 90, 95, 97], [6, 12, 25, 30, 35])), 0).astype(int)
    mi_known = ~((ltv > 80) & ((rng.random(n) < 0.002) | ~ltv_known))
    return {
        "credit_score": np.where(score_known, score, 9999),
        "vantage_score": np.where(vantage_known, vantage, 9999),
        "ltv": np.where(ltv_known, ltv, 999),
        "cltv": np.where(ltv_known, cltv, 999),
        "dti": np.where(dti_known, dti, 999),
        "mi_pct": np.where(mi_known, mi_pct, 999),
    }


def _loan_terms(
    rng: np.random.Generator, n: int, year: int, quarters: np.ndarray, shift: float
) -> dict[str, np.ndarray]:
    """Dates, term, balance, occupancy, channel, purpose, property and program of each loan."""
    purpose = rng.choice(np.array(["P", "C", "N"]), n, p=[0.45, 0.25, 0.30])
    buyer_pick = rng.random(n)
    program_pick = rng.random(n)
    return {
        "first_payment": year * 12 + quarters * 3 + rng.integers(0, 3, n),  # a month of the following quarter
        "term": rng.choice([360, 240, 180], n, p=[0.86, 0.04, 0.10]),
        "orig_upb": _original_balances(rng, n, year),
        "occupancy": rng.choice(np.array(["P", "I", "S"]), n, p=[0.88, 0.08, 0.04]),
        "channel": rng.choice(np.array(["R", "C", "B", "T"]), n, p=[0.50, 0.30, 0.15, 0.05]),
        "purpose": purpose,
        "first_time_homebuyer": np.where(
            (purpose == "P") & (buyer_pick < 0.45), "Y", np.where(buyer_pick > 0.998, "9", "N")
        ),
        "units": rng.choice([1, 2, 3, 4], n, p=[0.975, 0.018, 0.004, 0.003]),
        "property_type": rng.choice(np.array(["SF", "PU", "CO", "MH", "CP"]), n, p=[0.64, 0.26, 0.08, 0.015, 0.005]),
        "borrowers": np.where(rng.random(n) < 0.48 + 0.1 * shift, 1, 2),
        "program": np.where(program_pick < 0.06, "H", np.where(program_pick < 0.07, "F", "9")),
        "valuation_method": (
            rng.choice([2, 1, 3, 4], n, p=[0.88, 0.08, 0.03, 0.01]) if year >= 2017 else np.full(n, 9)
        ),  # reported from 2017 on
    }


def _risk_inputs(credit: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Credit score, LTV and DTI with "not available" replaced by a cautious stand-in."""
    return (
        np.where(credit["credit_score"] == 9999, 690, credit["credit_score"]),
        np.where(credit["ltv"] == 999, 80, credit["ltv"]),
        np.where(credit["dti"] == 999, 40, credit["dti"]),
    )


def _note_rate(
    rng: np.random.Generator, credit: dict[str, np.ndarray], terms: dict[str, np.ndarray], market: float, shift: float
) -> np.ndarray:
    """Market rate plus risk-based pricing and noise, in eighths of a percent."""
    score, ltv, _ = _risk_inputs(credit)
    rate = (
        market
        + 0.30 * (740 - score) / 50
        + 0.20 * (ltv > 80)
        + 0.45 * (terms["occupancy"] == "I")
        + 0.15 * (terms["occupancy"] == "S")
        - 0.55 * (terms["term"] < 360)
        + 0.25 * shift
        + rng.normal(0, 0.22, len(score))
    )
    return np.maximum(np.round(rate * 8) / 8, 1.0)


def _trouble_probability(
    credit: dict[str, np.ndarray], terms: dict[str, np.ndarray], rate_gap: np.ndarray, shift: float
) -> np.ndarray:
    """Chance that a loan runs into payment trouble: logistic in score, LTV, DTI, rate over market, occupancy.

    The shift adds a worse economy on top of the riskier mix.
    """
    score, ltv, dti = _risk_inputs(credit)
    odds = (
        -3.4
        + 1.15 * (740 - score) / 50
        + 0.55 * (ltv - 75) / 15
        + 0.45 * (dti - 35) / 9
        + 0.5 * rate_gap
        + 0.4 * (terms["occupancy"] == "I")
        + 0.3 * shift
    )
    return 1 / (1 + np.exp(-odds))


def _quarters_and_numbers(
    dataset: Dataset, period: str, spec: GeneratorSpec, loans: range
) -> tuple[np.ndarray, np.ndarray]:
    """Origination quarter and sequence number (the id's last 7 digits) of each loan position."""
    _, quarters = parse_period(dataset, period)
    positions = np.arange(loans.start, loans.stop)
    if len(quarters) == 1:
        return np.full(len(positions), quarters[0]), positions + 1
    per_quarter = rng_for(spec, dataset, period, 0, QUARTER_STREAM).multinomial(spec.loans, [0.25] * 4)
    ends = np.cumsum(per_quarter)
    index = np.searchsorted(ends, positions, side="right")
    return index + 1, positions - (ends - per_quarter)[index] + 1 + SAMPLE_NUMBER_BASE


def _original_balances(rng: np.random.Generator, n: int, year: int) -> np.ndarray:
    """Whole-thousand balances, log-normal around a vintage's typical size, within the loan limit.

    A few loans in high-cost areas go up to 1.5 times the baseline limit (super conforming).
    """
    typical = 235_000 * 1.04 ** (year - 2017)
    drawn = np.round(rng.lognormal(np.log(typical), 0.45, n) / 1000) * 1000
    limit = conforming_limit(year)
    cap = np.where(rng.random(n) < 0.03, 1.5 * limit, limit) // 1000 * 1000
    return np.clip(drawn, 25_000, cap).astype(int)


def _places(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """State, MSA (blank outside metro areas) and masked postal code (###00) of each property."""
    weights = np.array([place[3] for place in PLACES])
    pick = rng.choice(len(PLACES), n, p=weights / weights.sum())
    states = np.array([place[0] for place in PLACES])
    msas = np.array([place[1] for place in PLACES])
    zips = np.array([[place[2][k % len(place[2])] + "00" for k in range(3)] for place in PLACES])
    return states[pick], msas[pick], zips[pick, rng.integers(0, 3, n)]


def _lenders(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Seller of each loan and its servicer: usually the seller itself, otherwise a servicing shop."""
    names = np.array([name for name, _ in SELLERS])
    weights = np.array([weight for _, weight in SELLERS])
    seller = rng.choice(names, n, p=weights / weights.sum())
    others = np.array([name for name, _ in OTHER_SERVICERS])
    other_weights = np.array([weight for _, weight in OTHER_SERVICERS])
    other = rng.choice(others, n, p=other_weights / other_weights.sum())
    keeps = (rng.random(n) < 0.75) & (seller != "Other sellers")
    return seller, np.where(keeps, seller, other)


def _life(
    rng: np.random.Generator, n: int, term: np.ndarray, trouble: np.ndarray, rate_gap: np.ndarray
) -> dict[str, np.ndarray]:
    """How each loan's life runs: troubled loans miss payments from some age and cure or are liquidated.

    A liquidated loan misses at least three payments (so it is 90+ days delinquent) and ends in REO (09)
    or a short sale (03). Other loans prepay with a monthly hazard that rises with the rate paid over the
    market, or run to maturity. A prepayment that falls inside a cure is moved to just after it.
    """
    start = 1 + np.floor(rng.gamma(2.0, 7.0, n)).astype(int)
    cures = rng.random(n) < 0.3
    cure_months = rng.integers(1, 3, n)
    liquidation_months = np.minimum(3 + rng.poisson(7, n), 36)
    reo = rng.random(n) < 0.65
    prepay = rng.geometric(np.clip(0.008 + 0.006 * rate_gap, 0.002, 0.03))
    unknown_status_age = np.where(rng.random(n) < 0.02, rng.integers(1, 121, n), 0)

    before_prepay = trouble & (start < prepay)
    liquidated = before_prepay & ~cures & (start + liquidation_months <= term)
    cured = before_prepay & cures & (start + cure_months < term)
    prepay = np.where(cured, np.maximum(prepay, start + cure_months), prepay)
    return {
        "delinquent_from": np.where(liquidated | cured, start, 0),
        "delinquent_months": np.where(liquidated, liquidation_months, np.where(cured, cure_months, 0)),
        "end_age": np.where(liquidated, start + liquidation_months, np.minimum(prepay, term)),
        "end_code": np.where(liquidated, np.where(reo, "09", "03"), "01"),
        "unknown_status_age": unknown_status_age,
    }


def _liquidation_shares(rng: np.random.Generator, n: int, shift: float) -> dict[str, np.ndarray]:
    """Sale proceeds, expenses and non-MI recoveries of a liquidation, as shares of the removed balance."""
    return {
        "sale_share": np.clip(rng.normal(0.72 - 0.08 * shift, 0.12, n), 0.2, 1.0),
        "legal_share": rng.uniform(0.01, 0.03, n),
        "upkeep_share": rng.uniform(0.003, 0.02, n),
        "tax_share": rng.uniform(0.01, 0.03, n),
        "misc_share": rng.uniform(0.0, 0.005, n),
        "non_mi_share": rng.uniform(0.0, 0.01, n) * (rng.random(n) < 0.4),
    }
