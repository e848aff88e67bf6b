"""What the orphan_sweeper tasks need at run time: config, clients, the state of the runs clusters belong to."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from loanlake.alerts import AlertedElsewhere
from loanlake.ml.cleanup import remove_surplus
from loanlake.s3keys import run_part
from loanlake.sweeper import orphans
from loanlake.tasks import aws_client
from loanlake.tasks import config as _config

log = logging.getLogger("loanlake.sweeper")

ACTIVE_RUN_STATES = ("queued", "running")


def _run_is_active(ti: Any) -> Any:
    """Whether a DAG run is queued or running (a run that does not exist, e.g. deleted, is not)."""

    def active(dag_id: str, run_id: str) -> bool:
        return ti.get_dr_count(dag_id=dag_id, run_ids=[run_id], states=list(ACTIVE_RUN_STATES)) > 0

    return active


def sweep_clusters(dry_run: bool, context: dict[str, Any]) -> list[str]:
    config = _config()
    emr, max_age = aws_client(config, "emr"), timedelta(hours=config.sweeper.cluster_max_age_hours)
    found = orphans.orphan_clusters(emr, datetime.now(UTC), max_age, _run_is_active(context["ti"]))
    return _logged(orphans.terminate(emr, found, dry_run), "no orphaned EMR cluster")


def stop_overdue_training(dry_run: bool) -> list[str]:
    config = _config()
    sagemaker, grace = aws_client(config, "sagemaker"), timedelta(minutes=config.sweeper.training_grace_minutes)
    found = orphans.overdue_training_jobs(sagemaker, datetime.now(UTC), grace)
    return _logged(orphans.stop(sagemaker, found, dry_run), "no training job past its limit")


def remove_surplus_models(dry_run: bool) -> list[str]:
    config = _config()
    sagemaker = aws_client(config, "sagemaker")
    done = remove_surplus(sagemaker, [config.ml.endpoint_name], config.ml.keep_models, dry_run)
    return _logged([f"{'would delete' if dry_run else 'deleted'} {item}" for item in done], "no surplus model")


def _logged(actions: list[str], nothing: str) -> list[str]:
    for action in actions:
        log.info(action)
    if not actions:
        log.info(nothing)
    return actions


def report(actions: dict[str, list[str] | None], dry_run: bool, context: dict[str, Any]) -> str:
    """What the sweep did (or would do), as JSON in S3 and in the log; fails, naming them, if sweeps failed (None)."""
    config = _config()
    now = datetime.now(UTC)
    failed = sorted(kind for kind, done in actions.items() if done is None)
    actions = {kind: done or [] for kind, done in actions.items()}
    body = {"run_id": context["run_id"], "swept_at": now.isoformat(), "dry_run": dry_run, "actions": actions}
    body["failed_sweeps"] = failed
    key = f"{config.sweeper.report_prefix}/{now:%Y/%m/%d}/{run_part(context['run_id'])}.json"
    aws_client(config, "s3").put_object(Bucket=config.data_bucket, Key=key, Body=json.dumps(body, indent=2).encode())
    count = sum(len(done) for done in actions.values())
    log.info("%s%d action(s); report s3://%s/%s", "dry run: " if dry_run else "", count, config.data_bucket, key)
    if failed:  # the run fails with them; their own alerts have gone out
        raise AlertedElsewhere(
            f"sweep(s) failed: {', '.join(failed)} (see their task logs); report s3://{config.data_bucket}/{key}"
        )
    return f"s3://{config.data_bucket}/{key}"
