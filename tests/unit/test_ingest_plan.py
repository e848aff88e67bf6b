"""Which periods a run wants and which files it fetches; the DAG's Params reject bad manual input."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from loanlake.freddie_mac.ingest import MissingPeriodError, quarter_of, requested_periods, select
from loanlake.freddie_mac.sources import SourceFile


def _file(name: str, dataset: str, period: str) -> SourceFile:
    return SourceFile(name, f"https://portal.test/{name}", dataset, period)


OFFERED = [
    _file("historical_data_2017Q1.zip", "quarterly", "2017Q1"),
    _file("historical_data1_Q42016.zip", "quarterly", "2016Q4"),
    _file("sample_2017.zip", "sample", "2017"),
]


@pytest.mark.parametrize(
    ("moment", "quarter"),
    [
        (datetime(2017, 1, 1, tzinfo=UTC), "2017Q1"),
        (datetime(2017, 6, 30), "2017Q2"),
        (datetime(2017, 12, 31), "2017Q4"),
    ],
)
def test_quarter_of_a_data_interval_start(moment, quarter):
    assert quarter_of(moment) == quarter


def test_a_scheduled_run_wants_the_quarter_of_its_interval():
    assert requested_periods([], [], datetime(2017, 4, 1, tzinfo=UTC)) == [("quarterly", "2017Q2")]


def test_params_win_over_the_interval_and_are_deduplicated():
    wanted = requested_periods(["2017q1", "2017Q1"], [2017], datetime(2020, 1, 1, tzinfo=UTC))
    assert wanted == [("quarterly", "2017Q1"), ("sample", "2017")]


def test_select_keeps_the_wanted_files_in_order():
    assert [f.name for f in select(OFFERED, [("quarterly", "2016Q4"), ("sample", "2017")], "the portal")] == [
        "historical_data1_Q42016.zip",
        "sample_2017.zip",
    ]


def test_a_period_not_offered_is_named_with_what_is_offered():
    with pytest.raises(MissingPeriodError) as error:
        select(OFFERED, [("quarterly", "2017Q1"), ("quarterly", "2030Q1"), ("sample", "1999")], "the portal X")
    message = str(error.value)
    assert "the portal X does not offer 2030Q1, sample 1999" in message
    assert "2016Q4, 2017, 2017Q1" in message


@pytest.mark.parametrize(
    ("key", "value"),
    [("quarters", ["2017Q5"]), ("quarters", "2017Q1"), ("sample_years", [1850]), ("refresh", "yes")],
)
def test_the_dags_params_reject_bad_manual_input(key, value):
    from airflow.sdk.exceptions import ParamValidationError

    from sandbox.runner import load_dag

    params = copy.deepcopy(load_dag("freddie_mac_ingest").params)
    with pytest.raises(ParamValidationError, match=f"Invalid input for param {key}"):
        params[key] = value
