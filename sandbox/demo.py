"""``make demo``: every DAG against the sandbox, in pipeline order, then a summary of what landed where.

The sandbox runs in this process on free ports; Airflow runs each DAG with ``dag.test()`` against
SQLite metadata in ``.airflow/``. Task logs go to ``.airflow/demo.log``; this prints the outcome.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox import catalog, flow
from sandbox.runner import ROOT, RunResult, output_to, prepare_airflow, run_dag

AIRFLOW_HOME = ROOT / ".airflow"
ACTIVE_CLUSTER_STATES = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING"]
TRAFFIC_EVENTS, TRAFFIC_BAD_EVERY = 2000, 50
SCORED_LOANS, SHIFTED_PERIOD, VINTAGE_SHIFT = 240, "2019Q1", 1.5


@dataclass(frozen=True)
class Step:
    """One step of the demo: a DAG run, or an action outside Airflow (traffic a producer sends)."""

    title: str
    dag_id: str | None = None
    logical_date: datetime | None = None
    conf: dict[str, Any] = field(default_factory=dict)
    action: Callable[[Any], str] | None = None  # takes the sandbox, returns what it did
    expected_failures: frozenset[str] = frozenset()  # tasks meant to fail in this run (it must still succeed)


def pipeline() -> list[Step]:
    """The DAGs in pipeline order. Every DAG in dags/ appears here (tests/unit/test_demo.py checks)."""
    everything = {
        "quarters": [r.period for r in catalog.RELEASES if r.dataset == "quarterly"],
        "sample_years": [int(r.period) for r in catalog.RELEASES if r.dataset == "sample"],
    }
    periods = {"periods": everything["quarters"] + [str(year) for year in everything["sample_years"]]}
    return [
        Step(
            "ingest every quarter and sample year the portal offers",
            "freddie_mac_ingest",
            _date(2017, 4, 1),
            everything,
        ),
        Step("ingest the same again: nothing is downloaded twice", "freddie_mac_ingest", _date(2017, 4, 2), everything),
        Step(
            "process the new quarters on a transient EMR cluster",
            "loan_data_processing",
            _date(2017, 4, 3),
            periods,
        ),
        Step(
            "publish them: Sqoop to RDS MySQL (MariaDB), COPY into Redshift (PostgreSQL), reconciled",
            "loan_warehouse_load",
            _date(2017, 4, 4),
            periods,
        ),
        Step(
            "stream health with remediation: nothing exists yet, so it creates the stream, Lambda and delivery stream",
            "stream_health",
            _date(2026, 1, 1),
            {"remediate": True},
            # the checks find the missing parts and fail, as they should; remediation creates them, so the
            # report (the run's outcome) passes
            expected_failures=frozenset({"checks.stream", "checks.delivery_stream", "checks.processor"}),
        ),
        Step("stream health again: every part present, healthy and as declared", "stream_health", _date(2026, 1, 2)),
        Step(
            f"loan applications through the stream: {TRAFFIC_EVENTS:,} events, every {TRAFFIC_BAD_EVERY}th invalid",
            action=stream_traffic,
        ),
        Step(
            "train the credit-risk model on the processed loans and deploy it (the first model: above the floor)",
            "loan_model_training",
            _date(2026, 11, 1),
        ),
        Step(
            f"score {SCORED_LOANS} loans of a later, riskier vintage ({SHIFTED_PERIOD}) through the endpoint proxy",
            action=scoring_traffic,
        ),
        Step(
            "drift of the captured inputs against the training baseline: found, reported, retraining signalled",
            "loan_model_drift",
            drift_run_date(),
        ),
        Step(
            "retrain, as the drift asset starts it: the new model is gated and takes over the endpoint",
            "loan_model_training",
            _date(2026, 11, 2),
        ),
        Step(
            "sweep for orphans: clusters, training jobs and models that outlived their runs (every teardown ran)",
            "orphan_sweeper",
            _date(2026, 11, 3),
        ),
    ]


def stream_traffic(site: Any) -> str:
    """Put the events with the producer, wait until Firehose delivered or failed each one, say where they went."""
    from loanlake.config import parse_config
    from loanlake.streaming.prefixes import EXPRESSION
    from loanlake.streaming.producer import events, put_events

    config = parse_config(os.environ["AIRFLOW_VAR_LOANLAKE_CONFIG"])
    spec, bucket, s3 = config.streaming, config.data_bucket, site.boto3_client("s3")
    put = put_events(
        site.boto3_client("kinesis"), spec.stream.name, events(TRAFFIC_EVENTS, bad_every=TRAFFIC_BAD_EVERY)
    )
    delivered_at, failed_at = (
        EXPRESSION.split(prefix)[0] for prefix in (spec.delivery.prefix, spec.delivery.error_prefix)
    )

    def landed() -> tuple[int, int]:
        return len(flow.records(s3, bucket, delivered_at)), len(flow.records(s3, bucket, failed_at))

    flow.wait_for(lambda: sum(landed()), put.accepted)
    delivered, failed = landed()
    return (
        f"{put.accepted:,} events produced into Kinesis {spec.stream.name} ({put.calls} PutRecords calls, "
        f"{put.retried} retried)\n{delivered:,} delivered by Firehose {spec.delivery.name} through Lambda "
        f"{spec.processor.function_name} to s3://{bucket}/{delivered_at}\n{failed:,} failed validation, kept under "
        f"s3://{bucket}/{failed_at}\n{put.accepted - delivered - failed:,} lost"
    )


def scoring_traffic(site: Any) -> str:
    """Loans of a shifted vintage, scored one request each through the proxy Lambda as API Gateway sends them."""
    from concurrent.futures import ThreadPoolExecutor

    from loanlake.config import parse_config
    from loanlake.ml.features import feature_row, to_csv
    from sandbox.generator import GeneratorSpec, origination_records

    config = parse_config(os.environ["AIRFLOW_VAR_LOANLAKE_CONFIG"])
    spec = GeneratorSpec(seed=catalog.SEED, loans=SCORED_LOANS, layout="r47", vintage_shift=VINTAGE_SHIFT)
    rows = [to_csv(feature_row(record)) for record in origination_records("quarterly", SHIFTED_PERIOD, spec)]
    lambda_client = site.boto3_client("lambda")

    def score(row: str) -> dict[str, Any]:
        event = {"httpMethod": "POST", "path": "/score", "headers": {"Content-Type": "text/csv"}, "body": row}
        answer = lambda_client.invoke(FunctionName=config.ml.proxy_function_name, Payload=json.dumps(event).encode())
        response = json.loads(answer["Payload"].read())
        return {"status": response["statusCode"], **json.loads(response["body"])}

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(score, rows))
    scored = [a["probability"] for a in answers if a["status"] == 200]
    refused = {a["message"] for a in answers if a["status"] != 200}
    return (
        f"{len(rows)} loans of {SHIFTED_PERIOD} (vintage shift {VINTAGE_SHIFT}) sent to Lambda "
        f"{config.ml.proxy_function_name} -> endpoint {config.ml.endpoint_name}: {len(scored)} scored, mean "
        f"default probability {sum(scored) / max(len(scored), 1):.3f}, "
        f"{sum(a['class'] for a in answers if a['status'] == 200)} in class 1, "
        f"{len(rows) - len(scored)} refused {sorted(refused) or ''}\n"
        f"data capture under s3://{config.data_bucket}/{config.ml.capture_prefix}/{config.ml.endpoint_name}/"
    )


def drift_run_date() -> datetime:
    """The drift DAG's next scheduled run (01:00 UTC), whose interval, the day before it, holds the traffic of now."""
    now = datetime.now(UTC)
    run = now.replace(hour=1, minute=0, second=0, microsecond=0)
    return run if run > now else run + timedelta(days=1)


