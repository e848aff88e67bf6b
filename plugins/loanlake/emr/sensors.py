"""A step sensor whose failure names the step, EMR's failure details and the step's log, and is not retried."""

from __future__ import annotations

import math
from typing import Any

from airflow.providers.amazon.aws.sensors.emr import EmrStepSensor
from airflow.sdk.exceptions import AirflowFailException

from loanlake.alerts import AlertedElsewhere
from loanlake.emr.logs import failure_message


class StepSensor(EmrStepSensor):
    """``EmrStepSensor`` polling every ``emr.poll_seconds``, failing with the step's story, not retried.

    Steps run one at a time in the order submitted, so the sensor of the n-th step (map index n - 1) waits
    behind the steps before it: it gives up after n times ``emr.step_timeout_minutes``.

    A step in a failed state fails the task at once (a retry cannot change a finished step) with a message
    from ``loanlake.emr.logs``; a CANCELLED step (an earlier one failed) fails it without an alert of its own.
    Retries stay for what a retry can fix: API errors and lost workers.
    """

    def execute(self, context: Any) -> None:
        from loanlake.config import load_config
        from loanlake.freddie_mac.runtime import permanent_errors_fail_fast

        with permanent_errors_fail_fast():
            emr = load_config().emr
        self.poke_interval = emr.poll_seconds
        self.timeout = emr.step_timeout_minutes * 60 * (max(context["ti"].map_index, 0) + 1)
        self.max_attempts = math.ceil(self.timeout / self.poke_interval)
        super().execute(context)

    def poke(self, context: Any) -> bool:
        response = self.get_emr_response(context=context)
        state = self.state_from_response(response)
        self.log.info("step %s (%s) is %s", response["Step"]["Name"], self.step_id, state)
        if state in self.failed_states:
            raise self._failed(response["Step"])
        return state in self.target_states

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> None:
        if event and event.get("status") == "success":
            self.log.info("step %s completed", self.step_id)
            return
        step = self.hook.conn.describe_step(ClusterId=self.job_flow_id, StepId=self.step_id)["Step"]
        state = step["Status"]["State"]
        if state in self.target_states:
            return
        if state in self.failed_states:
            raise self._failed(step)
        raise AirflowFailException(
            f"gave up after {self.timeout / 60:.0f} minutes (emr.step_timeout_minutes for it and each step before it): "
            f"{self._failure(step)}"
        )

    def _failed(self, step: dict[str, Any]) -> AirflowFailException:
        """The task's error: a cancelled step's sensor sends no alert, the failed step's before it does."""
        error = AlertedElsewhere if step["Status"]["State"] == "CANCELLED" else AirflowFailException
        return error(self._failure(step))

    def _failure(self, step: dict[str, Any]) -> str:
        cluster = self.hook.conn.describe_cluster(ClusterId=self.job_flow_id)["Cluster"]
        return failure_message(self.job_flow_id, step, cluster.get("LogUri"))
