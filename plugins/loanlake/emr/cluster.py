"""The RunJobFlow request for one DAG run's transient cluster, built from the config and the run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from loanlake.config import LoanlakeConfig

MANAGED_TAG = "loanlake:managed"
NAME_PREFIX = "loanlake-"
ACTIVE_STATES = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]

# Hive settings the scripts rely on: dynamic-partition INSERT OVERWRITE of whole periods, and the Glue Data
# Catalog as the metastore. Each run's cluster is new: the tables that processing defines must outlive it for
# the warehouse export and the training set, which run on clusters of their own.
HIVE_SITE = {
    "hive.exec.dynamic.partition": "true",
    "hive.exec.dynamic.partition.mode": "nonstrict",
    "hive.exec.max.dynamic.partitions": "10000",
    "hive.exec.max.dynamic.partitions.pernode": "2000",
    "hive.metastore.client.factory.class": "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory",
}


def cluster_name(config: LoanlakeConfig, dag_id: str, run_id: str) -> str:
    return f"{NAME_PREFIX}{config.environment}-{dag_id}-{run_id}"[:256]


def managed_clusters(emr: Any) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    """Every active cluster this package started, with its tags. Only clusters named as ours are described: the
    Airflow role may describe only clusters tagged ``loanlake:managed`` (include/iam/)."""
    for page in emr.get_paginator("list_clusters").paginate(ClusterStates=ACTIVE_STATES):
        for summary in page["Clusters"]:
            if not summary["Name"].startswith(NAME_PREFIX):
                continue
            cluster = emr.describe_cluster(ClusterId=summary["Id"])["Cluster"]
            tags = {tag["Key"]: tag["Value"] for tag in cluster.get("Tags", [])}
            if tags.get(MANAGED_TAG) == "true":
                yield cluster, tags


def cluster_of_run(emr: Any, dag_id: str, run_id: str) -> str | None:
    """The active cluster a DAG run started (its ``dag_id`` and ``run_id`` tags), if any."""
    return next(
        (c["Id"] for c, tags in managed_clusters(emr) if (tags.get("dag_id"), tags.get("run_id")) == (dag_id, run_id)),
        None,
    )


def job_flow_request(config: LoanlakeConfig, dag_id: str, run_id: str) -> dict[str, Any]:
    """The request body for ``EmrCreateJobFlowOperator(job_flow_overrides=...)``.

    The cluster stays alive without steps (they are added once it is up) and ends by the DAG's teardown;
    the idle auto-termination policy is the second line of defence if the teardown itself cannot run.
    """
    emr = config.emr
    instances: dict[str, Any] = {
        "InstanceGroups": [
            _group("primary", "MASTER", emr.primary_instance_type, 1),
            _group("core", "CORE", emr.core_instance_type, emr.core_instance_count),
        ],
        "KeepJobFlowAliveWhenNoSteps": True,
        "TerminationProtected": False,
    }
    if emr.subnet_id:
        instances["Ec2SubnetId"] = emr.subnet_id
    return {
        "Name": cluster_name(config, dag_id, run_id),
        "ReleaseLabel": emr.release_label,
        "Applications": [{"Name": name} for name in emr.applications],
        "LogUri": emr.log_uri,
        "Instances": instances,
        "AutoTerminationPolicy": {"IdleTimeout": emr.idle_timeout_seconds},
        "StepConcurrencyLevel": 1,
        "ServiceRole": emr.service_role,
        "JobFlowRole": emr.job_flow_role,
        "VisibleToAllUsers": True,
        "Configurations": [{"Classification": "hive-site", "Properties": HIVE_SITE}],
        "Tags": [
            {"Key": key, "Value": value}
            for key, value in {
                "dag_id": dag_id,
                "run_id": run_id,
                "owner": config.owner,
                "environment": config.environment,
                MANAGED_TAG: "true",
                # what EMR's managed service policy (include/iam/emr-service-role.json) requires of a cluster
                "for-use-with-amazon-emr-managed-policies": "true",
            }.items()
        ],
    }


def _group(name: str, role: str, instance_type: str, count: int) -> dict[str, Any]:
    return {
        "Name": name,
        "InstanceRole": role,
        "Market": "ON_DEMAND",
        "InstanceType": instance_type,
        "InstanceCount": count,
    }
