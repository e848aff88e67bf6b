"""What the processing tasks need from Airflow at run time: config, AWS clients, fail-fast errors."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from loanlake.emr import cluster, scripts, steps, submit
from loanlake.processing import periods, quality
from loanlake.tasks import check_params
from loanlake.tasks import config as _config
from loanlake.tasks import fail as _fail
from loanlake.tasks import s3 as _s3

log = logging.getLogger("loanlake.processing")


def resolve_periods(params: dict[str, Any], context: dict[str, Any]) -> list[str]:
    """The run's periods: Params first, then the triggering asset events; fails at once without any."""
    check_params(params, context["dag"])
    try:
        wanted = periods.periods_to_process(params.get("periods") or [], context.get("triggering_asset_events") or {})
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    log.info("periods to process: %s", wanted)
    return wanted


def publish_scripts(required: Sequence[str] = steps.HQL_SCRIPTS) -> str:
    """Upload include/hql/ under its content hash; return the S3 folder the steps read."""
    config = _config()
    try:
        return scripts.publish(_s3(config), config.data_bucket, config.emr.code_prefix, required)
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from exc


def cluster_request(context: dict[str, Any]) -> dict[str, Any]:
    """The connection, region and RunJobFlow request the EMR operators use (config is read at run time)."""
    config = _config()
    return {
        "aws_conn_id": config.aws_conn_id,
        "region_name": config.region,
        "job_flow_overrides": cluster.job_flow_request(config, context["dag"].dag_id, context["run_id"]),
    }


def submit_steps(cluster_id: str, run_periods: Sequence[str], scripts_root: str) -> list[str]:
    """Add the run's Hive steps to the cluster unless it has them already; their ids, in order."""
    from airflow.providers.amazon.aws.hooks.emr import EmrHook

    config = _config()
    emr = EmrHook(aws_conn_id=config.aws_conn_id, region_name=config.region, emr_conn_id=None).conn
    wanted = [step.to_emr() for step in steps.period_steps(config, scripts_root, run_periods)]
    return submit.submit_steps(emr, cluster_id, wanted)


def quality_gate(check: Callable[..., list[str]], run_periods: Sequence[str]) -> None:
    """Read the periods' metrics and fail, listing every problem, if ``check`` finds any."""
    config = _config()
    try:
        metrics = quality.read_metrics(_s3(config), config.data_bucket, config.quality_prefix, run_periods)
    except quality.MetricsError as exc:
        raise _fail(str(exc)) from exc
    problems = check(metrics, config)
    if problems:
        raise _fail(f"{check.__name__.removeprefix('check_').replace('_', ' ')}: " + "; ".join(problems))
    log.info("%s: passed for %s", check.__name__, ", ".join(run_periods))
