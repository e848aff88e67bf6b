"""The bad-input corpus: what each kind of bad input is, and what must come of it.

Every case is a small record: an id, its area, the input, and the expected outcome. An outcome is one of

- ``Fails``: an exception of the given type whose message names every string of ``names`` (the file, URL, line,
  field or key at fault), and none of ``absent`` (a password, say); ``{login_url}``, ``{base_url}`` and
  ``{location}`` stand for the URL the test serves;
- ``Quarantined``: the raw line comes out as a quarantine row with its reason, at its line number;
- ``Kept``: the raw line comes out as a loaded row;
- ``Counted``: the capture record is skipped and counted under its reason;
- ``Refused``: the Lambda answers with the failure it documents, naming the problem;
- ``Rejected``: a manual Param is refused when the run is triggered and/or by the run's first task.

Nothing here may end in a bare traceback (an exception whose message lacks the offending name) or a lost row.
The tests are test_bad_input_corpus.py (all areas but raw lines) and test_bad_input_hql.py (raw lines, Hive).
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from loanlake.freddie_mac.layouts import FIELDS, fields

PORTAL = "portal"
ZIPS = "zips"
RAW_LINES = "raw lines"
PARAMS = "manual params"
CAPTURE = "capture records"
LAMBDA = "lambda events"
CONFIG = "config"
AREAS = (PORTAL, ZIPS, RAW_LINES, PARAMS, CAPTURE, LAMBDA, CONFIG)


@dataclass(frozen=True)
class Case:
    id: str
    area: str
    input: Any
    expect: Any
    about: str  # one line: the input and what must come of it


# -- outcomes ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fails:
    """An exception of type ``error`` (by name) whose message names each of ``names`` and none of ``absent``."""

    error: str
    names: tuple[str, ...]
    absent: tuple[str, ...] = ()
    logged: tuple[str, ...] = ()  # a warning must name these too
    tries: int | None = None  # how many times the source was asked for the file


@dataclass(frozen=True)
class Lands:
    """The file is landed after all: its manifest entry is written and every line is in raw/."""


@dataclass(frozen=True)
class Quarantined:
    reason: str
    rows: int = 1  # quarantine rows the line becomes (a lone CR splits a line in two)


@dataclass(frozen=True)
class Kept:
    column: str | None = None  # a column of the kept row to look at
    value: Any = None  # ... and its value


@dataclass(frozen=True)
class Counted:
    reason: str


@dataclass(frozen=True)
class Refused:
    """Firehose: ProcessingFailed with the original data; the proxy: an HTTP status. The reason names ``names``."""

    status: str | int
    names: tuple[str, ...]


@dataclass(frozen=True)
class Rejected:
    """``trigger``: the DAG's Param schema refuses the conf, naming these (the Param and the value); ``task``: the
    run's first task fails fast naming these. None: that step lets the input through."""

    trigger: tuple[str, ...] | None
    task: tuple[str, ...] | None


# -- portal responses ----------------------------------------------------------------------------------------------

USER = "analyst@example.com"
PASSWORD = "s3cret-Pa55word"
WRONG_PASSWORD = "not-the-Pa55word"
GOOD_ZIP = "historical_data_2017Q1.zip"


@dataclass(frozen=True)
class PortalInput:
    """A portal and a run against it: the sandbox portal serving ``zips`` (with ``fault`` switched on for the next
    downloads), or, with ``site``, a stand-in site whose pages have changed."""

    zips: tuple[str, ...] = (GOOD_ZIP,)
    site: str | None = None  # "spa_login": the login page is a single-page app; "no_terms": no terms form
    password: str = PASSWORD
    fault: tuple[str, int] | None = None  # (kind, times), see sandbox.portal.FAULT_KINDS
    attempts: int = 1  # source.attempts: tries per file
    quarters: tuple[str, ...] = ("2017Q1",)


FILE_URL = "{base_url}/FLoan/Data/download.php?f=historical_data_2017Q1"

