"""Firehose S3 prefixes with expressions, narrowed to the key prefixes that can hold a time window's objects.

Firehose evaluates ``!{timestamp:<Java date format>}`` at the records' arrival (UTC) and
``!{firehose:error-output-type}`` as the failure kind; a prefix without expressions gets ``yyyy/MM/dd/HH/``
appended (and an error prefix ``<error-output-type>/yyyy/MM/dd/HH/``). Listing the static head of a busy
prefix reads its whole history, so the checks list one key prefix per day of the window instead.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

EXPRESSION = re.compile(r"!\{([^:}]+):([^}]*)\}")
JAVA_TOKEN = re.compile(r"yyyy|yy|MM|dd|HH|mm|ss|'[^']*'")
STRFTIME = {"yyyy": "%Y", "yy": "%y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
# The error output types of an S3 destination with a Lambda processor and optional format conversion.
ERROR_OUTPUT_TYPES = ("processing-failed", "format-conversion-failed")


def effective_prefix(prefix: str, *, error: bool = False) -> str:
    """The prefix as Firehose applies it: the default time partitioning when it has no expressions."""
    if EXPRESSION.search(prefix):
        return prefix
    kind = "!{firehose:error-output-type}/" if error else ""
    return f"{prefix}{kind}!{{timestamp:yyyy/MM/dd/HH}}/"


def render_date(java_format: str, moment: datetime) -> str:
    """A Java date format (the tokens Firehose documents) rendered for ``moment``."""

    def token(match: re.Match[str]) -> str:
        text = match.group(0)
        return text[1:-1] if text.startswith("'") else moment.strftime(STRFTIME[text])

    return JAVA_TOKEN.sub(token, java_format)


def window_prefixes(prefix: str, start: datetime, end: datetime, *, error: bool = False) -> list[str]:
    """Key prefixes that hold every object whose records arrived between ``start`` and ``end`` (UTC).

    The static head, error output types expanded, then the first timestamp expression cut after its day
    (``yyyy/MM/dd/HH`` -> ``yyyy/MM/dd``) and rendered for each day of the window. Anything after that,
    or an expression that cannot be enumerated (``!{firehose:random-string}``), ends the prefix.
    """
    heads = [""]
    position = 0
    prefix = effective_prefix(prefix, error=error)
    for match in EXPRESSION.finditer(prefix):
        literal = prefix[position : match.start()]
        namespace, argument = match.group(1), match.group(2)
        if namespace == "firehose" and argument == "error-output-type":
            heads = [head + literal + kind for head in heads for kind in ERROR_OUTPUT_TYPES]
            position = match.end()
            continue
        if namespace == "timestamp":
            day_format = _through_day(argument)
            days = _days(start, end)
            return sorted({head + literal + render_date(day_format, day) for head in heads for day in days})
        return sorted(head + literal for head in heads)
    return sorted(head + prefix[position:] for head in heads)


def _through_day(java_format: str) -> str:
    """The format up to and including its ``dd`` token (all of it when it has none)."""
    day = java_format.find("dd")
    return java_format if day < 0 else java_format[: day + 2]


def _days(start: datetime, end: datetime) -> list[datetime]:
    days, moment = [], start
    while moment.date() <= end.date():
        days.append(moment)
        moment += timedelta(days=1)
    return days
