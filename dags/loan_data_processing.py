"""
### Loan data processing

Shapes the raw Freddie Mac files into typed, partitioned Parquet with Hive on a transient EMR cluster,
checks what Hive wrote, and updates the `loans_processed` asset.

**What it does.** `resolve_periods` picks the periods (`2017Q1` for a quarter, `2017` for a sample year):
the `periods` Param when given, else the periods of the `freddie_mac_raw` events that triggered the run.
`publish_scripts` uploads `include/hql/` to `s3://<data_bucket>/<emr.code_prefix>/<content hash>/`
(nothing is uploaded when that version is already there). `create_cluster` starts the EMR cluster
(`emr.release_label`, Hive, Sqoop and HCatalog, logs to `emr.log_uri`, tagged with this DAG, run, owner and
environment) and waits until it is ready. `submit_steps` adds one Hive step per script and period
(`create_databases`, `raw_tables`, `quarantine`, `acquisition`, `performance`, `quality_metrics`), named
`<period> <script>`, skipping any name the cluster already has, so a retry never adds a step twice.
`wait_for_step` (one per step) waits for each step. The quality gate then reads the metrics Hive wrote to
`quality/quality_metrics/period=<period>/` (from S3: no connection to the cluster is needed):
`check_row_balance` (lines read = rows kept + lines quarantined for every raw table, and the period was
read at all), `check_keys` (no kept row without its key; loan ids unique per period in acquisition) and
`check_quarantine_share` (no table rejects more than `emr.max_quarantine_share` of a
period's lines), which updates the `loans_processed` asset with `{"periods": [...]}`. `terminate_cluster`
is the teardown: it runs after success, after any failure and when the run is marked failed.

**Manual runs and backfills.** Trigger with `{"periods": ["2017Q1", "2017Q2"]}`. The quarter must be in
`raw/` already (run `freddie_mac_ingest` for it first). Rerunning a period overwrites its partitions.
At most 42 periods fit in one run (EMR takes 256 active steps per cluster): split longer backfills.

**On failure.**
- *resolve_periods: no periods to process*: a manual run without the `periods` Param. Trigger it with one.
- *publish_scripts: HQL script(s) missing*: the deployment lacks `include/hql/`; redeploy.
- *create_cluster*: EMR could not start the cluster (capacity, roles, subnet). The operator terminates a
  cluster that failed to start. Check the EMR console's cluster events, fix the config and clear the task.
- *wait_for_step: EMR step '<period> <script>' ... is FAILED*: the message gives EMR's reason and the step's
  `stderr.gz` under `emr.log_uri` (EMR copies it there within about five minutes). The steps after it show
  as CANCELLED. Fix the script (deploy it) or the data, then clear the run from `publish_scripts`, so the fixed
  scripts are published and a new cluster runs them.
- *check_row_balance / check_keys / check_quarantine_share*: the message lists each table, period and count, and the
  quarantine reasons; the rejected lines, with their reason, file and line number, are in `quarantine/`.
  Nothing downstream runs: the asset is not updated. Fix the input or raise `emr.max_quarantine_share`
  deliberately, then clear the failed check.
- *terminate_cluster*: the cluster may still be running. It retries; if it keeps failing, terminate the
  cluster by hand (its id is in the task's XCom and in the `run_id` tag).

**Is a cluster left?** `aws emr list-clusters --active` lists none tagged `loanlake:managed=true` once runs
are over. Should a teardown never run, the cluster still ends itself after `emr.idle_timeout_seconds` idle.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import chain, dag, task

from loanlake.assets import FREDDIE_MAC_RAW, LOANS_PROCESSED
from loanlake.dag_defaults import deadline, default_args, periods_param, run_timeout_alert
from loanlake.emr import operators as emr_operators


@dag(
    dag_id="loan_data_processing",
    description="Hive on a transient EMR cluster: raw files to typed Parquet, quarantine and quality metrics",
    schedule=[FREDDIE_MAC_RAW],
    start_date=pendulum.datetime(1999, 1, 1, tz="UTC"),  # runs are triggered by assets, or by hand for backfills
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=12),
    on_failure_callback=run_timeout_alert(),  # the one alert of a run that times out
    deadline=deadline("loan_data_processing", timedelta(hours=6)),  # an alert well before the timeout
    doc_md=__doc__,
    tags=["loanlake", "emr", "hive", "processing"],
    default_args=default_args(execution_timeout=timedelta(hours=4)),
    params={
        "periods": periods_param(
            "Periods to process, e.g. 2017Q1 or 2017. Empty: those of the triggering raw asset events."
        ),
    },
)
def loan_data_processing() -> None:
    @task
    def resolve_periods(params: dict[str, Any], **context: Any) -> list[str]:
        """The Params' periods, else those the triggering freddie_mac_raw events name."""
        from loanlake.processing import runtime

        return runtime.resolve_periods(params, context)

    @task
    def publish_scripts() -> str:
        """include/hql/ to S3 under its content hash; the folder's URI."""
        from loanlake.processing import runtime

        return runtime.publish_scripts()

    @task(multiple_outputs=True)
    def cluster_request(**context: Any) -> dict[str, Any]:
        """The RunJobFlow request and the AWS connection, from the config."""
        from loanlake.processing import runtime

        return runtime.cluster_request(context)

    @task
    def submit_steps(cluster_id: str, periods: list[str], scripts_root: str) -> list[str]:
        """One Hive step per script and period; steps already on the cluster are not added again."""
        from loanlake.processing import runtime

        return runtime.submit_steps(cluster_id, periods, scripts_root)

    @task
    def check_row_balance(periods: list[str]) -> None:
        """Lines read = rows kept + lines quarantined, for every raw table; something was read."""
        from loanlake.processing import quality, runtime

        runtime.quality_gate(quality.check_row_balance, periods)

    @task
    def check_keys(periods: list[str]) -> None:
        """No kept row without its key; loan ids unique per period in acquisition."""
        from loanlake.processing import quality, runtime

        runtime.quality_gate(quality.check_keys, periods)

    @task(outlets=[LOANS_PROCESSED])
    def check_quarantine_share(periods: list[str], **context: Any) -> None:
        """No table quarantines more than emr.max_quarantine_share; then tell the downstream DAGs the periods."""
        from loanlake.processing import quality, runtime

        runtime.quality_gate(quality.check_quarantine_share, periods)
        context["outlet_events"][LOANS_PROCESSED].extra = {"periods": periods}

    periods = resolve_periods()
    scripts_root = publish_scripts()
    request = cluster_request()
    aws = {"aws_conn_id": request["aws_conn_id"], "region_name": request["region_name"]}
    create_cluster = emr_operators.create_cluster(request["job_flow_overrides"], aws)
    step_ids = submit_steps(create_cluster.output, periods, scripts_root)
    wait_for_step = emr_operators.wait_for_steps(create_cluster.output, step_ids, aws)
    terminate_cluster = emr_operators.terminate_cluster(create_cluster.output, aws)

    chain(
        periods,
        scripts_root,
        request,
        create_cluster,
        step_ids,
        wait_for_step,
        terminate_cluster.as_teardown(setups=create_cluster),
    )
    # The checks read S3, not the cluster: outside its setup/teardown scope, so clearing one starts no cluster.
    chain(wait_for_step, check_row_balance(periods), check_keys(periods), check_quarantine_share(periods))


loan_data_processing()
