"""The orphan sweeper: what a teardown missed, found by its tags and names, and ended so it stops billing.

- EMR clusters tagged ``loanlake:managed=true``, older than ``sweeper.cluster_max_age_hours``, whose DAG run
  (their ``dag_id`` and ``run_id`` tags) is not running: terminated.
- Training jobs of this package (``loanlake-xgb-*``) in progress longer than their own limit
  (``MaxRuntimeInSeconds``, or ``MaxWaitTimeInSeconds`` with spot) plus ``sweeper.training_grace_minutes``: stopped.
- Endpoint configs and models of this package beyond the newest ``ml.keep_models`` that no endpoint uses: deleted
  (``loanlake.ml.cleanup``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from loanlake.emr.cluster import managed_clusters
from loanlake.ml.training import NAME_PREFIX


def orphan_clusters(
    emr: Any, now: datetime, max_age: timedelta, run_is_active: Callable[[str, str], bool]
) -> list[dict[str, Any]]:
    """Active clusters of this package older than ``max_age`` whose DAG run is over."""
    orphans = []
    for cluster, tags in managed_clusters(emr):
        age = now - cluster["Status"]["Timeline"]["CreationDateTime"]
        dag_id, run_id = tags.get("dag_id", ""), tags.get("run_id", "")
        if age < max_age or (dag_id and run_id and run_is_active(dag_id, run_id)):
            continue
        orphans.append({"id": cluster["Id"], "name": cluster["Name"], "run_id": run_id, "age": str(age)})
    return orphans


def terminate(emr: Any, orphans: list[dict[str, Any]], dry_run: bool) -> list[str]:
    if orphans and not dry_run:
        emr.terminate_job_flows(JobFlowIds=[orphan["id"] for orphan in orphans])
    verb = "would terminate" if dry_run else "terminated"
    return [f"{verb} EMR cluster {o['id']} ({o['name']}, {o['age']} old, its run is over)" for o in orphans]


def overdue_training_jobs(sagemaker: Any, now: datetime, grace: timedelta) -> list[dict[str, Any]]:
    """This package's training jobs in progress past their own time limit plus ``grace``."""
    overdue = []
    pages = sagemaker.get_paginator("list_training_jobs").paginate(StatusEquals="InProgress", NameContains=NAME_PREFIX)
    for summary in (job for page in pages for job in page["TrainingJobSummaries"]):
        job = sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        stopping = job.get("StoppingCondition", {})
        limit = stopping.get("MaxWaitTimeInSeconds") if job.get("EnableManagedSpotTraining") else None
        limit = timedelta(seconds=limit or stopping.get("MaxRuntimeInSeconds", 86400))
        running = now - job["CreationTime"]
        if job["TrainingJobStatus"] == "InProgress" and running > limit + grace:
            overdue.append({"name": job["TrainingJobName"], "running": str(running), "limit": str(limit)})
    return overdue


def stop(sagemaker: Any, jobs: list[dict[str, Any]], dry_run: bool) -> list[str]:
    for job in jobs:
        if not dry_run:
            sagemaker.stop_training_job(TrainingJobName=job["name"])
    verb = "would stop" if dry_run else "stopped"
    return [f"{verb} training job {j['name']} (in progress {j['running']}, its limit {j['limit']})" for j in jobs]
