"""Firehose prefixes narrowed to a window's key prefixes, and the table stream_health prints."""

from __future__ import annotations

from datetime import UTC, datetime

from loanlake.streaming.findings import failed, passed, table
from loanlake.streaming.prefixes import effective_prefix, render_date, window_prefixes

START = datetime(2026, 3, 31, 23, 50, tzinfo=UTC)
END = datetime(2026, 4, 1, 0, 5, tzinfo=UTC)


def test_java_date_formats_render_as_firehose_does():
    assert render_date("yyyy/MM/dd/HH", END) == "2026/04/01/00"
    assert render_date("'year='yyyy'/month='MM", END) == "year=2026/month=04"
    assert render_date("yy-MM-dd HH:mm:ss", START) == "26-03-31 23:50:00"


def test_a_window_over_midnight_lists_both_days():
    assert window_prefixes("apps/!{timestamp:yyyy/MM/dd/HH}/", START, END) == ["apps/2026/03/31", "apps/2026/04/01"]


def test_error_output_types_are_expanded_before_the_date():
    prefixes = window_prefixes("errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/", END, END, error=True)
    assert prefixes == ["errors/format-conversion-failed/2026/04/01", "errors/processing-failed/2026/04/01"]


def test_a_prefix_without_expressions_gets_firehose_default_partitioning():
    assert effective_prefix("apps/") == "apps/!{timestamp:yyyy/MM/dd/HH}/"
    assert effective_prefix("errors/", error=True) == "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
    assert window_prefixes("apps/", END, END) == ["apps/2026/04/01"]


def test_an_expression_that_cannot_be_listed_ends_the_prefix():
    assert window_prefixes("apps/!{firehose:random-string}/!{timestamp:yyyy}/", START, END) == ["apps/"]
    assert window_prefixes("apps/!{timestamp:yyyy}/x/", START, END) == ["apps/2026"], "no day token: the whole format"


def test_the_table_marks_what_remediation_fixed():
    found = [
        passed("stream", "exists", "stream apps"),
        failed("stream", "shards", "1 open, traffic needs 3", {"action": "update_shard_count", "target": 3}),
        failed("delivery", "errors", "2 new objects"),
    ]
    lines = table(found, fixed={"stream/shards"}).splitlines()
    assert lines[0].split() == ["component", "check", "result", "detail"]
    assert lines[1].split()[:3] == ["stream", "exists", "PASS"]
    assert lines[2].split()[:3] == ["stream", "shards", "FIXED"]
    assert lines[3].split()[:3] == ["delivery", "errors", "FAIL"]
    assert found[1].line == "FAIL stream/shards: 1 open, traffic needs 3 [fixable: update_shard_count]"
