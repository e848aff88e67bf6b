"""
### Loan model training

Trains the credit-risk model (SageMaker's built-in XGBoost) on every processed loan, compares it with the
live model, and redeploys the endpoint only when the new one is at least as good. Runs monthly, and
whenever `loan_model_drift` reports material drift (the `loan_model_drift` asset).

**What it does.** `plan` names the run's job (`loanlake-xgb-<YYYYmmddHHMM>-<hash>`: unique per run, the same
on every retry) and its training set folder. On a transient EMR cluster (`create_cluster`, torn down by
`terminate_cluster` whatever happens) the Hive steps `training_set.hql` and `training_baseline.hql` build the
labelled set ("ever 90+ days delinquent, or zero-balance 02/03/09, within 24 months of the first payment";
censored loans left out), split 80/20 by a hash of the loan id, as headerless CSV with the label first,
and the baseline statistics the drift monitor compares with. `check_training_set` reads the counts.
`train` runs the training job (a retry attaches to the job of the run instead of starting another; a job
that ends Failed or Stopped fails with SageMaker's FailureReason). `evaluate` compares the new validation
AUC with the live model's (registry: `s3://<data_bucket>/<ml.registry_prefix>/<endpoint>.json`): deploy when
new >= live - `ml.auc_tolerance` and new >= `ml.auc_floor` (the first model: above the floor). The decision
and both numbers are in its log and its XCom. Held back, the run ends there (`deploy` is skipped).
Otherwise `deploy_endpoint` creates the model, an endpoint config with data capture and creates or updates
the endpoint (blue/green, rolled back by `ml.rollback_alarms`); `verify_endpoint` checks that the endpoint is
InService on the new config; `promote` makes it live in the registry; `deploy_endpoint_proxy` keeps the API
Gateway proxy Lambda (`include/lambda/endpoint_proxy/`) current; `clean_up_models` deletes models and
configs beyond the newest `ml.keep_models`.

**On failure.**
- *check_training_set*: too few labelled loans or no positives: process more periods first.
- *wait_for_step*: a Hive step failed: its message names the step log under `emr.log_uri`.
- *train: training job ... ended Failed/Stopped: <FailureReason>*: fix the cause (data, hyperparameters,
  capacity) and trigger a new run; clearing this one re-attaches to the same finished job.
- *evaluate: reported no validation:auc*: the job lacked a validation channel or `eval_metric` auc.
- *deploy_endpoint / verify_endpoint: ... on config OLD, not on the new ...*: the update failed and SageMaker
  rolled back; the previous model is still serving. The reason is in the message; nothing to clean up.
- *clean_up_models*: harmless; it runs again next time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import chain, dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from loanlake.assets import LOAN_MODEL_DRIFT
from loanlake.dag_defaults import default_args, run_timeout_alert
from loanlake.emr import operators as emr_operators
from loanlake.ml.operators import EndpointDeployOperator, TrainingJobOperator


@dag(
    dag_id="loan_model_training",
    description="SageMaker XGBoost on the processed loans, gated against the live model, blue/green redeploy",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 4 1 * *", timezone="UTC"), assets=[LOAN_MODEL_DRIFT]
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,  # a model trains on all the data there is: one run catches up
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=12),
    on_failure_callback=run_timeout_alert(),  # the one alert of a run that times out
    doc_md=__doc__,
    tags=["loanlake", "ml", "sagemaker", "emr"],
    default_args=default_args(execution_timeout=timedelta(hours=2)),
)
def loan_model_training() -> None:
    @task(multiple_outputs=True)
    def plan(**context: Any) -> dict[str, Any]:
        """The run's job name, training set folder and cluster request: the same on every try."""
        from loanlake.ml import runtime

        return runtime.plan(context)

    @task
    def publish_scripts() -> str:
        """include/hql/ to S3 under its content hash; the folder's URI."""
        from loanlake.ml.training import TRAINING_SCRIPTS
        from loanlake.processing import runtime

        return runtime.publish_scripts(TRAINING_SCRIPTS)

    @task
    def submit_steps(cluster_id: str, scripts_root: str, training_root: str, as_of: str) -> list[str]:
        """The training-set steps; steps already on the cluster are not added again."""
        from loanlake.ml import runtime

        return runtime.submit_training_steps(cluster_id, scripts_root, training_root, as_of)

    @task
    def check_training_set(training_root: str) -> dict[str, int]:
        """Enough labelled loans, and positives in both splits."""
        from loanlake.ml import runtime

        return runtime.check_training_set(training_root)

    @task
    def training_request(job: str, training_root: str, **context: Any) -> dict[str, Any]:
        """The CreateTrainingJob request from the config."""
        from loanlake.ml import runtime

        return runtime.training_request(job, training_root, context)

    @task
    def evaluate(job: str, training_root: str, **context: Any) -> dict[str, Any]:
        """New validation AUC against the live model's: the decision, both numbers, why."""
        from loanlake.ml import runtime

        return runtime.evaluate(job, training_root, context)

    @task.short_circuit
    def deploy(decision: dict[str, Any]) -> bool:
        """Go on to the deployment only when the gate said so."""
        return decision["deploy"]

    @task
    def deployment_request(decision: dict[str, Any]) -> dict[str, Any]:
        """Model, endpoint config with data capture, endpoint: the deployment operator's config."""
        from loanlake.ml import runtime

        return runtime.deployment_request(decision["model"]["job_name"], decision["model"]["model_data"])

    @task
    def verify_endpoint(job: str) -> str:
        """InService on the new config, or fail with the reason (the old config keeps serving)."""
        from loanlake.ml import runtime

        return runtime.verify_endpoint(job)

    @task
    def promote(decision: dict[str, Any]) -> None:
        """The verified model becomes the live one in the registry."""
        from loanlake.ml import runtime

        runtime.promote(decision)

    @task
    def deploy_endpoint_proxy() -> str:
        """The API Gateway proxy Lambda, created or updated from include/lambda/endpoint_proxy/."""
        from loanlake.ml import runtime

        return runtime.deploy_endpoint_proxy()

    @task
    def clean_up_models() -> list[str]:
        """Models and endpoint configs beyond the newest ml.keep_models, never the live one."""
        from loanlake.ml import runtime

        return runtime.clean_up_models()

    names = plan()
    scripts_root = publish_scripts()
    aws = {"aws_conn_id": names["aws_conn_id"], "region_name": names["region_name"]}
    create_cluster = emr_operators.create_cluster(names["job_flow_overrides"], aws)
    step_ids = submit_steps(create_cluster.output, scripts_root, names["training_root"], names["as_of"])
    wait_for_step = emr_operators.wait_for_steps(create_cluster.output, step_ids, aws)
    terminate_cluster = emr_operators.terminate_cluster(create_cluster.output, aws)
    counts = check_training_set(names["training_root"])
    train = TrainingJobOperator(
        task_id="train",
        config=training_request(names["job"], names["training_root"]),
        wait_for_completion=True,
        print_log=True,
        deferrable=True,
        execution_timeout=None,  # the job's own limits: ml.max_runtime_seconds (and max_wait with spot)
        **aws,
    )
    decision = evaluate(names["job"], names["training_root"])
    request = deployment_request(decision)
    deploy_endpoint = EndpointDeployOperator(
        task_id="deploy_endpoint",
        config=request,
        execution_timeout=timedelta(hours=2),
        **aws,
    )

    chain(
        [names, scripts_root],
        create_cluster,
        step_ids,
        wait_for_step,
        [counts, terminate_cluster.as_teardown(setups=create_cluster)],
    )
    chain(
        counts,
        train,
        decision,
        deploy(decision),
        request,
        deploy_endpoint,
        verify_endpoint(names["job"]),
        promote(decision),
        deploy_endpoint_proxy(),
        clean_up_models(),
    )


loan_model_training()
