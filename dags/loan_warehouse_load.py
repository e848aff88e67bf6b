"""
### Loan warehouse load

Publishes processed periods to the warehouses: acquisitions to RDS MySQL with Sqoop on a transient EMR
cluster, performance to Redshift with COPY through the Data API; then reconciles the row counts.

**What it does.** `resolve_periods` picks the periods: the `periods` Param when given, else those of the
`loans_processed` events that triggered the run. `create_mysql_tables` and `create_redshift_tables` create
the tables of `include/sql/` when missing. For MySQL: `stage_sqoop_password` copies the password of the
`warehouse.mysql_conn_id` connection into an encrypted S3 object that only Sqoop reads (it never appears
in step arguments, logs or this DAG; `delete_sqoop_password` removes it as a teardown);
`clear_mysql_staging` empties the period's rows from `acquisition_staging`; on the cluster
(`create_cluster`, torn down by `terminate_cluster`), per period, `export_acquisition` (Hive) writes the
period as `\\001`-separated text with `\\N` for NULL and `sqoop_export_acquisition` loads it into
`acquisition_staging`; `wait_for_step` follows each step; `publish_acquisition` then replaces the period's
rows in `acquisition` with the staged ones in one transaction. For Redshift: `load_performance` (one task per
period, one at a time) runs one Data API batch, one transaction: COPY the period's Parquet into
`performance_staging`, delete the period's rows from `performance`, insert the staged ones, empty staging.
`reconcile` compares Hive's kept rows (from `quality/`) with both databases, per period.

**Reruns and backfills.** Rerunning a period leaves exactly one copy of its rows in each database. Trigger
with `{"periods": ["2017Q1"]}` after `loan_data_processing` has processed the period.

**On failure.**
- *wait_for_step: EMR step '<period> sqoop_export_acquisition' ... FAILED*: the message has the step log
  (`stderr.gz` under `emr.log_uri`): a record that does not fit the table, a wrong password, no network
  path from the cluster to RDS. The published table is untouched (Sqoop only writes to staging). Fix, then
  clear the run from `clear_mysql_staging`, which empties what the failed export left in staging.
- *wait_for_step: '<period> export_acquisition' FAILED with an ASSERT_TRUE error*: a text value holds a
  control character (\\001, \\n, \\r) or is exactly `\\N`, which the export format cannot carry; find it in
  `processed/` and fix the input.
- *publish_acquisition*: MySQL refused the swap (lock wait, disk); the transaction rolled back, the table is
  as before. Clear the task.
- *load_performance: Redshift statement <id> FAILED at statement <id>:<n>: <error>*: the batch rolled back,
  the published table is as before. `SELECT * FROM sys_load_error_detail` on Redshift shows COPY errors.
- *load_performance: ... still running after N s (warehouse.redshift.timeout_seconds): cancelled, now ABORTED*:
  the batch rolled back; look for what held it (a lock, a busy cluster), then clear the task.
- *reconcile: row counts differ*: the table in the message shows Hive, MySQL and Redshift per period. Rerun
  the period; if it persists, compare `quality/` with the tables by hand.
- *terminate_cluster / delete_sqoop_password*: retry; if they keep failing, terminate the cluster (its
  `run_id` tag) and delete the object under `warehouse.password_prefix` by hand.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import chain, dag, task

from loanlake.assets import LOANS_PROCESSED
from loanlake.dag_defaults import default_args, periods_param, run_timeout_alert
from loanlake.emr import operators as emr_operators

SQL = Path(__file__).resolve().parents[1] / "include" / "sql"


@dag(
    dag_id="loan_warehouse_load",
    description="Sqoop export of acquisitions to RDS MySQL, COPY of performance into Redshift, reconciled",
    schedule=[LOANS_PROCESSED],
    start_date=pendulum.datetime(1999, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # one run at a time owns the staging tables
    dagrun_timeout=timedelta(hours=12),
    on_failure_callback=run_timeout_alert(),  # the one alert of a run that times out
    template_searchpath=[str(SQL)],
    doc_md=__doc__,
    tags=["loanlake", "emr", "sqoop", "mysql", "redshift", "warehouse"],
    default_args=default_args(execution_timeout=timedelta(hours=4)),
    params={
        "periods": periods_param(
            "Periods to publish, e.g. 2017Q1 or 2017. Empty: those of the triggering processed events."
        ),
    },
)
def loan_warehouse_load() -> None:
    @task
    def resolve_periods(params: dict[str, Any], **context: Any) -> list[str]:
        """The Params' periods, else those the triggering loans_processed events name."""
        from loanlake.processing import runtime

        return runtime.resolve_periods(params, context)

    @task
    def publish_scripts() -> str:
        """include/hql/ to S3 under its content hash (shared with loan_data_processing); the folder's URI."""
        from loanlake.processing import runtime
        from loanlake.warehouse.exports import EXPORT_SCRIPT

        return runtime.publish_scripts([EXPORT_SCRIPT])

    @task(multiple_outputs=True)
    def settings(**context: Any) -> dict[str, Any]:
        """The AWS and MySQL connections and the RunJobFlow request, from the config."""
        from loanlake.warehouse import runtime

        return runtime.settings(context)

    @task
    def period_parameters(periods: list[str]) -> list[dict[str, str]]:
        """One SQL parameter set per period, for the mapped MySQL tasks."""
        return [{"period": period} for period in periods]

    @task
    def create_redshift_tables() -> None:
        """include/sql/redshift/create_tables.sql as one Data API batch."""
        from loanlake.warehouse import runtime

        runtime.create_redshift_tables()

    @task
    def stage_sqoop_password(**context: Any) -> str:
        """The MySQL password into an encrypted S3 object for Sqoop's --password-file; its URI."""
        from loanlake.warehouse import runtime

        return runtime.stage_password(context)

    @task
    def delete_sqoop_password(uri: str) -> None:
        """Remove the password file, whatever happened."""
        from loanlake.warehouse import runtime

        runtime.delete_password(uri)

    @task
    def submit_exports(cluster_id: str, periods: list[str], scripts_root: str, password_file: str) -> list[str]:
        """Per period a Hive export step and a Sqoop export step; steps already on the cluster are not added again."""
        from loanlake.warehouse import runtime

        return runtime.submit_exports(cluster_id, periods, scripts_root, password_file)

    @task(max_active_tis_per_dagrun=1)  # one period at a time through performance_staging
    def load_performance(period: str) -> None:
        """COPY the period's Parquet into Redshift staging and replace its published rows: one transaction."""
        from loanlake.warehouse import runtime

        runtime.load_performance(period)

    @task
    def reconcile(periods: list[str]) -> str:
        """Hive's kept rows against RDS MySQL and Redshift per period; fails with the table when they differ."""
        from loanlake.warehouse import runtime

        return runtime.reconcile_counts(periods)

    periods = resolve_periods()
    scripts_root = publish_scripts()
    config = settings()
    aws = {"aws_conn_id": config["aws_conn_id"], "region_name": config["region_name"]}
    parameters = period_parameters(periods)

    create_mysql_tables = SQLExecuteQueryOperator(
        task_id="create_mysql_tables",
        conn_id=config["mysql_conn_id"],
        sql="mysql/create_tables.sql",
        split_statements=True,
        return_last=False,
    )
    clear_mysql_staging = SQLExecuteQueryOperator.partial(
        task_id="clear_mysql_staging",
        conn_id=config["mysql_conn_id"],
        sql="mysql/clear_staging.sql",
    ).expand(parameters=parameters)
    password_file = stage_sqoop_password()
    create_cluster = emr_operators.create_cluster(config["job_flow_overrides"], aws)
    step_ids = submit_exports(create_cluster.output, periods, scripts_root, password_file)
    wait_for_step = emr_operators.wait_for_steps(create_cluster.output, step_ids, aws)
    publish_acquisition = SQLExecuteQueryOperator.partial(
        task_id="publish_acquisition",
        conn_id=config["mysql_conn_id"],
        sql="mysql/publish_acquisition.sql",
        split_statements=True,
        autocommit=False,  # the delete and the insert commit together
        return_last=False,
    ).expand(parameters=parameters)
    terminate_cluster = emr_operators.terminate_cluster(create_cluster.output, aws)
    redshift_tables = create_redshift_tables()
    checked = reconcile(periods)

    for prepared in (periods, scripts_root, config):
        prepared >> [create_mysql_tables, redshift_tables]
    # RDS MySQL: staging cleared, Sqoop on the transient cluster, then the swap
    chain(
        create_mysql_tables,
        clear_mysql_staging,
        password_file,
        create_cluster,
        step_ids,
        wait_for_step,
        [
            terminate_cluster.as_teardown(setups=create_cluster),
            delete_sqoop_password(password_file).as_teardown(setups=password_file),
        ],
    )
    chain(wait_for_step, publish_acquisition, checked)
    # Redshift: one period at a time through staging
    chain(redshift_tables, load_performance.expand(period=periods), checked)


loan_warehouse_load()