def _date(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def main() -> int:
    started = time.monotonic()
    prepare_airflow(AIRFLOW_HOME)
    from sandbox.site import PrerequisiteError, Sandbox, SandboxSettings

    log_path = AIRFLOW_HOME / "demo.log"
    settings = SandboxSettings(home=ROOT / ".sandbox" / "demo", moto_port=0, portal_port=0)
    try:
        site = Sandbox(settings).start()
    except PrerequisiteError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    try:
        os.environ.update(site.env())
        print(f"sandbox: AWS APIs at {site.endpoint_url}, Freddie Mac portal at {site.portal.login_url}")
        results = []
        for number, step in enumerate(pipeline(), 1):
            print(f"\n[{number}] {step.dag_id or 'traffic'}: {step.title}")
            step_started = time.monotonic()
            if step.action is not None:
                print(_indent(step.action(site)) + f"\n    ({time.monotonic() - step_started:.0f} s)")
                continue
            with output_to(log_path):
                result = run_dag(step.dag_id, step.logical_date, step.conf)
            results.append(result)
            print(_indent(str(result)) + f"\n    ({time.monotonic() - step_started:.0f} s)")
            unexpected = set(result.failed_tasks) - step.expected_failures
            if step.expected_failures & set(result.failed_tasks):
                print("    (the failed checks are expected: they found the missing parts that remediation created)")
            if result.state != "success" or unexpected:
                print(f"\ndemo: {step.dag_id} did not succeed; task logs in {log_path}", file=sys.stderr)
                return 1
        print(summary(site, results))
    finally:
        site.stop()
    print(f"\ndemo finished in {time.monotonic() - started:.0f} s; task logs in {log_path}")
    return 0


def summary(site: Any, results: list[RunResult]) -> str:
    """What landed where: the ingest runs' manifests, and what the data bucket holds."""
    from loanlake.config import parse_config
    from loanlake.freddie_mac.manifest import run_key

    s3 = site.boto3_client("s3")
    config = parse_config(os.environ["AIRFLOW_VAR_LOANLAKE_CONFIG"])
    bucket = config.data_bucket
    lines = ["", "=" * 100, "What landed where", "=" * 100]
    for result in results:
        if result.dag_id != "freddie_mac_ingest":
            continue
        key = run_key(config.manifest_prefix, result.run_id)
        try:
            run = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except s3.exceptions.NoSuchKey:
            lines.append(f"\n{result.run_id}: no new files, so no run manifest and no asset event")
            continue
        lines.append(
            f"\n{result.run_id}: {run['fetched_files']} file(s) fetched, {run['skipped_files']} already landed; "
            f"{run['fetched_zip_bytes'] / 1e6:.1f} MB zipped -> {run['fetched_raw_bytes'] / 1e6:.1f} MB raw, "
            f"{run['fetched_lines']:,} lines, {run['seconds']:.1f} s of transfer"
        )
        lines.append(f"  {'file':<30} {'status':<15} {'layout':<7} {'lines':>8} {'bytes':>11}  landed at")
        for file in run["files"]:
            for member in file["members"]:
                lines.append(
                    f"  {file['file']:<30} {file['status']:<15} {member['layout']:<7} {member['lines']:>8,} "
                    f"{member['bytes']:>11,}  {member['uri']}"
                )
        lines.append(f"  run manifest: s3://{bucket}/{key}")
    objects = [
        o for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket) for o in page.get("Contents", [])
    ]
    lines += _processing_summary(site, config, results)
    lines += _warehouse_summary(site, results)
    lines += _model_summary(site, config)
    lines.append(f"\ns3://{bucket}: {len(objects)} objects, {sum(o['Size'] for o in objects) / 1e6:.1f} MB")
    for prefix in sorted({o["Key"].split("/")[0] for o in objects}):
        inside = [o for o in objects if o["Key"].startswith(prefix + "/")]
        lines.append(f"  {prefix + '/':<12} {len(inside):>4} objects {sum(o['Size'] for o in inside) / 1e6:>8.1f} MB")
    return "\n".join(lines)