PORTAL_CASES = [
    Case(
        "portal-login-page-changed",
        PORTAL,
        PortalInput(site="spa_login"),
        Fails(
            "AirflowFailException",
            ("SourceLoginError", "{login_url}", "no login form", "Sign in with your registered account"),
        ),
        "the login page became a single-page app without a form: fails fast naming the login URL",
    ),
    Case(
        "portal-terms-page-changed",
        PORTAL,
        PortalInput(site="no_terms"),
        Fails("AirflowFailException", ("SourceLoginError", "{base_url}/FLoan/secure/auth.php", USER, "no terms form")),
        "the login is accepted but no terms form follows: fails fast naming the URL and the user",
    ),
    Case(
        "portal-wrong-credentials",
        PORTAL,
        PortalInput(password=WRONG_PASSWORD),
        Fails(
            "AirflowFailException",
            ("SourceLoginError", "{base_url}/FLoan/secure/auth.php", USER, "Invalid username/password"),
            absent=(WRONG_PASSWORD, PASSWORD),
        ),
        "a wrong password: fails fast naming the URL and the user, never the password",
    ),
    Case(
        "portal-download-page-without-links",
        PORTAL,
        PortalInput(zips=()),
        Fails("AirflowFailException", ("SourceError", "{base_url}/FLoan/Data/download.php", "links no")),
        "the download page links no zip at all: fails fast naming the page (not 'not published yet')",
    ),
    Case(
        "portal-zip-name-matches-no-scheme",
        PORTAL,
        PortalInput(zips=("historical_data_2017_Q1.zip", "historical_data_2017Q2.zip")),
        Fails(
            "AirflowFailException",
            ("MissingPeriodError", "{login_url}", "does not offer 2017Q1", "2017Q2"),
            logged=("historical_data_2017_Q1.zip", "matches no Freddie Mac naming scheme"),
        ),
        "a zip named in no known scheme: a warning names it; the wanted quarter is reported missing",
    ),
    Case(
        "portal-html-instead-of-zip",
        PORTAL,
        PortalInput(fault=("html_instead_of_zip", 2)),
        Fails("AirflowFailException", ("NotAZipError", FILE_URL, "Please log in", "instead of a zip")),
        "'Please log in' HTML with status 200 even after a fresh login: fails fast naming the URL and the page",
    ),
    Case(
        "portal-5xx-after-retries",
        PORTAL,
        PortalInput(fault=("http_500", 3), attempts=3),
        Fails("TransientSourceError", (FILE_URL, "HTTP 500", "Try again later")),
        "HTTP 500 on every one of 3 tries: a transient error (Airflow retries the task) naming the URL",
    ),
    Case(
        "portal-truncated-body-every-try",
        PORTAL,
        PortalInput(fault=("truncated", 2), attempts=2),
        Fails("TransientSourceError", (FILE_URL, "cut short")),
        "a body cut short on both tries: a transient error naming the URL and the bytes received",
    ),
    Case(
        "portal-truncated-body-once",
        PORTAL,
        PortalInput(fault=("truncated", 1), attempts=2),
        Lands(),
        "a body cut short once: the second try lands the whole file, every line, once",
    ),
]

# -- zips ----------------------------------------------------------------------------------------------------------

ZIP_URL = "https://files.example.test/freddie/historical_data_2017Q1.zip"


def record_lines(layout: str, kind: str, count: int, width: int | None = None) -> bytes:
    """``count`` pipe-delimited lines of the layout's field count (or ``width``)."""
    width = width or len(FIELDS[(layout, kind)])
    return b"".join("|".join(f"{i}-{j}" for j in range(width)).encode() + b"\n" for i in range(count))


