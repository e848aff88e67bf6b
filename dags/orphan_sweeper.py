"""
### Orphan sweeper

Hourly: ends what this package started and a teardown missed, so nothing is left running and billing.

- `sweep_clusters`: EMR clusters tagged `loanlake:managed=true`, older than `sweeper.cluster_max_age_hours`
  (1 h), whose DAG run (tags `dag_id`, `run_id`) is no longer queued or running: terminated. This is what ends
  the cluster of a run that hit its `dagrun_timeout`: the scheduler skips a timed-out run's teardown.
- `stop_overdue_training`: training jobs `loanlake-xgb-*` still in progress `sweeper.training_grace_minutes`
  after their own limit (`MaxRuntimeInSeconds`, or `MaxWaitTimeInSeconds` with spot): stopped.
- `remove_surplus_models`: endpoint configs and models `loanlake-xgb-*` beyond the newest `ml.keep_models` that
  no endpoint uses: deleted.
- `report`: every action in the log and as JSON in `s3://<data_bucket>/<sweeper.report_prefix>/YYYY/MM/DD/`;
  when a sweep failed, it still reports the others and then fails the run naming the failed ones.

**Dry run.** Trigger with `{"dry_run": true}` to see what it would do: it lists, changes nothing. A conf key
that is not a Param (`{"dryrun": true}`) fails every sweep before it changes anything.

**On failure.** A sweep task failing means an AWS call was refused or timed out: it retries; if it keeps
failing, check the Airflow role's permissions (`include/iam/airflow-execution-role.json`) and end the listed
resources by hand (`aws emr terminate-clusters`, `aws sagemaker stop-training-job`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from loanlake.dag_defaults import default_args, run_timeout_alert


@dag(
    dag_id="orphan_sweeper",
    description="Terminates orphaned EMR clusters, stops overdue training jobs, deletes surplus models",
    schedule="0 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=50),
    on_failure_callback=run_timeout_alert(),  # the one alert of a run that times out
    doc_md=__doc__,
    tags=["loanlake", "operations", "cost"],
    default_args=default_args(execution_timeout=timedelta(minutes=10)),
    params={"dry_run": Param(False, type="boolean", description="List what would be ended; change nothing.")},
)
def orphan_sweeper() -> None:
    @task
    def sweep_clusters(params: dict[str, Any], **context: Any) -> list[str]:
        """Terminate this package's clusters whose run is over."""
        from loanlake.sweeper import runtime
        from loanlake.tasks import check_params

        check_params(params, context["dag"])  # a mistyped dry_run must not sweep for real
        return runtime.sweep_clusters(params["dry_run"], context)

    @task
    def stop_overdue_training(params: dict[str, Any], dag: Any) -> list[str]:
        """Stop this package's training jobs past their own limit."""
        from loanlake.sweeper import runtime
        from loanlake.tasks import check_params

        check_params(params, dag)
        return runtime.stop_overdue_training(params["dry_run"])

    @task
    def remove_surplus_models(params: dict[str, Any], dag: Any) -> list[str]:
        """Delete endpoint configs and models beyond the newest ml.keep_models that no endpoint uses."""
        from loanlake.sweeper import runtime
        from loanlake.tasks import check_params

        check_params(params, dag)
        return runtime.remove_surplus_models(params["dry_run"])

    @task(trigger_rule="all_done")  # what the other sweeps did is reported even when one failed
    def report(clusters: list[str], training: list[str], models: list[str], params: dict[str, Any], **context: Any):
        """Every action, in the log and as JSON in S3."""
        from loanlake.sweeper import runtime

        actions = {"clusters": clusters, "training_jobs": training, "models": models}
        return runtime.report(actions, params["dry_run"], context)

    report(sweep_clusters(), stop_overdue_training(), remove_surplus_models())


orphan_sweeper()
