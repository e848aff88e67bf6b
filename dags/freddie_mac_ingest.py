"""
### Freddie Mac ingest

Collects the Freddie Mac Single-Family Loan-Level Dataset into S3 `raw/`, one quarter per run.

**What it does.** `discover` lists the zips the configured source offers (the portal's download page,
a list of HTTPS URLs, or the S3 landing prefix that operators fill by hand), keeps the run's periods and
drops those whose manifest entry says they are already landed. `fetch` (one mapped task per zip) streams
the zip straight into S3: magic bytes and every member's CRC are checked on the way, each member lands at
`raw/<layout>/<kind>/period=<period>/`, and the zip's manifest entry is written last. `publish_manifest`
writes the run's manifest and updates the `freddie_mac_raw` asset, which starts `loan_data_processing`.

**Schedule.** Quarterly from 1999Q1, with catchup, two runs at a time: the first deployment loads the
history quarter by quarter, and each later run fetches the quarter of its data interval (the run for the
interval starting 2017-01-01 fetches `2017Q1`). Freddie Mac publishes a quarter months after it ends; a
run whose quarter is not out yet fails saying so. Clear it once the release is out.

**Manual runs and backfills.** Trigger with Params: `quarters` (e.g. `["2017Q1", "2017Q2"]`),
`sample_years` (e.g. `[2017]`), `refresh` (fetch again even when landed). Backfill a range with
`airflow backfill create --dag-id freddie_mac_ingest --from-date 2017-01-01 --to-date 2017-12-31`.

**On failure.** *Login failure* or *an HTML page instead of a zip*: the task fails at once (no retry) and
the message names the URL and what came back: check the `freddie_mac_portal` connection. *HTTP 5xx,
timeouts, cut bodies*: retried with backoff inside the task, then by Airflow. A rerun never duplicates:
members overwrite their keys, and the manifest entry is only written once all of them are in S3.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import airflow.providers.amazon.aws.assets.s3  # noqa: F401 - imported once by the DAG processor, not on each parse
import pendulum
from airflow.sdk import Param, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from loanlake.assets import FREDDIE_MAC_RAW
from loanlake.dag_defaults import deadline, default_args, run_timeout_alert

QUARTER_PATTERN = r"^(19|20)[0-9]{2}Q[1-4]$"


@dag(
    dag_id="freddie_mac_ingest",
    description="Freddie Mac loan-level zips from the source into S3 raw/, with a manifest",
    schedule=CronDataIntervalTimetable("0 6 1 1,4,7,10 *", timezone="UTC"),
    start_date=pendulum.datetime(1999, 1, 1, tz="UTC"),  # the dataset's first quarter
    catchup=True,
    max_active_runs=2,
    max_active_tasks=4,
    dagrun_timeout=timedelta(hours=12),
    on_failure_callback=run_timeout_alert(),  # the one alert of a run that times out
    deadline=deadline("freddie_mac_ingest", timedelta(hours=6)),  # an alert well before the timeout
    doc_md=__doc__,
    tags=["loanlake", "freddie-mac", "ingest"],
    default_args=default_args(execution_timeout=timedelta(hours=2)),
    params={
        "quarters": Param(
            [],
            type="array",
            items={"type": "string", "pattern": QUARTER_PATTERN},
            description="Quarters to fetch, e.g. 2017Q1. Empty: the quarter of the run's data interval.",
        ),
        "sample_years": Param(
            [],
            type="array",
            items={"type": "integer", "minimum": 1999, "maximum": 2100},
            description="Sample years to fetch (sample_YYYY.zip), e.g. 2017.",
        ),
        "refresh": Param(False, type="boolean", description="Fetch again even when the manifest says landed."),
    },
)
def freddie_mac_ingest() -> None:
    @task
    def discover(params: dict[str, Any], ti: Any, dag: Any, data_interval_start: Any = None) -> list[dict[str, Any]]:
        """List the source, keep the run's periods; return the files to fetch, keep the landed ones in XCom."""
        from loanlake.freddie_mac import ingest, runtime
        from loanlake.tasks import check_params

        check_params(params, dag)
        with runtime.permanent_errors_fail_fast():
            config, source, s3 = runtime.open_source()
            wanted = ingest.requested_periods(params["quarters"], params["sample_years"], data_interval_start)
            to_fetch, landed = ingest.plan(source, wanted, s3, config, refresh=params["refresh"])
        ti.xcom_push(key="landed", value=[entry.to_dict() for entry in landed])
        print(f"{len(to_fetch)} file(s) to fetch, {len(landed)} already landed")
        return [file.to_dict() for file in to_fetch]

    @task(max_active_tis_per_dagrun=2, retry_delay=timedelta(minutes=5))
    def fetch(file: dict[str, Any]) -> dict[str, Any]:
        """Stream one zip into raw/ and write its manifest entry."""
        from loanlake.freddie_mac import ingest, runtime
        from loanlake.freddie_mac.sources import SourceFile

        with runtime.permanent_errors_fail_fast():
            config, source, s3 = runtime.open_source()
            return ingest.fetch(SourceFile.from_dict(file), source, s3, config).to_dict()

    @task(outlets=[FREDDIE_MAC_RAW])
    def publish_manifest(fetched: list[dict[str, Any]], **context: Any) -> dict[str, Any]:
        """Write the run's manifest and tell the processing DAG which periods are new."""
        from loanlake.freddie_mac import runtime

        landed = context["ti"].xcom_pull(task_ids="discover", key="landed") or []
        return runtime.publish_run(fetched, landed, context, FREDDIE_MAC_RAW)

    publish_manifest(fetch.expand(file=discover()))


freddie_mac_ingest()