def zip_of(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def loan_zip() -> bytes:
    """A good Release 47 quarterly zip: 40 origination and 120 performance lines."""
    return zip_of(
        {
            "orig_2017Q1.txt": record_lines("r47", "origination", 40),
            "perf_2017Q1.txt": record_lines("r47", "performance", 120),
        }
    )


def _crc_broken() -> bytes:
    data = bytearray(zip_of({"orig_2017Q1.txt": record_lines("r47", "origination", 40)}, zipfile.ZIP_STORED))
    at = data.index(b"7-3|")
    data[at] = ord("8")  # stored, so the flipped byte reaches the CRC check unchanged
    return bytes(data)


@dataclass(frozen=True)
class ZipInput:
    body: bytes
    listed_size: int | None = None  # the size the source listed, when it says one
    attempts: int = 1


ZIP_CASES = [
    Case(
        "zip-not-a-zip",
        ZIPS,
        ZipInput(gzip.compress(b"F17Q10000001|201701\n" * 50)),
        Fails("AirflowFailException", ("NotAZipError", ZIP_URL, "1f 8b", "instead of a zip")),
        "a gzip file under a .zip name: fails fast naming the URL and the bytes it starts with",
    ),
    Case(
        "zip-crc-error",
        ZIPS,
        ZipInput(_crc_broken()),
        Fails("AirflowFailException", ("CorruptZipError", ZIP_URL, "historical_data_2017Q1.zip", "CRC32")),
        "a member whose bytes fail their CRC-32: fails fast naming the zip; nothing is left in raw/",
    ),
    Case(
        "zip-empty",
        ZIPS,
        ZipInput(zip_of({})),
        Fails("AirflowFailException", ("CorruptZipError", ZIP_URL, "empty zip")),
        "a valid zip with no member: fails fast saying the zip at the URL is empty",
    ),
    Case(
        "zip-directory-only",
        ZIPS,
        ZipInput(zip_of({"historical_data_2017Q1/": b""})),
        Fails("AirflowFailException", ("CorruptZipError", ZIP_URL, "holds no files")),
        "a zip holding only a folder entry: fails fast saying it holds no files",
    ),
    Case(
        "zip-unknown-member",
        ZIPS,
        ZipInput(zip_of({"orig_2017Q1.txt": record_lines("r47", "origination", 40), "readme.txt": b"Release notes\n"})),
        Fails("AirflowFailException", ("LayoutError", ZIP_URL, "readme.txt", "neither an origination")),
        "a member that is neither origination nor performance: fails fast naming the zip and the member",
    ),
    Case(
        "zip-member-wrong-field-count",
        ZIPS,
        ZipInput(zip_of({"orig_2017Q1.txt": record_lines("r47", "origination", 30, width=7)})),
        Fails("AirflowFailException", ("LayoutError", "historical_data_2017Q1.zip:orig_2017Q1.txt", "{7: 30}")),
        "a member whose lines have 7 fields (no layout has 7): fails fast naming zip, member and counts",
    ),
    Case(
        "zip-member-empty",
        ZIPS,
        ZipInput(zip_of({"orig_2017Q1.txt": b"", "perf_2017Q1.txt": record_lines("r47", "performance", 5)})),
        Fails("AirflowFailException", ("LayoutError", "historical_data_2017Q1.zip:orig_2017Q1.txt", "no complete")),
        "an empty origination member: fails fast naming the member",
    ),
    Case(
        "zip-cut-short",
        ZIPS,
        ZipInput(loan_zip()[:1500], attempts=2),
        Fails("TransientSourceError", (ZIP_URL, "ended early"), tries=2),
        "a zip whose bytes stop early on both tries: a transient error naming the URL, tried twice",
    ),
    Case(
        "zip-size-differs-from-listing",
        ZIPS,
        ZipInput(loan_zip(), listed_size=len(loan_zip()) + 100),
        Fails("TransientSourceError", (ZIP_URL, f"got {len(loan_zip())} bytes", f"said {len(loan_zip()) + 100}")),
        "fewer bytes than the source listed: a transient error naming the URL and both sizes; no manifest",
    ),
]

# -- raw lines (Hive) ----------------------------------------------------------------------------------------------

RAW_PERIOD = "2019Q3"
LEGACY_ORIGINATION = "legacy/origination/historical_data_2019Q3.txt"
LEGACY_PERFORMANCE = "legacy/performance/historical_data_time_2019Q3.txt"
R47_ORIGINATION = "r47/origination/orig_2019Q3.txt"
BOM = "\ufeff".encode()

# A good legacy line of each kind (as the sandbox generator writes them); the cases change a field or two.
ORIGINATION_LINE = (
    "717|201907|N|204906|33100|8|1|P|96|40|187000|82|4.250|R|N|FRM|FL|PU|33100|F19Q30000000|P|360|1|"
    "QUICKEN LOANS, LLC|QUICKEN LOANS, LLC|||9||2|N|N"
)
PERFORMANCE_LINE = "F19Q30000000|201908|186742.36|0|1|359|||||4.250|0|201907|||||||||||||82||||||186742.36"
_ORIGINATION = dict(zip(fields("legacy", "origination"), ORIGINATION_LINE.split("|"), strict=True))
_PERFORMANCE = dict(zip(fields("legacy", "performance"), PERFORMANCE_LINE.split("|"), strict=True))


def loan_id(number: int) -> str:
    return f"F19Q3{number:07d}"


def origination(number: int, layout: str = "legacy", **values: str) -> bytes:
    """A good origination line of ``layout`` for loan ``number``, with ``values`` replacing fields."""
    record = _ORIGINATION | {"loan_seq_no": loan_id(number), "vantagescore_4": "745"} | values
    return "|".join(record[name] for name in fields(layout, "origination")).encode()  # type: ignore[arg-type]


def performance(number: int, **values: str) -> bytes:
    record = _PERFORMANCE | {"loan_seq_no": loan_id(number)} | values
    return "|".join(record[name] for name in fields("legacy", "performance")).encode()


@dataclass(frozen=True)
class RawLine:
    """One line of a raw file, as landed: ``line`` without its line end; ``end`` is what follows it."""

    file: str
    line: bytes
    loan: str | None  # the loan id a kept row would carry (None where the line has none)
    end: bytes = b"\n"


def _without(line: bytes, field_index: int) -> bytes:
    parts = line.split(b"|")
    return b"|".join(parts[:field_index] + parts[field_index + 1 :])


RAW_LINE_CASES = [
    Case(
        "raw-bom-on-first-line",
        RAW_LINES,
        RawLine(LEGACY_ORIGINATION, BOM + origination(1), loan_id(1)),
        Kept("credit_score", 717),
        "a UTF-8 byte order mark before the file's first line: cleaned, the line is kept",
    ),
    Case(
        "raw-crlf-line-end",
        RAW_LINES,
        RawLine(LEGACY_ORIGINATION, origination(2), loan_id(2), end=b"\r\n"),
        Kept("mi_cancellation_indicator", "N"),
        "a Windows line end: the CR is cleaned, the last field reads N, the line is kept",
    ),
    Case(
        "raw-empty-line",
        RAW_LINES,
        RawLine(LEGACY_ORIGINATION, b"", None),
        Quarantined("empty line"),
        "an empty line: a quarantine row 'empty line' at its line number",
    ),
    Case(
        "raw-spaces-only",
        RAW_LINES,
        RawLine(LEGACY_ORIGINATION, b"      ", None),
        Quarantined("empty line"),
        "a line of spaces: a quarantine row 'empty line'",
    ),
    Case(
        "raw-bom-only-line",
        RAW_LINES,
        RawLine(LEGACY_ORIGINATION, BOM, None),
        Quarantined("empty line"),
        "a line holding nothing but a byte order mark: a quarantine row 'empty line'",
    ),
    Case(
        "raw-field-missing",
        RAW_LINES,
        RawLine(LEGACY_ORIGINATION, _without(origination(6), 24), loan_id(6)),
        Quarantined("wrong field count"),
        "a legacy line that lost a field (31 of 32): a quarantine row 'wrong field count'",
    ),
    Case(
        "raw-field-extra",
        RAW_LINES,
        RawLine(LEGACY_ORIGINATION, origination(7) + b"|extra", loan_id(7)),
        Quarantined("wrong field count"),
        "a line with a 33rd field: a quarantine row 'wrong field count'",
    ),
    Case(
        "raw-r47-line-in-legacy-file",
        RAW_LINES,
        RawLine(LEGACY_ORIGINATION, origination(8, "r47"), loan_id(8)),
        Quarantined("wrong field count"),
        "a Release 47 line (31 fields) inside a legacy file: 'wrong field count', not read as another layout",
    ),
    Case(
        "raw-legacy-line-in-r47-file",
        RAW_LINES,
        RawLine(R47_ORIGINATION, origination(9), loan_id(9)),
        Quarantined("wrong field count"),
        "a legacy line (32 fields) inside a Release 47 file: 'wrong field count'",
    ),
    Case(
        "raw-letter-in-number",
        RAW_LINES,
        RawLine(LEGACY_ORIGINATION, origination(10, credit_score="7O7"), loan_id(10)),
        Quarantined("unparsable number"),
        "credit score '7O7' (a letter O): a quarantine row 'unparsable number'",
    ),
    Case(
        "raw-thousands-separator",
        RAW_LINES,
        RawLine(LEGACY_PERFORMANCE, performance(11, current_actual_upb="186,742.36"), loan_id(11)),
        Quarantined("unparsable number"),
        "a balance written 186,742.36: a quarantine row 'unparsable number'",
    ),
    Case(
        "raw-month-13",
        RAW_LINES,
        RawLine(LEGACY_ORIGINATION, origination(12, first_payment_date="201913"), loan_id(12)),
        Quarantined("impossible date"),
        "first payment date 201913: a quarantine row 'impossible date'",
    ),
    Case(
        "raw-reporting-period-year-only",
        RAW_LINES,
        RawLine(LEGACY_PERFORMANCE, performance(13, monthly_reporting_period="2019"), loan_id(13)),
        Quarantined("impossible date"),
        "reporting period 2019 (no month): a quarantine row 'impossible date'",
    ),
    Case(
        "raw-unknown-occupancy-code",
        RAW_LINES,
        RawLine(LEGACY_ORIGINATION, origination(14, occupancy_status="X"), loan_id(14)),
        Quarantined("unknown code"),
        "occupancy status X: a quarantine row 'unknown code'",
    ),
    Case(
        "raw-malformed-loan-id",
        RAW_LINES,
        RawLine(LEGACY_ORIGINATION, origination(15, loan_seq_no="F19Q300015"), None),
        Quarantined("unknown code"),
        "loan id F19Q300015 (too short): a quarantine row 'unknown code'",
    ),
    Case(
        "raw-unknown-delinquency-status",
        RAW_LINES,
        RawLine(LEGACY_PERFORMANCE, performance(16, current_delinquency_status="R"), loan_id(16)),
        Quarantined("unknown code"),
        "delinquency status R (only RA and XX are letters): a quarantine row 'unknown code'",
    ),
    Case(
        "raw-unknown-zero-balance-code",
        RAW_LINES,
        RawLine(LEGACY_PERFORMANCE, performance(17, zero_balance_code="05"), loan_id(17)),
        Quarantined("unknown code"),
        "zero balance code 05: a quarantine row 'unknown code'",
    ),
    Case(
        "raw-nul-in-number",
        RAW_LINES,
        RawLine(LEGACY_ORIGINATION, origination(18, orig_upb="187\x00000"), loan_id(18)),
        Quarantined("unparsable number"),
        "a NUL byte inside the original balance: a quarantine row 'unparsable number'",
    ),
    Case(
        "raw-nul-in-text",
        RAW_LINES,
        RawLine(LEGACY_ORIGINATION, origination(19, seller_name="QUICKEN\x00LOANS, LLC"), loan_id(19)),
        Kept("seller_name", "QUICKEN\x00LOANS, LLC"),
        "a NUL byte inside the seller name (free text): the line is kept, the byte with it",
    ),
    Case(
        "raw-invalid-utf8-in-text",
        RAW_LINES,
        RawLine(
            LEGACY_ORIGINATION, origination(20).replace(b"QUICKEN LOANS, LLC|", b"CAF\xc9 LOANS, LLC|", 1), loan_id(20)
        ),
        Kept("seller_name", "CAF\ufffd LOANS, LLC"),
        "a Latin-1 byte (invalid UTF-8) in the seller name: kept, the byte read as U+FFFD",
    ),
    Case(
        "raw-invalid-utf8-in-code",
        RAW_LINES,
        RawLine(LEGACY_ORIGINATION, origination(21).replace(b"|FL|", b"|F\xff|", 1), loan_id(21)),
        Quarantined("unknown code"),
        "an invalid UTF-8 byte in the property state: a quarantine row 'unknown code'",
    ),
    Case(
        "raw-spaces-around-fields",
        RAW_LINES,
        RawLine(
            LEGACY_ORIGINATION, origination(22, credit_score=" 717 ", seller_name="QUICKEN LOANS, LLC   "), loan_id(22)
        ),
        Kept("credit_score", 717),
        "spaces around values: trimmed, the line is kept",
    ),
    Case(
        "raw-net-sales-proceeds-code",
        RAW_LINES,
        RawLine(LEGACY_PERFORMANCE, performance(23, net_sales_proceeds="C"), loan_id(23)),
        Kept("net_sales_proceeds_code", "C"),
        "net sales proceeds C (a documented code, not a number): the line is kept",
    ),
    Case(
        "raw-last-line-without-newline",
        RAW_LINES,
        RawLine(LEGACY_PERFORMANCE, performance(24), loan_id(24), end=b""),
        Kept("current_actual_upb", Decimal("186742.36")),
        "a file whose last line has no line end: the last line is kept",
    ),
    Case(
        "raw-lone-cr-inside-line",
        RAW_LINES,
        RawLine(LEGACY_ORIGINATION, origination(25).replace(b"|FRM|", b"|FRM\r|", 1), loan_id(25)),
        Quarantined("wrong field count", rows=2),
        "a bare CR inside a line (the engine ends lines there): both halves quarantined, nothing lost",
    ),
]

# -- manual Params -------------------------------------------------------------------------------------------------

INGEST, PROCESSING, WAREHOUSE = "freddie_mac_ingest", "loan_data_processing", "loan_warehouse_load"


@dataclass(frozen=True)
class ParamsInput:
    dag_id: str
    conf: dict[str, Any]
    events: tuple[dict[str, Any], ...] = ()  # extras of the asset events that triggered the run


PARAM_CASES = [
    Case(
        "params-ingest-quarter-5",
        PARAMS,
        ParamsInput(INGEST, {"quarters": ["2017Q5"]}),
        Rejected(trigger=("quarters", "2017Q5"), task=("MissingPeriodError", "2017Q5", "not a quarter")),
        "quarters ['2017Q5']: refused at trigger naming the Param and the value; the task names it too",
    ),
    Case(
        "params-ingest-quarter-before-1999",
        PARAMS,
        ParamsInput(INGEST, {"quarters": ["1998Q4"]}),
        Rejected(trigger=None, task=("MissingPeriodError", "1998Q4", "before 1999Q1")),
        "quarters ['1998Q4']: the DAG's schema lets 19xx through; discover fails fast naming it and 1999Q1",
    ),
    Case(
        "params-ingest-sample-year-string",
        PARAMS,
        ParamsInput(INGEST, {"sample_years": ["2017"]}),
        Rejected(trigger=("sample_years", "'2017' is not of type 'integer'"), task=None),
        "sample_years ['2017'] (a string): refused at trigger naming the Param and the value",
    ),
    Case(
        "params-ingest-sample-year-before-1999",
        PARAMS,
        ParamsInput(INGEST, {"sample_years": [1998]}),
        Rejected(trigger=("sample_years", "1998 is less than the minimum of 1999"), task=("1998", "before 1999Q1")),
        "sample_years [1998]: refused at trigger (minimum 1999); the task names it too",
    ),
    Case(
        "params-processing-quarter-5",
        PARAMS,
        ParamsInput(PROCESSING, {"periods": ["2017Q5"]}),
        Rejected(trigger=("periods", "2017Q5"), task=("periods", "2017Q5")),
        "periods ['2017Q5']: refused at trigger and by resolve_periods, naming the value",
    ),
    Case(
        "params-processing-before-1999",
        PARAMS,
        ParamsInput(PROCESSING, {"periods": ["1998Q4"]}),
        Rejected(trigger=("periods", "1998Q4"), task=("periods", "1998Q4", "1999")),
        "periods ['1998Q4']: refused at trigger and by resolve_periods, before any EMR cluster starts",
    ),
    Case(
        "params-processing-year-as-number",
        PARAMS,
        ParamsInput(PROCESSING, {"periods": [2017]}),
        Rejected(trigger=("periods", "2017 is not of type 'string'"), task=("periods", "[2017]")),
        "periods [2017] (a number): refused at trigger and by resolve_periods",
    ),
    Case(
        "params-warehouse-lower-case-quarter",
        PARAMS,
        ParamsInput(WAREHOUSE, {"periods": ["2017q1"]}),
        Rejected(trigger=("periods", "2017q1"), task=("periods", "2017q1")),
        "periods ['2017q1']: refused at trigger and by resolve_periods",
    ),
    Case(
        "params-ingest-undeclared-key",
        PARAMS,
        ParamsInput(INGEST, {"quarter": ["2017Q1"]}),
        Rejected(trigger=None, task=("'quarter'", "not a Param of freddie_mac_ingest", "'quarters'")),
        "quarter (for quarters): Airflow keeps the key; discover fails fast naming it and the declared Params",
    ),
    Case(
        "params-warehouse-undeclared-key",
        PARAMS,
        ParamsInput(WAREHOUSE, {"period": ["2017Q1"]}),
        Rejected(trigger=None, task=("'period'", "not a Param of loan_warehouse_load", "'periods'")),
        "period (for periods): resolve_periods fails fast rather than publish the asset events' periods",
    ),
    Case(
        "params-processing-asset-event-bad-period",
        PARAMS,
        ParamsInput(PROCESSING, {}, events=({"periods": ["2017Q5"], "manifest": "s3://loanlake-data/m.json"},)),
        Rejected(trigger=None, task=("periods", "2017Q5")),
        "no Params, a triggering asset event naming 2017Q5: resolve_periods fails fast naming it",
    ),
]

# -- capture records -----------------------------------------------------------------------------------------------

GOOD_CSV_ROW = "712,80,85,36,6.125,250000,360,,2,1,0,0,2,0,1"


def capture_line(data: str, encoding: str = "CSV", content_type: str = "text/csv") -> str:
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": content_type,
                    "mode": "INPUT",
                    "data": data,
                    "encoding": encoding,
                },
                "endpointOutput": {
                    "observedContentType": "text/csv",
                    "mode": "OUTPUT",
                    "data": "0.1",
                    "encoding": "CSV",
                },
            },
            "eventMetadata": {"eventId": "4f1c2d9e", "inferenceTime": "2026-01-01T00:00:00Z"},
            "eventVersion": "0",
        }
    )


