"""
### Loan model drift

Daily: have the inputs the credit-risk endpoint scored drifted from the data the live model was trained
on? When the drift is material, and the last training is older than the cooldown, the `loan_model_drift`
asset is updated, which starts `loan_model_training`.

**What it does.** `measure_drift` reads the live model's baseline (`<training set>/baseline/`: bins and
percentiles per feature, written by `training_baseline.hql`) and the records SageMaker data capture wrote
for the run's data interval (`<ml.capture_prefix>/<endpoint>/AllTraffic/yyyy/mm/dd/hh/*.jsonl`; CSV, JSON
and BASE64 encodings; malformed records are skipped and counted by reason). Per feature it computes the PSI
over the baseline's bins (missing values as their own bin) and, for numeric features, the KS statistic
against the baseline's percentiles; a feature is moderate from `ml.drift.moderate_psi` (0.1), major from
`ml.drift.major_psi` (0.25). Fewer rows than `ml.drift.min_records` give no verdict, said plainly. The JSON
report and a PNG chart (baseline vs current shares of the most drifted features, PSI per feature) go to
`s3://<data_bucket>/<ml.drift.report_prefix>/<endpoint>/YYYY/MM/DD/HHMM/`; the log links them.
`retrain` goes on only when the drift is at least `ml.drift.material_level` and the last training
(deployed or not) is older than `ml.drift.cooldown_days`; `signal_drift` then updates the asset.

**On failure.**
- *measure_drift skipped: no live model*: nothing is deployed yet; `loan_model_training` deploys the first.
- *the baseline of live model ... is unusable*: its training set's `baseline/` is missing or broken; retrain
  (trigger `loan_model_training`) to write a new one.
- A rerun of an interval rewrites the same report; it updates the asset again only if the cooldown allows.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from loanlake.assets import LOAN_MODEL_DRIFT
from loanlake.dag_defaults import default_args, run_timeout_alert


@dag(
    dag_id="loan_model_drift",
    description="PSI and KS of the endpoint's captured inputs against the live model's training baseline",
    schedule=CronDataIntervalTimetable("0 1 * * *", timezone="UTC"),  # yesterday's traffic, each night
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    on_failure_callback=run_timeout_alert(),  # the one alert of a run that times out
    doc_md=__doc__,
    tags=["loanlake", "ml", "drift", "monitoring"],
    default_args=default_args(execution_timeout=timedelta(minutes=30)),
)
def loan_model_drift() -> None:
    @task
    def measure_drift(**context: Any) -> dict[str, Any]:
        """PSI/KS per feature, the verdict, the report and chart in S3, and whether to retrain."""
        from loanlake.ml import monitoring

        return monitoring.measure_drift(context)

    @task.short_circuit
    def retrain(result: dict[str, Any]) -> bool:
        """Material drift and the cooldown passed: go on to signal it."""
        print(result["decision"])
        return result["retrain"]

    @task(outlets=[LOAN_MODEL_DRIFT])
    def signal_drift(result: dict[str, Any], **context: Any) -> None:
        """Update the drift asset: loan_model_training starts on it."""
        context["outlet_events"][LOAN_MODEL_DRIFT].extra = {"summary": result["summary"], "report": result["report"]}

    result = measure_drift()
    retrain(result) >> signal_drift(result)


loan_model_drift()
