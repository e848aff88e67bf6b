"""The periods a run works on: from its Params, else from the asset events that triggered it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from loanlake.emr.steps import MAX_PERIODS_PER_RUN

# 2017Q1 for a quarter, 2017 for a sample year; the dataset starts with 1999 (Params use this as their schema)
PERIOD_PATTERN = r"^(1999|20[0-9]{2})(Q[1-4])?$"
_PERIOD_SHAPE = r"^[0-9]{4}(Q[1-4])?$"


def check_periods(periods: Iterable[Any]) -> list[str]:
    """The periods validated, without duplicates, sorted."""
    periods = list(periods)
    bad = [p for p in periods if not isinstance(p, str) or not re.fullmatch(_PERIOD_SHAPE, p)]
    if bad:
        raise ValueError(f"periods must look like 2017Q1 (a quarter) or 2017 (a sample year); got {bad}")
    out_of_range = [p for p in periods if not re.fullmatch(PERIOD_PATTERN, p)]
    if out_of_range:
        raise ValueError(
            f"periods must lie between 1999 (the Freddie Mac dataset's first year) and 2099; got {out_of_range}"
        )
    unique = sorted(set(periods))
    if len(unique) > MAX_PERIODS_PER_RUN:
        raise ValueError(
            f"{len(unique)} periods are more than one EMR cluster takes as steps: "
            f"split the backfill into runs of at most {MAX_PERIODS_PER_RUN} periods"
        )
    return unique


def periods_to_process(params_periods: Sequence[str], triggering_events: Mapping[Any, Sequence[Any]]) -> list[str]:
    """The Params' periods if any; else every ``extra["periods"]`` of the triggering asset events."""
    if params_periods:
        return check_periods(params_periods)
    from_events = [
        period
        for events in triggering_events.values()
        for event in events
        for period in (event.extra or {}).get("periods", [])
    ]
    if not from_events:
        raise ValueError(
            "no periods to process: the run has no 'periods' Param and no triggering asset event with "
            'extra["periods"]. Trigger it with {"periods": ["2017Q1"]}'
        )
    return check_periods(from_events)