@dataclass(frozen=True)
class CaptureInput:
    bad: bytes  # one record (a line) among good ones in one capture file


CAPTURE_CASES = [
    Case(
        "capture-not-json",
        CAPTURE,
        CaptureInput(b'{"captureData": {"endpointInput": '),
        Counted("not_json"),
        "a record cut off mid-JSON: skipped, counted as not_json; the other records count",
    ),
    Case(
        "capture-invalid-utf8",
        CAPTURE,
        CaptureInput(capture_line("712,80").encode().replace(b"712", b"7\xff2")),
        Counted("not_json"),
        "a record with an invalid UTF-8 byte: skipped, counted as not_json",
    ),
    Case(
        "capture-unknown-encoding",
        CAPTURE,
        CaptureInput(capture_line(f"<row>{GOOD_CSV_ROW}</row>", "XML", "application/xml").encode()),
        Counted("unknown_encoding"),
        "encoding XML: skipped, counted as unknown_encoding",
    ),
    Case(
        "capture-wrong-field-count-csv",
        CAPTURE,
        CaptureInput(capture_line("712,80,85").encode()),
        Counted("wrong_field_count"),
        "a CSV row of 3 values (15 features): skipped, counted as wrong_field_count",
    ),
    Case(
        "capture-wrong-field-count-json",
        CAPTURE,
        CaptureInput(capture_line(json.dumps([712, 80, 85, 36]), "JSON", "application/json").encode()),
        Counted("wrong_field_count"),
        "a JSON row of 4 values: skipped, counted as wrong_field_count",
    ),
    Case(
        "capture-bad-base64",
        CAPTURE,
        CaptureInput(capture_line("NzEyLDgw!!", "BASE64").encode()),
        Counted("bad_base64"),
        "BASE64 data that is not base64: skipped, counted as bad_base64",
    ),
    Case(
        "capture-non-numeric",
        CAPTURE,
        CaptureInput(capture_line(GOOD_CSV_ROW.replace("712", "seven")).encode()),
        Counted("non_numeric"),
        "a CSV value 'seven': skipped, counted as non_numeric",
    ),
    Case(
        "capture-no-endpoint-input",
        CAPTURE,
        CaptureInput(json.dumps({"captureData": {"endpointOutput": {"data": "0.1"}}}).encode()),
        Counted("no_endpoint_input"),
        "a record with only the endpoint's output: skipped, counted as no_endpoint_input",
    ),
]

