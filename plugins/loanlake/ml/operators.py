"""The provider's SageMaker operators, with their polling from the config and the checks this package needs.

``TrainingJobOperator`` attaches to its run's job on a retry and asserts the job's final status;
``EndpointDeployOperator`` creates or updates the endpoint, polling every ``ml.poll_seconds`` for at most
``ml.deploy_timeout_minutes``.
"""

from __future__ import annotations

import math
from typing import Any

from airflow.providers.amazon.aws.operators.sagemaker import SageMakerEndpointOperator, SageMakerTrainingOperator
from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from botocore.exceptions import ClientError


class TrainingJobOperator(SageMakerTrainingOperator):
    """Start the run's training job, or follow it when an earlier try started it; fail unless it Completed.

    The job name is the run's (``loanlake.ml.training.job_name``), so a retry after a lost worker or a timeout
    finds the job the first try started and waits for it instead of starting a second one (the provider's
    ``action_if_job_exists`` can only fail or rename). A job that ends Failed or Stopped fails the task at once
    with SageMaker's ``FailureReason``: a retry cannot change a finished job; clear the task to train again
    under a new try only after fixing the cause (a cleared run keeps its name: delete nothing, trigger a new run).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(check_if_job_exists=False, **kwargs)

    def execute(self, context: Any) -> dict:
        ml = _ml_config()
        self.check_interval = ml.poll_seconds
        self.max_ingestion_time = (ml.max_wait_seconds if ml.use_spot else ml.max_runtime_seconds) + 600
        self.max_attempts = math.ceil(self.max_ingestion_time / self.check_interval)
        name = self.config["TrainingJobName"]
        try:
            description = self.hook.describe_training_job(name)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ValidationException":  # SageMaker's "not found"
                raise
            self.log.info("starting training job %s", name)
            try:
                super().execute(context)  # defers while the job runs when deferrable
            except AirflowException:
                if self.hook.describe_training_job(name)["TrainingJobStatus"] not in self.hook.failed_states:
                    raise
            return self._completed(name)
        status = description["TrainingJobStatus"]
        self.log.info("training job %s already exists (%s): attaching to it instead of starting another", name, status)
        if status in self.hook.non_terminal_states and self.deferrable:
            self.defer(
                trigger=SageMakerTrigger(
                    job_name=name,
                    job_type="Training",
                    waiter_delay=self.check_interval,
                    waiter_max_attempts=self.max_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
            )
        if status in self.hook.non_terminal_states:
            self.hook.check_training_status_with_log(
                name, self.hook.non_terminal_states, self.hook.failed_states, True, self.check_interval
            )
        return self._completed(name)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict:
        return self._completed((event or {}).get("job_name") or self.config["TrainingJobName"])

    def _completed(self, name: str) -> dict:
        description = self.hook.describe_training_job(name)
        status = description["TrainingJobStatus"]
        if status in self.hook.non_terminal_states:  # the wait gave up: a retry attaches and waits again
            raise AirflowException(f"training job {name} is still {status} after {self.max_ingestion_time} s")
        if status != "Completed":
            reason = description.get("FailureReason") or "SageMaker gave no FailureReason"
            raise AirflowFailException(f"training job {name} ended {status}: {reason}")
        self.log.info("training job %s completed", name)
        return self.serialize_result(name)


class EndpointDeployOperator(SageMakerEndpointOperator):
    """Create the endpoint, or update it when it exists (the provider falls back to UpdateEndpoint), deferrably.

    Waits until the endpoint is InService again: after a failed update SageMaker rolls back and the endpoint
    is InService on the old config, so the DAG verifies the config it serves afterwards.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(operation="create", deferrable=True, **kwargs)

    def execute(self, context: Any) -> dict:
        ml = _ml_config()
        self.check_interval = ml.poll_seconds
        self.max_ingestion_time = ml.deploy_timeout_minutes * 60
        # A retry finds the model and endpoint config its first try created (they are named after the job): the
        # provider would create them again and fail, so only what is missing is created.
        for part, name_key, describe in (
            ("Model", "ModelName", self.hook.describe_model),
            ("EndpointConfig", "EndpointConfigName", self.hook.describe_endpoint_config),
        ):
            name = self.config.get(part, {}).get(name_key)
            if name and _exists(describe, name):
                self.log.info("%s %s exists already (an earlier try made it): not creating it again", part, name)
                self.config.pop(part)
        return super().execute(context)


def _exists(describe: Any, name: str) -> bool:
    try:
        describe(name)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ValidationException":  # SageMaker's "could not find"
            return False
        raise
    return True


def _ml_config() -> Any:
    from loanlake.tasks import config

    return config().ml
