"""Idempotent step submission: a step whose name the cluster already has is never added again."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

log = logging.getLogger("loanlake.emr")


def existing_steps(emr: Any, cluster_id: str) -> dict[str, str]:
    """Step name -> step id of every step on the cluster (the first one added, if a name repeats)."""
    steps = [s for page in emr.get_paginator("list_steps").paginate(ClusterId=cluster_id) for s in page["Steps"]]
    by_name: dict[str, str] = {}
    for step in reversed(steps):  # list_steps answers newest first
        by_name.setdefault(step["Name"], step["Id"])
    return by_name


def submit_steps(emr: Any, cluster_id: str, steps: Sequence[dict[str, Any]]) -> list[str]:
    """Add the steps the cluster lacks; return the ids of all of them, in the order given.

    A retry of the submitting task (after a timeout, a lost worker, a failed XCom push) finds the steps
    the first try added and adds nothing twice.
    """
    names = [step["Name"] for step in steps]
    if len(set(names)) != len(names):
        raise ValueError(f"step names must be unique within a run: {names}")
    ids = existing_steps(emr, cluster_id)
    missing = [step for step in steps if step["Name"] not in ids]
    if missing:
        added = emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=missing)["StepIds"]
        ids |= dict(zip((step["Name"] for step in missing), added, strict=True))
    log.info("cluster %s: %d step(s) added, %d already there", cluster_id, len(missing), len(steps) - len(missing))
    return [ids[name] for name in names]
