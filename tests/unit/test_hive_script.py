"""HQL script handling of the sandbox's Hive engine that needs no Spark: variables and statement splitting."""

from __future__ import annotations

import pytest

from sandbox.hive import HiveScriptError, split_statements, substitute


def test_substitute_replaces_plain_and_hivevar_names_outside_comments() -> None:
    text = "-- reads ${DB}\nSELECT '${hivevar:PERIOD}' FROM ${DB}.t /* ${NOT_SET} */"
    assert substitute(text, {"DB": "lake", "PERIOD": "2017Q1"}) == (
        "-- reads ${DB}\nSELECT '2017Q1' FROM lake.t /* ${NOT_SET} */"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT * FROM ${DB}.t", r"undefined variable \$\{DB\} \(defined: PERIOD\)"),
        ("SELECT '${hivevar:DB}'", r"undefined variable \$\{hivevar:DB\}"),
        ("SELECT '${hiveconf:DB}'", r"unsupported variable \$\{hiveconf:DB\}"),
    ],
)
def test_substitute_is_strict(text: str, message: str) -> None:
    with pytest.raises(HiveScriptError, match=message):
        substitute(text, {"PERIOD": "2017Q1"})


def test_split_statements_ignores_semicolons_in_quotes_and_comments() -> None:
    script = """
    -- header; with a semicolon
    SET a = 1;
    SELECT 'x;y', "z;" AS `w;` FROM t /* ; */ WHERE s RLIKE '\\\\;';;
    -- only a comment;
    /* and another; */
    SELECT 2
    """
    assert split_statements(script) == [
        "-- header; with a semicolon\n    SET a = 1",
        "SELECT 'x;y', \"z;\" AS `w;` FROM t /* ; */ WHERE s RLIKE '\\\\;'",
        "-- only a comment;\n    /* and another; */\n    SELECT 2",
    ]
