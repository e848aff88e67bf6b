"""What the ingest tasks need from Airflow at run time: config, connections, S3, fail-fast errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from loanlake.config import ConfigError, LoanlakeConfig, load_config
from loanlake.freddie_mac import ingest, manifest
from loanlake.freddie_mac.errors import SourceError
from loanlake.freddie_mac.layouts import LayoutError
from loanlake.freddie_mac.sources import Source
from loanlake.freddie_mac.transfer import LandedFile

log = logging.getLogger("loanlake.freddie_mac")


@contextmanager
def permanent_errors_fail_fast() -> Iterator[None]:
    """Errors that a retry cannot fix fail the task at once, with their message and no retry."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        yield
    except (SourceError, LayoutError, ConfigError) as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def open_source() -> tuple[LoanlakeConfig, Source, Any]:
    """The config, the configured source and an S3 client from the provider's hook."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    with permanent_errors_fail_fast():
        config = load_config()
    s3 = S3Hook(aws_conn_id=config.aws_conn_id).get_conn()
    return config, ingest.build_source(config, s3, _credentials), s3


def _credentials(conn_id: str) -> tuple[str, str]:
    from airflow.sdk import Connection

    conn = Connection.get(conn_id)
    if not conn.login or not conn.password:
        raise ConfigError(f"connection {conn_id!r} needs a login and a password for the Freddie Mac portal")
    return conn.login, conn.password


def publish_run(
    fetched: list[dict[str, Any]], landed: list[dict[str, Any]], context: dict[str, Any], asset: Any
) -> dict[str, Any]:
    """Write the run's manifest, attach the new periods to the asset event, return the summary."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    config = load_config()
    s3 = S3Hook(aws_conn_id=config.aws_conn_id).get_conn()
    fetched_files = [LandedFile.from_dict(d) for d in fetched]
    summary = ingest.run_summary(fetched_files, [LandedFile.from_dict(d) for d in landed], config.data_bucket)
    run_id = context["run_id"]
    summary["run_id"] = run_id
    key = manifest.write_run(s3, config.data_bucket, config.manifest_prefix, run_id, summary)
    uri = f"s3://{config.data_bucket}/{key}"
    context["outlet_events"][asset].extra = {"periods": summary["periods"], "manifest": uri}
    log.info(
        "run manifest %s: %d file(s) fetched (%d bytes raw, %d lines), %d already landed; new periods %s",
        uri,
        summary["fetched_files"],
        summary["fetched_raw_bytes"],
        summary["fetched_lines"],
        summary["skipped_files"],
        summary["periods"],
    )
    return summary
