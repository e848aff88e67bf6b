"""What the loan_model_drift tasks need at run time: the interval's captured inputs against the live baseline."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from loanlake.ml import registry
from loanlake.ml.baseline import BaselineError, read_baseline
from loanlake.ml.capture import parse_capture
from loanlake.ml.drift import assess
from loanlake.ml.drift_report import drift_chart, drift_report
from loanlake.ml.retraining import decide_retraining
from loanlake.ml.training import VARIANT
from loanlake.tasks import config as _config
from loanlake.tasks import fail as _fail
from loanlake.tasks import s3 as _s3

log = logging.getLogger("loanlake.ml")


def capture_prefixes(capture_prefix: str, endpoint: str, start: datetime, end: datetime) -> list[str]:
    """SageMaker's capture folders (``<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/``) of each hour in [start, end)."""
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    prefixes = []
    while hour < end:
        prefixes.append(f"{capture_prefix}/{endpoint}/{VARIANT}/{hour:%Y/%m/%d/%H}/")
        hour += timedelta(hours=1)
    return prefixes


def _capture_files(s3: Any, bucket: str, prefixes: list[str]) -> Iterator[bytes]:
    for prefix in prefixes:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                yield s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()


def measure_drift(context: dict[str, Any]) -> dict[str, Any]:
    """Drift of the interval's captured inputs from the live model's baseline; report and chart to S3."""
    from airflow.sdk.exceptions import AirflowSkipException

    config = _config()
    ml, s3, bucket = config.ml, _s3(config), config.data_bucket
    record = registry.read(s3, bucket, registry.registry_key(ml.registry_prefix, ml.endpoint_name))
    if record.live is None:
        raise AirflowSkipException(f"no live model for endpoint {ml.endpoint_name} yet: nothing to compare with")
    baseline_prefix = f"{record.live.training_root.removeprefix(f's3://{bucket}/')}/baseline"
    try:
        baseline = read_baseline(s3, bucket, baseline_prefix)
    except BaselineError as exc:
        raise _fail(f"the baseline of live model {record.live.model_name} is unusable: {exc}") from exc
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None:
        raise _fail("a drift run measures the traffic of its data interval: trigger it with a logical date")
    prefixes = capture_prefixes(ml.capture_prefix, ml.endpoint_name, start, end)
    capture = parse_capture(_capture_files(s3, bucket, prefixes))
    drift = ml.drift
    assessment = assess(
        baseline,
        capture.rows,
        moderate=drift.moderate_psi,
        major=drift.major_psi,
        min_records=drift.min_records,
        material_level=drift.material_level,
    )
    last = datetime.fromisoformat(record.last_training_at) if record.last_training_at else None
    retrain, reason = decide_retraining(assessment, last, datetime.now(UTC), timedelta(days=drift.cooldown_days))
    folder = f"{drift.report_prefix}/{ml.endpoint_name}/{start:%Y/%m/%d/%H%M}"
    report = drift_report(assessment, capture) | {
        "endpoint": ml.endpoint_name,
        "live_model": record.live.model_name,
        "interval": [start.isoformat(), end.isoformat()],
        "capture": f"s3://{bucket}/{ml.capture_prefix}/{ml.endpoint_name}/{VARIANT}/",
        "retrain": retrain,
        "decision": reason,
    }
    body = json.dumps(report, indent=2).encode()
    s3.put_object(Bucket=bucket, Key=f"{folder}/report.json", Body=body, ContentType="application/json")
    s3.put_object(Bucket=bucket, Key=f"{folder}/chart.png", Body=drift_chart(assessment), ContentType="image/png")
    uri = f"s3://{bucket}/{folder}"
    malformed = ", ".join(f"{n} {reason}" for reason, n in capture.malformed.items()) or "none"
    log.info(
        "%s\n%s records captured in %d hour folder(s), %s rows; malformed records skipped: %s\n"
        "report %s/report.json, chart %s/chart.png\n%s",
        assessment.summary,
        f"{capture.records:,}",
        len(prefixes),
        f"{len(capture.rows):,}",
        malformed,
        uri,
        uri,
        reason,
    )
    return {
        "verdict": assessment.verdict,
        "summary": assessment.summary,
        "retrain": retrain,
        "decision": reason,
        "report": f"{uri}/report.json",
        "chart": f"{uri}/chart.png",
    }
