"""
### Stream health

Every 15 minutes: is the loan-application stream (producer -> Kinesis -> Firehose with its transformation
Lambda -> S3) present, healthy, sized for its traffic and delivering? The declared spec is the `streaming`
section of the `loanlake_config` Variable: one source of truth for the checks and for remediation.

**Checks** (the `checks` group; each logs one PASS or FAIL line per check and fails at once on a problem):

- `checks.stream`: the Kinesis stream exists and is ACTIVE; retention and KMS encryption as declared; open
  shards within `min_shards`-`max_shards` and enough for the busiest minute of the window: max(write KB/s /
  1000, read KB/s / 2000, records/s / 1000), rounded up (CloudWatch `IncomingBytes`, `GetRecords.Bytes`,
  `IncomingRecords`); no `WriteProvisionedThroughputExceeded`; `GetRecords.IteratorAgeMilliseconds` under
  `max_iterator_age_seconds`.
- `checks.delivery_stream`: the Firehose delivery stream exists, is ACTIVE, reads the declared stream and
  writes to the declared bucket, prefixes, buffering and compression through the declared Lambda.
- `checks.processor`: the Lambda exists and is Active, its runtime is supported, handler, role and timeout
  are as declared, and its `CodeSha256` equals the reproducible build of `include/lambda/<source>/`.
- `checks.delivery`: while records arrive, an object younger than the buffer interval plus
  `freshness_slack_minutes` lands under the prefix; new objects under the error prefix (records the Lambda
  failed) are counted and listed.
- `checks.buckets`: the data bucket and the EMR log bucket block all public access and encrypt by default.

`remediate` (only with the Param `remediate: true`) applies the fixes the failed checks name: blocks public
access and sets default encryption on a bucket that lacks them; creates a missing stream, Lambda or delivery
stream; raises retention; starts encryption; resizes shards within the
bounds (`UpdateShardCount`, in doubling or halving steps); redeploys drifted Lambda code or configuration;
resets a drifted destination. It never deletes anything. `report` writes the report as JSON to
`s3://<data_bucket>/<streaming.report_prefix>/YYYY/MM/DD/<run id>.json`, prints the table, and fails listing
every problem remediation did not fix.

**On failure.** Read the `report` log: one line per problem.
- *stream/exists, delivery_stream/exists, processor/exists*: the resource is missing. Trigger with
  `{"remediate": true}` to create it as declared.
- *stream/shards*: traffic needs more shards than are open (or the count is outside the bounds). Remediation
  resizes within `max_shards`; if the traffic needs more, raise `streaming.stream.max_shards` deliberately.
- *stream/throttling*: producers were refused; usually follows too few shards. Producers retry what was refused.
- *stream/iterator_age*: Firehose (or another reader) lags; check the delivery stream and the Lambda's errors.
- *delivery_stream/source*: the delivery stream reads another stream; a source cannot change: recreate it by hand.
- *delivery_stream/destination, processor/code, processor/configuration, processor/runtime*: drift from
  the spec (a hand edit, an old deployment); remediation sets them back.
- *delivery/fresh*: records arrive but nothing is delivered: look at the Lambda's errors in CloudWatch Logs
  and the delivery stream's `DeliveryToS3.*` metrics.
- *buckets/<bucket>/public_access, buckets/<bucket>/encryption*: someone opened or unencrypted a bucket; find
  out who (CloudTrail `PutPublicAccessBlock`, `DeleteBucketEncryption`); remediation protects it again.
- *delivery/errors*: records failed the transformation and were written under the error prefix (the keys are
  listed). Read one: each line has the record, the error code and message. Fix the producer; nothing to rerun here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, chain, dag, task, task_group

from loanlake.dag_defaults import default_args, run_timeout_alert
from loanlake.streaming.findings import COMPONENTS


@dag(
    dag_id="stream_health",
    description="Kinesis, Firehose, its Lambda and its S3 destination: present, healthy, sized, delivering",
    schedule="*/15 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,  # a health check is about now: missed slots are not worth running later
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    on_failure_callback=run_timeout_alert(),  # the one alert of a run that times out
    doc_md=__doc__,
    tags=["loanlake", "streaming", "kinesis", "firehose", "health"],
    default_args={**default_args(execution_timeout=timedelta(minutes=3)), "retry_delay": timedelta(seconds=30)},
    params={
        "remediate": Param(
            False, type="boolean", description="Create what is missing, resize shards, redeploy drift. Never deletes."
        ),
    },
)
def stream_health() -> None:
    @task
    def check(component: str, **context: Any) -> None:
        """One component's checks: a PASS/FAIL line each; fails at once on a problem."""
        from loanlake.streaming import runtime

        runtime.run_check(component, context)

    @task_group(group_id="checks")
    def checks() -> None:
        for component in COMPONENTS:
            check.override(task_id=component)(component)

    @task(trigger_rule="all_done", execution_timeout=timedelta(minutes=20))
    def remediate(params: dict[str, Any], **context: Any) -> list[dict[str, Any]]:
        """Apply the fixes the failed checks name, when the Param asks for it."""
        from loanlake.streaming import runtime
        from loanlake.tasks import check_params

        check_params(params, context["dag"])
        return runtime.remediate(params["remediate"], context)

    @task(trigger_rule="all_done")
    def report(**context: Any) -> str:
        """The report: JSON to S3, the table in the log; fails listing every problem left."""
        from loanlake.streaming import runtime

        return runtime.report(context)

    chain(checks(), remediate(), report())


stream_health()
