"""Both Freddie Mac layouts: field counts, layout detection, file names."""

from __future__ import annotations

import pytest

from loanlake.freddie_mac.layouts import (
    FIELDS,
    LayoutError,
    archive_name,
    detect_layout,
    fields,
    layout_for_field_count,
    member_kind,
    member_names,
    parse_archive_name,
    raw_key,
)


@pytest.mark.parametrize(
    ("layout", "kind", "count"),
    [
        ("legacy", "origination", 32),
        ("legacy", "performance", 32),
        ("r47", "origination", 31),
        ("r47", "performance", 35),
    ],
)
def test_field_counts_match_the_published_layouts(layout, kind, count):
    assert len(fields(layout, kind)) == count
    assert len(set(fields(layout, kind))) == count, "field names are unique"
    assert layout_for_field_count(kind, count) == layout


def test_release_47_moved_servicer_name_and_mi_cancellation_to_performance():
    assert "servicer_name" in FIELDS[("legacy", "origination")]
    assert "servicer_name" not in FIELDS[("r47", "origination")]
    assert FIELDS[("r47", "performance")][-3:] == (
        "mi_cancellation_indicator",
        "servicer_name",
        "bankruptcy_cramdown_costs",
    )
    assert FIELDS[("r47", "origination")][-1] == "vantagescore_4"
    assert FIELDS[("r47", "performance")][1] == "period"


def _line(count: int) -> str:
    return "|".join(["x"] * count)


def test_detect_layout_follows_the_majority_of_lines_not_the_first():
    head = "\n".join([_line(30), *[_line(35)] * 5, _line(35)[:10]]).encode()  # a bad first line, a cut last line
    assert detect_layout("performance", head) == "r47"


def test_detect_layout_ignores_a_bom_and_crlf():
    head = ("\ufeff" + _line(32) + "\r\n" + _line(32) + "\r\n").encode()
    assert detect_layout("origination", head) == "legacy"


def test_detect_layout_names_the_file_and_the_counts_it_found():
    seven_fields = ((_line(7) + "\n") * 2).encode()
    with pytest.raises(
        LayoutError, match=r"orig\.txt: no origination layout has any of the field counts found \{7: 2\}"
    ):
        detect_layout("origination", seven_fields, name="orig.txt")
    with pytest.raises(LayoutError, match="no complete record"):
        detect_layout("origination", b"", name="empty.txt")


@pytest.mark.parametrize(
    ("name", "dataset", "period"),
    [
        ("historical_data_2017Q1.zip", "quarterly", "2017Q1"),
        ("historical_data1_Q42015.zip", "quarterly", "2015Q4"),
        ("sample_2016.zip", "sample", "2016"),
        ("HISTORICAL_DATA_2001Q2.ZIP", "quarterly", "2001Q2"),
    ],
)
def test_archive_names_both_schemes(name, dataset, period):
    archive = parse_archive_name(name)
    assert (archive.dataset, archive.period) == (dataset, period)


@pytest.mark.parametrize("name", ["user_guide.pdf", "file_layout.xlsx", "historical_data_2017Q5.zip", "sample_17.zip"])
def test_other_files_are_not_archives(name):
    assert parse_archive_name(name) is None


@pytest.mark.parametrize(("layout", "old"), [("legacy", False), ("legacy", True), ("r47", False)])
def test_member_names_round_trip_to_their_kind(layout, old):
    for dataset, period in (("quarterly", "2017Q1"), ("sample", "2017")):
        if dataset == "sample" and old:
            continue
        for kind, name in member_names(dataset, period, layout, old_naming=old).items():
            assert member_kind(name) == kind
        assert parse_archive_name(archive_name(dataset, period, old_naming=old)).period == period


def test_unknown_member_is_an_error_naming_it():
    with pytest.raises(LayoutError, match=r"readme\.txt"):
        member_kind("readme.txt")


def test_raw_key_is_partitioned_by_layout_kind_and_period():
    key = raw_key("/raw/", "r47", "performance", "2017Q1", "dir/perf_2017Q1.txt")
    assert key == "raw/r47/performance/period=2017Q1/perf_2017Q1.txt"