# -- Lambda events -------------------------------------------------------------------------------------------------

APPLICATION = {
    "application_id": "APP-2026-000042",
    "event_time": "2026-01-01T00:00:01Z",
    "loan_amount": 250000,
    "ltv": 80,
    "dti": 36,
    "state": "CA",
    "channel": "R",
}
PROXY_FEATURES = ("credit_score", "orig_ltv", "orig_dti", "orig_interest_rate", "orig_upb", "orig_loan_term")


def b64(payload: bytes | str | dict[str, Any]) -> str:
    if isinstance(payload, dict):
        payload = json.dumps(payload)
    return base64.b64encode(payload if isinstance(payload, bytes) else payload.encode()).decode()


@dataclass(frozen=True)
class TransformInput:
    record: dict[str, Any]  # one Firehose record among good ones


@dataclass(frozen=True)
class ProxyInput:
    body: str | None
    content_type: str | None = "application/json"
    base64_encoded: bool = False


LAMBDA_CASES = [
    Case(
        "transform-bad-base64",
        LAMBDA,
        TransformInput({"recordId": "rec-bad-b64", "data": "eyJhcHBsaWNhdGlvbl9pZCI6!!"}),
        Refused("ProcessingFailed", ("rec-bad-b64", "not valid base64")),
        "record data that is not base64: ProcessingFailed with its data; the log names the record",
    ),
    Case(
        "transform-not-json",
        LAMBDA,
        TransformInput({"recordId": "rec-not-json", "data": b64("application_id=APP-1;loan_amount=250000")}),
        Refused("ProcessingFailed", ("rec-not-json", "not valid JSON")),
        "record data that is not JSON: ProcessingFailed; the log names the record and the reason",
    ),
    Case(
        "transform-not-utf8",
        LAMBDA,
        TransformInput(
            {"recordId": "rec-latin1", "data": b64(json.dumps(APPLICATION).encode().replace(b"CA", b"\xc7A"))}
        ),
        Refused("ProcessingFailed", ("rec-latin1", "not UTF-8")),
        "record data in Latin-1: ProcessingFailed naming the byte offset",
    ),
    Case(
        "transform-missing-field",
        LAMBDA,
        TransformInput({"recordId": "rec-no-ltv", "data": b64({k: v for k, v in APPLICATION.items() if k != "ltv"})}),
        Refused("ProcessingFailed", ("rec-no-ltv", "ltv is missing")),
        "an event without ltv: ProcessingFailed naming the field",
    ),
    Case(
        "transform-record-without-data",
        LAMBDA,
        TransformInput({"recordId": "rec-no-data"}),
        Refused("ProcessingFailed", ("rec-no-data", "not valid base64")),
        "a record without data: ProcessingFailed, still answered once under its id",
    ),
    Case(
        "proxy-content-type-text-plain",
        LAMBDA,
        ProxyInput("720,80,36.5,6.125,250000,360", "text/plain"),
        Refused(415, ("Content-Type", "'text/plain'")),
        "Content-Type text/plain: 415 naming the type received",
    ),
    Case(
        "proxy-no-content-type",
        LAMBDA,
        ProxyInput("720,80,36.5,6.125,250000,360", None),
        Refused(415, ("no Content-Type header",)),
        "no Content-Type header: 415 saying so",
    ),
    Case(
        "proxy-bad-json",
        LAMBDA,
        ProxyInput('{"features": {"credit_score": 720,}}'),
        Refused(400, ("not valid JSON", "line 1 column")),
        "a JSON body with a trailing comma: 400 naming where the JSON breaks",
    ),
    Case(
        "proxy-missing-features",
        LAMBDA,
        ProxyInput(json.dumps({"features": {"credit_score": 720, "orig_ltv": 80, "orig_upb": 250000}})),
        Refused(400, ("features missing", "orig_dti", "orig_interest_rate", "orig_loan_term")),
        "three of six features: 400 naming each missing one",
    ),
    Case(
        "proxy-csv-wrong-value-count",
        LAMBDA,
        ProxyInput("720,80", "text/csv"),
        Refused(400, ("2 values", "expected 6")),
        "a CSV line of 2 values: 400 naming the count and the expected features",
    ),
]

