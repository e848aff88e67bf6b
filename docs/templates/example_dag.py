"""
### Loan quality audit

Checks the quality metrics of processed periods again, from S3, without starting a cluster. Use it after
`processed/` was repaired by hand, or after `emr.max_quarantine_share` was changed, to see whether a period
passes the quality gate now.

**What it does.** `resolve_periods` takes the periods of the `periods` Param (`2017Q1` for a quarter, `2017`
for a sample year). `check_row_balance`, `check_keys` and `check_quarantine_share` each read what
`quality_metrics.hql` wrote to `s3://<data_bucket>/<quality_prefix>/quality_metrics/period=<period>/` and fail,
listing every table and period at fault, when the check finds a problem. Nothing is written; a rerun is safe.

**Manual runs.** Trigger with `{"periods": ["2017Q1", "2017Q2"]}`. The periods must have been processed by
`loan_data_processing`.

**On failure.**
- *resolve_periods: no periods to process*: the run has no `periods` Param. Trigger it with one.
- *resolve_periods: periods must look like 2017Q1*: a period in the Param is malformed; trigger again.
- *check_...: no metrics for period ... did quality_metrics.hql run?*: the period was never processed; run
  `loan_data_processing` for it first.
- *check_row_balance: row balance: ...*, *check_keys: keys: ...*, *check_quarantine_share: quarantine share:
  ...*: the message lists each table, period and count; the rejected lines, with their reason, are in
  `quarantine/`. Fix the input and process the period again, then trigger this DAG for it.
"""

# Copy this file to dags/<dag_id>.py, rename the DAG, and replace the tasks with your own. Keep the file thin: the
# schedule, the tasks, their order and the docs. The logic lives in plugins/loanlake/<domain>/.

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum

# The Task SDK (airflow.sdk) is the DAG authoring API of Airflow 3: dag, task, Param, chain, Asset come from here,
# not from airflow.models or airflow.decorators.
from airflow.sdk import Param, chain, dag, task

# default_args() gives every task the owner, retries with backoff, a time limit and the failure alert; import only
# what builds the DAG at module level (cheap, no I/O), everything else inside the tasks.
from loanlake.dag_defaults import default_args, run_timeout_alert
from loanlake.processing.periods import PERIOD_PATTERN


@dag(
    dag_id="loan_quality_audit",  # the file is dags/loan_quality_audit.py; the runbook needs `## loan_quality_audit`
    description="Checks the quality metrics of processed periods again, from S3, without a cluster",
    # On demand only. Other choices: a cron string (stream_health), CronDataIntervalTimetable for runs that each
    # own an interval and can be backfilled (freddie_mac_ingest), [ASSET] from loanlake.assets to run when another
    # DAG updates it (loan_data_processing), AssetOrTimeSchedule for both (loan_model_training).
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),  # fixed and in the past, never "now"
    catchup=False,  # always explicit: the default comes from the deployment's config, not from this file
    max_active_runs=1,  # always explicit, for the same reason; 1 unless runs can never touch the same objects
    dagrun_timeout=timedelta(hours=1),  # a run that takes longer is failed by the scheduler
    on_failure_callback=run_timeout_alert(),  # the one alert of a run that times out
    # Long runs also get a deadline alert before the timeout: deadline=deadline("loan_quality_audit", timedelta(...))
    # from loanlake.dag_defaults (see freddie_mac_ingest).
    doc_md=__doc__,  # the module docstring: what it does and what each failure means, shown in the UI
    tags=["loanlake", "processing", "quality"],
    default_args=default_args(execution_timeout=timedelta(minutes=15)),  # a ceiling for one try of one task
    params={
        # A Param with a JSON schema: the trigger form validates it before the run starts. For periods, the
        # package's helper loanlake.dag_defaults.periods_param(description) builds this same Param.
        "periods": Param(
            [],
            type="array",
            items={"type": "string", "pattern": PERIOD_PATTERN},
            description="Periods to check, e.g. 2017Q1 or 2017.",
        ),
    },
)
def loan_quality_audit() -> None:
    # Each task imports its logic inside its body: the DAG processor parses this file often and must stay fast and
    # free of I/O, and the config (the loanlake_config Variable) is read at run time only, via loanlake.tasks.config()
    # inside the functions called here.
    @task
    def resolve_periods(params: dict[str, Any], **context: Any) -> list[str]:
        """The Params' periods, validated; fails at once, without retries, when there are none."""
        from loanlake.processing import runtime

        return runtime.resolve_periods(params, context)

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

    @task
    def check_quarantine_share(periods: list[str]) -> None:
        """No table quarantines more than emr.max_quarantine_share of a period's lines."""
        from loanlake.processing import quality, runtime

        runtime.quality_gate(quality.check_quarantine_share, periods)

    # Data passes between tasks as XCom (the return values); chain() states the order in one place.
    periods = resolve_periods()
    chain(periods, [check_row_balance(periods), check_keys(periods), check_quarantine_share(periods)])


loan_quality_audit()
