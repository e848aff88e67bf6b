"""Reference tables behind the synthetic loans: market rates, loan limits, places and lenders."""

from __future__ import annotations

# Approximate yearly average 30-year fixed mortgage rate, percent.
_MARKET_RATE = {
    1999: 7.44, 2000: 8.05, 2001: 6.97, 2002: 6.54, 2003: 5.83, 2004: 5.84, 2005: 5.87, 2006: 6.41,
    2007: 6.34, 2008: 6.03, 2009: 5.04, 2010: 4.69, 2011: 4.45, 2012: 3.66, 2013: 3.98, 2014: 4.17,
    2015: 3.85, 2016: 3.65, 2017: 3.99, 2018: 4.54, 2019: 3.94, 2020: 3.11, 2021: 2.96, 2022: 5.34,
    2023: 6.81, 2024: 6.72, 2025: 6.60,
}  # fmt: skip

# One-unit conforming loan limit (baseline areas), dollars.
_CONFORMING_LIMIT = {
    1999: 240_000, 2000: 252_700, 2001: 275_000, 2002: 300_700, 2003: 322_700, 2004: 333_700, 2005: 359_650,
    2006: 417_000, 2017: 424_100, 2018: 453_100, 2019: 484_350, 2020: 510_400, 2021: 548_250, 2022: 647_200,
    2023: 726_200, 2024: 766_550, 2025: 806_500,
}  # fmt: skip

# (state, MSA code or "" for non-metro, 3-digit ZIP prefixes, weight)
PLACES = (
    ("CA", "31080", ("900", "902", "906"), 7.0),
    ("CA", "41860", ("941", "945"), 3.5),
    ("CA", "40140", ("925",), 2.5),
    ("TX", "19100", ("750", "752"), 4.0),
    ("TX", "26420", ("770", "773"), 3.5),
    ("FL", "33100", ("330", "331"), 3.0),
    ("FL", "45300", ("336",), 2.0),
    ("NY", "35620", ("100", "112", "113"), 4.0),
    ("NJ", "35620", ("070",), 2.0),
    ("IL", "16980", ("600", "606"), 4.0),
    ("GA", "12060", ("300", "303"), 3.0),
    ("AZ", "38060", ("850", "852"), 3.0),
    ("WA", "42660", ("980", "981"), 3.0),
    ("CO", "19740", ("801", "802"), 2.5),
    ("MA", "14460", ("021", "024"), 2.5),
    ("MI", "19820", ("480", "482"), 2.5),
    ("NC", "16740", ("282",), 2.0),
    ("VA", "47900", ("220", "221"), 2.5),
    ("MN", "33460", ("553", "554"), 2.0),
    ("PA", "37980", ("191",), 2.0),
    ("MT", "", ("595",), 0.8),
    ("IA", "", ("515",), 0.8),
    ("KS", "", ("677",), 0.7),
    ("NE", "", ("693",), 0.6),
    ("VT", "", ("057",), 0.5),
    ("WV", "", ("266",), 0.6),
    ("ME", "", ("047",), 0.6),
    ("WY", "", ("826",), 0.4),
)

SELLERS = (
    ("WELLS FARGO BANK, N.A.", 14.0),
    ("QUICKEN LOANS, LLC", 10.0),
    ("U.S. BANK N.A.", 6.0),
    ("JPMORGAN CHASE BANK, N.A.", 6.0),
    ("CALIBER HOME LOANS, INC.", 4.0),
    ("UNITED SHORE FINANCIAL SERVICES, LLC", 5.0),
    ("LOANDEPOT.COM, LLC", 4.0),
    ("TRUIST BANK", 3.0),
    ("Other sellers", 48.0),
)
# Servicers that are not also sellers; a loan keeps its seller as servicer most of the time.
OTHER_SERVICERS = (
    ("NATIONSTAR MORTGAGE LLC", 3.0),
    ("NEWREZ LLC", 2.0),
    ("PNC BANK, N.A.", 2.0),
    ("Other servicers", 8.0),
)


def market_rate(year: int) -> float:
    """Average 30-year fixed rate of a vintage year (the nearest tabulated year outside the table)."""
    return _MARKET_RATE[min(max(year, min(_MARKET_RATE)), max(_MARKET_RATE))]


def conforming_limit(year: int) -> int:
    """Baseline conforming loan limit of a year (it stayed at 417,000 from 2006 to 2016)."""
    known = [y for y in _CONFORMING_LIMIT if y <= year]
    return _CONFORMING_LIMIT[max(known) if known else min(_CONFORMING_LIMIT)]