# -- config --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigInput:
    variable: str  # the Airflow Variable loanlake_config, as JSON text
    env: dict[str, str] = field(default_factory=dict)


CONFIG_CASES = [
    Case(
        "config-unknown-key",
        CONFIG,
        ConfigInput('{"emr": {"instance_type": "m5.2xlarge"}}'),
        Fails("AirflowFailException", ("ConfigError", "loanlake_config", "emr.instance_type: unknown key")),
        "emr.instance_type (the keys are primary_/core_instance_type): fails fast naming the key",
    ),
    Case(
        "config-bad-type",
        CONFIG,
        ConfigInput('{"ml": {"instance_count": "two"}}'),
        Fails("AirflowFailException", ("ConfigError", "ml.instance_count", "valid integer")),
        "ml.instance_count 'two': fails fast naming the key and the type wanted",
    ),
    Case(
        "config-bad-type-from-environment",
        CONFIG,
        ConfigInput("{}", {"LOANLAKE__UPLOAD_PART_MB": "lots"}),
        Fails("AirflowFailException", ("ConfigError", "upload_part_mb", "valid integer")),
        "LOANLAKE__UPLOAD_PART_MB=lots: fails fast naming the key",
    ),
    Case(
        "config-bucket-disagrees-with-assets",
        CONFIG,
        ConfigInput('{"data_bucket": "loanlake-data-prod"}'),
        Fails(
            "AirflowFailException",
            ("data_bucket", "'loanlake-data-prod'", "'loanlake-data'", "LOANLAKE__DATA_BUCKET=loanlake-data-prod"),
        ),
        "a data_bucket the Assets do not name: fails fast naming both buckets and the variable to set",
    ),
    Case(
        "config-invalid-role-arn",
        CONFIG,
        ConfigInput('{"ml": {"role_arn": "arn:aws:iam::1234:role/loanlake-sagemaker"}}'),
        Fails("AirflowFailException", ("ConfigError", "ml.role_arn", "should match pattern")),
        "an IAM role ARN with a 4-digit account: fails fast naming the key",
    ),
    Case(
        "config-invalid-topic-arn",
        CONFIG,
        ConfigInput('{"alerts": {"topic_arn": "loanlake-alerts"}}'),
        Fails("AirflowFailException", ("ConfigError", "alerts.topic_arn")),
        "an SNS topic name where its ARN belongs: fails fast naming the key",
    ),
    Case(
        "config-min-shards-above-max",
        CONFIG,
        ConfigInput('{"streaming": {"stream": {"min_shards": 12, "max_shards": 4}}}'),
        Fails("AirflowFailException", ("ConfigError", "streaming.stream", "min_shards 12 > max_shards 4")),
        "min_shards 12, max_shards 4: fails fast naming both keys and values",
    ),
    Case(
        "config-variable-not-json",
        CONFIG,
        ConfigInput("{'region': 'us-east-1'}"),
        Fails("AirflowFailException", ("ConfigError", "loanlake_config", "not valid JSON", "line 1 column 2")),
        "the Variable in Python quotes: fails fast naming the Variable and where the JSON breaks",
    ),
]

CASES = PORTAL_CASES + ZIP_CASES + RAW_LINE_CASES + PARAM_CASES + CAPTURE_CASES + LAMBDA_CASES + CONFIG_CASES
