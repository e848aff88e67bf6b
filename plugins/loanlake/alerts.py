"""Failure alerts: one SNS message per failure that says what failed, where to look and what to do.

``FailureNotifier`` (the provider's ``SnsNotifier``, with its message built at failure time) is every task's
``on_failure_callback`` (``loanlake.dag_defaults``); ``RunTimeoutNotifier`` is every DAG's, for a run that hits
its ``dagrun_timeout``. The message names the DAG, task, run, try, the periods or data interval, the error, what
matters for the task (the EMR cluster, step and the step's log in S3; the SageMaker job or endpoint and
SageMaker's FailureReason; the Redshift statement id and error, and stream-health problems are in the error
itself), the task's log URL and the runbook section of the DAG. A task that fails only because an earlier one
did raises ``AlertedElsewhere``: no second message. ``deadline_missed`` sends the alert of a DAG run that is
still not done by its deadline.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.providers.amazon.aws.notifications.sns import SnsNotifier
from airflow.sdk.exceptions import AirflowFailException

from loanlake.config import LoanlakeConfig

log = logging.getLogger("loanlake.alerts")

MAX_ERROR_CHARS = 1500


class AlertedElsewhere(AirflowFailException):
    """Fails a task without an alert of its own: another task's alert covers this failure."""


def runbook_link(config: LoanlakeConfig, dag_id: str) -> str:
    """The DAG's section of docs/runbook.md (``## <dag_id>`` headings)."""
    return f"{config.alerts.runbook_url}#{dag_id}"


def _scope(context: dict[str, Any]) -> str:
    ti, params = context["ti"], context.get("params") or {}
    periods = params.get("periods") or [*params.get("quarters", []), *map(str, params.get("sample_years", []))]
    if not periods and "resolve_periods" in context["dag"].task_ids:
        periods = ti.xcom_pull(task_ids="resolve_periods")
    if periods:
        return f"periods {', '.join(map(str, periods))}"
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    return f"data interval {start} to {end}" if start else "no data interval"


def _emr_details(context: dict[str, Any], config: LoanlakeConfig) -> list[str]:
    from loanlake.emr.logs import step_log_uri

    cluster = context["ti"].xcom_pull(task_ids="create_cluster")
    if not cluster:
        return []
    lines = [f"EMR cluster {cluster} (tag run_id={context['run_id']})"]
    step = getattr(context["task"], "step_id", None)
    if step:
        lines.append(f"EMR step {step}, its log: {step_log_uri(config.emr.log_uri, cluster, step)}")
    return lines


def _sagemaker_details(context: dict[str, Any], config: LoanlakeConfig) -> list[str]:
    from loanlake.tasks import aws_client

    task, sagemaker = context["task"], aws_client(config, "sagemaker")
    job = (getattr(task, "config", None) or {}).get("TrainingJobName")
    if job:
        description = sagemaker.describe_training_job(TrainingJobName=job)
        return [
            f"SageMaker training job {job}: {description['TrainingJobStatus']}: "
            f"{description.get('FailureReason') or 'no FailureReason'}",
            f"its log: CloudWatch Logs /aws/sagemaker/TrainingJobs, streams {job}/algo-*",
        ]
    if task.task_id in ("deploy_endpoint", "verify_endpoint"):
        endpoint = sagemaker.describe_endpoint(EndpointName=config.ml.endpoint_name)
        return [
            f"SageMaker endpoint {config.ml.endpoint_name}: {endpoint['EndpointStatus']} on "
            f"{endpoint['EndpointConfigName']}: {endpoint.get('FailureReason') or 'no FailureReason'}"
        ]
    return []


