"""What the warehouse tasks need from Airflow at run time: config, connections, the Data API, fail-fast errors."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from loanlake.emr import cluster, submit
from loanlake.processing import quality
from loanlake.s3keys import run_part
from loanlake.tasks import config as _config
from loanlake.tasks import fail as _fail
from loanlake.tasks import s3 as _s3
from loanlake.warehouse import exports, reconcile, redshift

log = logging.getLogger("loanlake.warehouse")
CANCEL_POLLS = 12  # how often a cancelled statement is polled for its end


def settings(context: dict[str, Any]) -> dict[str, Any]:
    """The connections and the RunJobFlow request the operators use (config is read at run time)."""
    config = _config()
    return {
        "aws_conn_id": config.aws_conn_id,
        "region_name": config.region,
        "mysql_conn_id": config.warehouse.mysql_conn_id,
        "job_flow_overrides": cluster.job_flow_request(config, context["dag"].dag_id, context["run_id"]),
    }


def _mysql_connection(config: Any) -> Any:
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(config.warehouse.mysql_conn_id)


def password_key(config: Any, dag_id: str, run_id: str) -> str:
    return f"{config.warehouse.password_prefix}/{dag_id}/{run_part(run_id)}/mysql.password"


def stage_password(context: dict[str, Any]) -> str:
    """The MySQL password from the Airflow connection into an encrypted S3 object Sqoop reads; its URI.

    The object holds exactly the password (Sqoop reads a trailing newline as part of it). The teardown
    ``delete_password`` removes it; the cluster's role needs s3:GetObject (and kms:Decrypt) on it.
    """
    config = _config()
    connection = _mysql_connection(config)
    key = password_key(config, context["dag"].dag_id, context["run_id"])
    encryption = {"ServerSideEncryption": "AES256"}
    if config.warehouse.kms_key_id:
        encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": config.warehouse.kms_key_id}
    _s3(config).put_object(Bucket=config.data_bucket, Key=key, Body=(connection.password or "").encode(), **encryption)
    log.info("Sqoop password file staged at s3://%s/%s", config.data_bucket, key)
    return f"s3://{config.data_bucket}/{key}"


def delete_password(uri: str) -> None:
    config = _config()
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    _s3(config).delete_object(Bucket=bucket, Key=key)
    log.info("Sqoop password file %s deleted", uri)


def submit_exports(cluster_id: str, periods: Sequence[str], scripts_root: str, password_file: str) -> list[str]:
    """Add the Hive export and Sqoop steps the cluster lacks; the ids of all of them, in order."""
    from airflow.providers.amazon.aws.hooks.emr import EmrHook

    config = _config()
    connection = _mysql_connection(config)
    try:
        connect = exports.jdbc_url(connection.host, connection.port, connection.schema)
        wanted = exports.export_steps(config, scripts_root, periods, connect, connection.login or "", password_file)
    except ValueError as exc:
        raise _fail(f"connection {config.warehouse.mysql_conn_id}: {exc}") from exc
    emr = EmrHook(aws_conn_id=config.aws_conn_id, region_name=config.region, emr_conn_id=None).conn
    return submit.submit_steps(emr, cluster_id, wanted)


def run_redshift(statements: str | list[str], name: str) -> str:
    """Run a statement, or a list as one Data API batch (one transaction), and wait; the statement id.

    Polls every ``warehouse.redshift.poll_seconds`` up to ``timeout_seconds``, then cancels the statement (the
    batch rolls back) and fails saying so. A failure names the statement id, the statement that failed and
    Redshift's error.
    """
    from airflow.providers.amazon.aws.hooks.redshift_data import (
        RedshiftDataHook,
        RedshiftDataQueryAbortedError,
        RedshiftDataQueryFailedError,
    )
    from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

    config = _config()
    settings_ = config.warehouse.redshift
    hook = RedshiftDataHook(aws_conn_id=config.aws_conn_id, region_name=config.region)
    output = hook.execute_query(
        sql=statements,
        statement_name=name,
        wait_for_completion=False,
        poll_interval=settings_.poll_seconds,
        **redshift.data_api_target(config),
    )
    statement_id = output.statement_id
    log.info("Redshift statement %s (%s) submitted", statement_id, name)
    polling = Retrying(
        stop=stop_after_delay(settings_.timeout_seconds),
        wait=wait_fixed(settings_.poll_seconds),
        retry=retry_if_result(lambda finished: not finished),
    )
    try:
        polling(hook.check_query_is_finished, statement_id)
    except RetryError:
        description = _cancel(hook.conn, statement_id, settings_.poll_seconds)
        if description["Status"] == "FAILED":  # it failed on its own as it was being cancelled
            raise _fail(_statement_failure(description, name)) from None
        if description["Status"] != "FINISHED":
            raise _fail(
                f"Redshift statement {statement_id} ({name}) still running after {settings_.timeout_seconds} s "
                f"(warehouse.redshift.timeout_seconds): cancelled, now {description['Status']}; "
                "the batch rolled back, the published table is as it was"
            ) from None
        log.warning("Redshift statement %s (%s) finished as it was being cancelled", statement_id, name)
    except (RedshiftDataQueryFailedError, RedshiftDataQueryAbortedError):
        raise _fail(_statement_failure(hook.conn.describe_statement(Id=statement_id), name)) from None
    return statement_id


def _cancel(client: Any, statement_id: str, poll_seconds: int) -> dict[str, Any]:
    """Cancel a statement and wait (a few polls) until it has ended; its last DescribeStatement answer."""
    from botocore.exceptions import ClientError

    try:
        client.cancel_statement(Id=statement_id)
    except ClientError as error:  # it ended between the last poll and the cancel
        log.warning("cancelling Redshift statement %s: %s", statement_id, error)
    for _ in range(CANCEL_POLLS):
        description = client.describe_statement(Id=statement_id)
        if description["Status"] not in ("SUBMITTED", "PICKED", "STARTED"):
            break
        time.sleep(min(poll_seconds, 5))
    return description


def _statement_failure(description: dict[str, Any], name: str) -> str:
    """Which statement of a batch failed, and Redshift's error, in one line."""
    failed = [sub for sub in description.get("SubStatements", []) if sub.get("Status") in ("FAILED", "ABORTED")]
    where = ""
    if failed:
        first = failed[0]
        where = f" at statement {first['Id']}: {' '.join(first.get('QueryString', '').split())[:300]}"
    return (
        f"Redshift statement {description['Id']} ({name}) {description['Status']}{where}: "
        f"{description.get('Error') or 'no error text'}"
    )