def _processing_summary(site: Any, config: Any, results: list[RunResult]) -> list[str]:
    """Rows in, processed and quarantined per table and period, from the quality metrics; clusters left running."""
    from loanlake.processing import quality

    lines = []
    for step, result in zip([step for step in pipeline() if step.dag_id], results, strict=True):
        if step.dag_id != "loan_data_processing":
            continue
        periods = step.conf["periods"]
        metrics = quality.read_metrics(site.boto3_client("s3"), config.data_bucket, config.quality_prefix, periods)
        lines.append(
            f"\n{result.run_id}: rows per table and period (from s3://{config.data_bucket}/{config.quality_prefix}/)"
        )
        lines.append(f"  {'table':<16} {'period':<8} {'lines read':>10} {'processed':>10} {'quarantined':>12}")
        for (table, period), counts in sorted(quality.totals(metrics).items()):
            lines.append(
                f"  {table:<16} {period:<8} {counts['rows_read']:>10,} {counts['rows_kept']:>10,} "
                f"{counts['rows_quarantined']:>12,}"
            )
    active = site.boto3_client("emr").list_clusters(ClusterStates=ACTIVE_CLUSTER_STATES)["Clusters"]
    running = ", ".join(f"{c['Id']} ({c['Status']['State']})" for c in active)
    lines.append(f"\nEMR clusters still running: {running or 'none, every cluster was terminated by its teardown'}")
    return lines