def failure_message(context: dict[str, Any], config: LoanlakeConfig) -> tuple[str, str]:
    """The alert's subject and text."""
    ti = context["ti"]
    task = ti.task_id if ti.map_index is None or ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
    error = context.get("exception")
    details = []
    for gather in (_emr_details, _sagemaker_details):
        try:
            details += gather(context, config)
        except Exception as exc:  # an alert goes out even when its extras cannot be read
            details.append(f"({gather.__name__.strip('_')} unavailable: {type(exc).__name__}: {exc})")
    lines = [
        f"{ti.dag_id}.{task} failed (environment {config.environment})",
        f"run {context['run_id']}, try {ti.try_number} of {ti.max_tries + 1}, {_scope(context)}",
        f"error: {type(error).__name__}: {str(error)[:MAX_ERROR_CHARS]}" if error else "error: none recorded",
        *details,
        f"log: {ti.log_url}",
        f"runbook: {runbook_link(config, ti.dag_id)}",
    ]
    subject = f"[loanlake {config.environment}] {ti.dag_id}.{task} failed"[:100]
    return subject, "\n".join(lines)


def _alert_config() -> tuple[LoanlakeConfig, str]:
    """The config in force, or, when the Variable is invalid, the environment's and defaults: the alert goes out."""
    from loanlake.config import ConfigError, load_config, parse_config

    try:
        return load_config(), ""
    except ConfigError as exc:
        return parse_config(None), f"\nthe loanlake_config Variable is invalid ({exc}): this alert used the defaults"


class FailureNotifier(SnsNotifier):
    """The provider's SNS notifier; the topic, connection and message come from the config and the failure."""

    template_fields = ()  # nothing to render: the message is built from the context

    def __init__(self) -> None:
        super().__init__(target_arn="alerts.topic_arn", message="built at failure time")

    def wanted(self, context: dict[str, Any]) -> bool:
        return not isinstance(context.get("exception"), AlertedElsewhere)

    def compose(self, context: dict[str, Any], config: LoanlakeConfig) -> tuple[str, str]:
        return failure_message(context, config)

    def notify(self, context: dict[str, Any]) -> None:
        if not self.wanted(context):
            return
        config, warning = _alert_config()
        self.aws_conn_id, self.region_name, self.target_arn = config.aws_conn_id, config.region, config.alerts.topic_arn
        self.subject, self.message = self.compose(context, config)
        self.message += warning
        super().notify(context)
        log.info("alert sent to %s: %s", self.target_arn, self.subject)


class RunTimeoutNotifier(FailureNotifier):
    """A DAG's ``on_failure_callback``: one alert when a run hits its ``dagrun_timeout``.

    The scheduler then skips the run's unfinished tasks, teardowns included, and no task alert goes out; a
    run that failed through a task is already alerted by that task.
    """

    def wanted(self, context: dict[str, Any]) -> bool:
        return context.get("reason") == "timed_out"

    def compose(self, context: dict[str, Any], config: LoanlakeConfig) -> tuple[str, str]:
        dag = context["dag"]
        lines = [
            f"{dag.dag_id} run {context['run_id']} timed out after {dag.dagrun_timeout} (environment "
            f"{config.environment}): its unfinished tasks were skipped, its teardowns did not run.",
            "An EMR cluster it started is terminated by orphan_sweeper within "
            f"{config.sweeper.cluster_max_age_hours:g} h (or end it now by its run_id tag).",
            f"runbook: {runbook_link(config, dag.dag_id)}",
        ]
        return f"[loanlake {config.environment}] {dag.dag_id} run timed out"[:100], "\n".join(lines)


async def deadline_missed(dag_id: str, deadline: str, **_: Any) -> None:
    """A DeadlineAlert's callback (runs in the triggerer): the run is not done by its deadline."""
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    config, warning = _alert_config()
    message = (
        f"{dag_id}: a run is not done {deadline} after it was queued (environment {config.environment}).\n"
        f"Look at the DAG's running tasks in the Airflow UI; runbook: {runbook_link(config, dag_id)}{warning}"
    )
    await SnsHook(aws_conn_id=config.aws_conn_id, region_name=config.region).apublish_to_target(
        target_arn=config.alerts.topic_arn, message=message, subject=f"[loanlake {config.environment}] {dag_id} late"
    )