def create_redshift_tables() -> None:
    run_redshift(redshift.create_tables(_config()), "loanlake create tables")


def load_performance(period: str) -> None:
    """COPY the period's processed performance into Redshift and replace its published rows, in one transaction."""
    config = _config()
    statement_id = run_redshift(redshift.load_performance(config, period), f"loanlake load performance {period}")
    log.info("performance %s published to Redshift (statement %s)", period, statement_id)


def _redshift_count(config: Any, period: str) -> int:
    from airflow.providers.amazon.aws.hooks.redshift_data import RedshiftDataHook

    statement_id = run_redshift(redshift.count_performance(config, period), f"loanlake count {period}")
    hook = RedshiftDataHook(aws_conn_id=config.aws_conn_id, region_name=config.region)
    records = hook.conn.get_statement_result(Id=statement_id)["Records"]
    return int(records[0][0]["longValue"])


def _mysql_count(config: Any, period: str) -> int:
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    from loanlake.warehouse.exports import MYSQL_SQL_DIR

    sql = (MYSQL_SQL_DIR / "count_acquisition.sql").read_text()
    (count,) = MySqlHook(mysql_conn_id=config.warehouse.mysql_conn_id).get_first(sql, parameters={"period": period})
    return int(count)


def reconcile_counts(periods: Sequence[str]) -> str:
    """Hive's kept rows (quality/) against RDS MySQL and Redshift, per period; fails with the table if any differ."""
    config = _config()
    try:
        metrics = quality.read_metrics(_s3(config), config.data_bucket, config.quality_prefix, periods)
    except quality.MetricsError as exc:
        raise _fail(str(exc)) from exc
    hive_kept = {key: counts["rows_kept"] for key, counts in quality.totals(metrics).items()}
    published = {}
    for period in periods:
        published["acquisition", period] = _mysql_count(config, period)
        published["performance", period] = _redshift_count(config, period)
    table, problems = reconcile.compare(periods, hive_kept, published)
    log.info("reconciliation:\n%s", table)
    if problems:
        raise _fail("row counts differ: " + "; ".join(problems) + "\n" + table)
    return table
