"""Helpers for the tests that run DAGs with EMR clusters against the sandbox."""

from __future__ import annotations


def cluster_of(emr, run_id: str) -> dict:
    """The one cluster tagged with the run's id (the cluster request tags every cluster with its run)."""
    ids = [c["Id"] for page in emr.get_paginator("list_clusters").paginate() for c in page["Clusters"]]
    clusters = [emr.describe_cluster(ClusterId=i)["Cluster"] for i in ids]
    mine = [c for c in clusters if {"Key": "run_id", "Value": run_id} in c.get("Tags", [])]
    assert len(mine) == 1, f"expected one cluster tagged run_id={run_id}, found {len(mine)}"
    return mine[0]
