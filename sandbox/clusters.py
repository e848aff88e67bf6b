"""Sandbox EMR clusters for the tests and benchmarks that run steps on one outside a DAG."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

LOG_URI = "s3://loanlake-logs/emr/"


def start_cluster(
    emr: Any,
    name: str,
    applications: Sequence[str],
    *,
    steps: Sequence[dict[str, Any]] = (),
    keep_alive: bool = True,
    log_uri: str = LOG_URI,
) -> str:
    """A one-node cluster running ``applications`` (waiting for steps unless ``keep_alive`` is false); its id."""
    return emr.run_job_flow(
        Name=name,
        ReleaseLabel="emr-7.4.0",
        LogUri=log_uri,
        Applications=[{"Name": app} for app in applications],
        Instances={
            "InstanceGroups": [
                {"Name": "master", "InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1}
            ],
            "KeepJobFlowAliveWhenNoSteps": keep_alive,
        },
        Steps=list(steps),
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]
