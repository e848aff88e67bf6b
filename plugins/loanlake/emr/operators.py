"""The transient cluster's three operators, the same in every DAG that runs steps: create, follow each step, end.

The DAG makes ``terminate_cluster`` the teardown of ``create_cluster`` (``.as_teardown(setups=...)``).
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.operators.emr import EmrCreateJobFlowOperator, EmrTerminateJobFlowOperator
from airflow.providers.amazon.aws.utils.waiter import WaitPolicy

from loanlake.emr.cluster import cluster_of_run
from loanlake.emr.sensors import StepSensor

CREATE_MINUTES, TERMINATE_MINUTES = 30, 20  # how long a cluster may take to start, and to end


class RunClusterOperator(EmrCreateJobFlowOperator):
    """``EmrCreateJobFlowOperator`` whose retry finds the cluster an earlier try of the run started (by its tags)
    and waits for it, instead of starting a second one."""

    def execute(self, context: Any) -> str | None:
        self.waiter_delay, self.waiter_max_attempts = _polling(CREATE_MINUTES)
        existing = cluster_of_run(self.hook.conn, context["dag"].dag_id, context["run_id"])
        if existing is None:
            return super().execute(context)
        self.log.info("cluster %s of this run exists (an earlier try started it): waiting for it instead", existing)
        limits = {"Delay": self.waiter_delay, "MaxAttempts": self.waiter_max_attempts}
        self.hook.conn.get_waiter("cluster_running").wait(ClusterId=existing, WaiterConfig=limits)  # RUNNING or WAITING
        return existing


class ClusterTeardownOperator(EmrTerminateJobFlowOperator):
    """``EmrTerminateJobFlowOperator`` polling every ``emr.poll_seconds`` until the cluster is TERMINATED."""

    def execute(self, context: Any) -> None:
        self.waiter_delay, self.waiter_max_attempts = _polling(TERMINATE_MINUTES)
        super().execute(context)


def _polling(minutes: int) -> tuple[int, int]:
    """(delay, attempts) of a wait of at most ``minutes``, polling every ``emr.poll_seconds``."""
    from loanlake.tasks import config

    delay = config().emr.poll_seconds
    return delay, max(1, minutes * 60 // delay)


def create_cluster(job_flow_overrides: Any, aws: dict[str, Any]) -> EmrCreateJobFlowOperator:
    """Start the run's cluster (or find the one it started) and wait until it is ready for steps."""
    return RunClusterOperator(
        task_id="create_cluster",
        job_flow_overrides=job_flow_overrides,
        emr_conn_id=None,
        wait_policy=WaitPolicy.WAIT_FOR_COMPLETION,  # until WAITING: up, bootstrapped, no steps yet
        # Not deferrable: only the blocking wait terminates a cluster that fails to start.
        deferrable=False,
        **aws,
    )


def wait_for_steps(cluster: Any, step_ids: Any, aws: dict[str, Any]) -> Any:
    """One deferrable sensor per step (mapped), each with its own timeout (``StepSensor``)."""
    return StepSensor.partial(
        task_id="wait_for_step",
        job_flow_id=cluster,
        deferrable=True,
        execution_timeout=None,  # the sensor's own timeout: emr.step_timeout_minutes per step up to this one
        **aws,
    ).expand(step_id=step_ids)


def terminate_cluster(cluster: Any, aws: dict[str, Any]) -> EmrTerminateJobFlowOperator:
    """End the cluster and wait until it is TERMINATED."""
    return ClusterTeardownOperator(
        task_id="terminate_cluster",
        job_flow_id=cluster,
        deferrable=True,
        **aws,  # waits until TERMINATED
    )