def _warehouse_summary(site: Any, results: list[RunResult]) -> list[str]:
    """Rows per period in the sandbox's RDS MySQL (MariaDB) and Redshift (PostgreSQL) after the warehouse DAG."""
    if not any(result.dag_id == "loan_warehouse_load" for result in results):
        return []
    from sandbox.site import connect_mysql, connect_postgres, sql_text

    mysql = connect_mysql(site.context.mysql)
    try:
        with mysql.cursor() as cursor:
            cursor.execute(sql_text("mysql/published_acquisition.sql"))
            acquisition = dict(cursor.fetchall())
    finally:
        mysql.close()
    postgres_params = {k: v for k, v in site.context.postgres.items() if k != "dbname"}
    postgres = connect_postgres(postgres_params, site.context.postgres["dbname"])
    try:
        with postgres.cursor() as cursor:
            cursor.execute(sql_text("postgres/published_performance.sql"))
            performance = dict(cursor.fetchall())
    finally:
        postgres.close()
    mysql_at = f"{site.context.mysql['host']}:{site.context.mysql['port']}/loanlake.acquisition"
    redshift_at = f"{site.context.postgres['host']}:{site.context.postgres['port']}/loanlake.loanlake.performance"
    lines = [f"\nPublished: acquisition to RDS MySQL ({mysql_at}), performance to Redshift ({redshift_at})"]
    lines.append(f"  {'period':<8} {'RDS MySQL rows':>15} {'Redshift rows':>15}")
    for period in sorted(set(acquisition) | set(performance)):
        lines.append(f"  {period:<8} {acquisition.get(period, 0):>15,} {performance.get(period, 0):>15,}")
    return lines


def _model_summary(site: Any, config: Any) -> list[str]:
    """The registry's live model and its history, what the endpoint serves, and the drift reports."""
    from loanlake.ml import registry

    s3, ml = site.boto3_client("s3"), config.ml
    record = registry.read(s3, config.data_bucket, registry.registry_key(ml.registry_prefix, ml.endpoint_name))
    if record.live is None:
        return []
    endpoint = site.boto3_client("sagemaker").describe_endpoint(EndpointName=ml.endpoint_name)
    lines = [
        f"\nModel: endpoint {ml.endpoint_name} is {endpoint['EndpointStatus']} on {endpoint['EndpointConfigName']}",
        f"  live model {record.live.model_name}: validation AUC {record.live.validation_auc:.3f}, "
        f"trained on {record.live.training_root}/",
    ]
    lines += [f"  {'deployed' if h['deployed'] else 'held back'}: {h['model']}: {h['reason']}" for h in record.history]
    reports = s3.list_objects_v2(Bucket=config.data_bucket, Prefix=ml.drift.report_prefix + "/").get("Contents", [])
    for obj in reports:
        if obj["Key"].endswith("report.json"):
            report = json.loads(s3.get_object(Bucket=config.data_bucket, Key=obj["Key"])["Body"].read())
            lines.append(f"  drift report s3://{config.data_bucket}/{obj['Key']}: {report['summary']}")
            lines.append(f"    {report['decision']}")
    return lines


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


if __name__ == "__main__":
    sys.exit(main())
