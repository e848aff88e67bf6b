"""The ingest's steps, free of Airflow: which periods a run wants, which files to fetch, fetching with retries."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from tenacity import Retrying, before_sleep_log, retry_if_exception_type, stop_after_attempt, wait_exponential

from loanlake.config import LoanlakeConfig
from loanlake.freddie_mac import manifest
from loanlake.freddie_mac.errors import SourceError, TransientSourceError
from loanlake.freddie_mac.landing import LandingSource
from loanlake.freddie_mac.sources import Source, SourceFile
from loanlake.freddie_mac.transfer import LandedFile, land_zip

log = logging.getLogger("loanlake.freddie_mac")

Period = tuple[str, str]  # (dataset, period): ("quarterly", "2017Q1") or ("sample", "2017")
FIRST_QUARTER = "1999Q1"  # the dataset's first origination quarter
_QUARTER, _YEAR = r"[0-9]{4}Q[1-4]", r"[0-9]{4}"


class MissingPeriodError(SourceError):
    """A requested quarter or sample year that the source does not offer (yet)."""


def quarter_of(moment: datetime) -> str:
    return f"{moment.year}Q{(moment.month - 1) // 3 + 1}"


def requested_periods(
    quarters: Iterable[str], sample_years: Iterable[int], interval_start: datetime | None
) -> list[Period]:
    """The Params' quarters and sample years; without either, the quarter of the run's data interval."""
    wanted = [("quarterly", q.upper()) for q in quarters] + [("sample", str(y)) for y in sample_years]
    if not wanted:
        if interval_start is None:
            raise MissingPeriodError("a manual run without a data interval must name quarters or sample_years")
        wanted = [("quarterly", quarter_of(interval_start))]
    return sorted(set(wanted))


def select(files: list[SourceFile], wanted: list[Period], source_name: str) -> list[SourceFile]:
    """The files for the wanted periods; every wanted period must be offered."""
    malformed = [p for d, p in wanted if not re.fullmatch(_QUARTER if d == "quarterly" else _YEAR, p)]
    if malformed:
        raise MissingPeriodError(
            f"{', '.join(malformed)}: not a quarter like 2017Q1 or a sample year like 2017. Fix the run's quarters "
            "or sample_years."
        )
    too_early = [p for _, p in wanted if p[:4] < FIRST_QUARTER[:4]]
    if too_early:
        raise MissingPeriodError(
            f"{', '.join(too_early)}: before {FIRST_QUARTER}, the first quarter of the Freddie Mac dataset, so no "
            "source offers it. Fix the run's quarters or sample_years."
        )
    by_period = {(f.dataset, f.period): f for f in files}
    missing = [p for p in wanted if p not in by_period]
    if missing:
        offered = sorted(p for _, p in by_period)
        names = ", ".join(f"{'sample ' if d == 'sample' else ''}{p}" for d, p in missing)
        raise MissingPeriodError(
            f"{source_name} does not offer {names}. It offers {len(offered)} period(s)"
            f"{': ' + ', '.join(offered[:12]) if offered else ''}{' ...' if len(offered) > 12 else ''}. "
            "Freddie Mac publishes a quarter months after it ends: clear this run once the release is out."
        )
    return [by_period[p] for p in wanted]


def plan(
    source: Source, wanted: list[Period], s3_client: Any, config: LoanlakeConfig, *, refresh: bool = False
) -> tuple[list[SourceFile], list[LandedFile]]:
    """Split the wanted files into those to fetch and those already landed (by the manifest)."""
    files = select(source.list_files(), wanted, describe_source(config))
    to_fetch, landed = [], []
    for file in files:
        entry = None if refresh else manifest.landed_entry(s3_client, config.data_bucket, config.manifest_prefix, file)
        if entry is None:
            to_fetch.append(file)
        else:
            landed.append(entry)
            log.info(
                "%s is already landed (manifest %s): skipped",
                file.name,
                manifest.entry_key(config.manifest_prefix, file.name),
            )
    return to_fetch, landed


def fetch(file: SourceFile, source: Source, s3_client: Any, config: LoanlakeConfig) -> LandedFile:
    """Stream ``file`` into ``raw/`` with retries on transient failures, then write its manifest entry."""
    retrying = Retrying(
        retry=retry_if_exception_type(TransientSourceError),
        stop=stop_after_attempt(config.source.attempts),
        wait=wait_exponential(multiplier=config.source.backoff_seconds, max=300),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
    for attempt in retrying:
        with attempt, source.open(file) as chunks:
            landed = land_zip(
                chunks,
                file,
                s3_client,
                config.data_bucket,
                config.raw_prefix,
                part_size=config.upload_part_mb * 1024 * 1024,
            )
    key = manifest.write_entry(s3_client, config.data_bucket, config.manifest_prefix, landed)
    log.info("manifest entry s3://%s/%s written", config.data_bucket, key)
    return landed


def build_source(config: LoanlakeConfig, s3_client: Any, credentials: Callable[[str], tuple[str, str]]) -> Source:
    """The configured source. ``credentials(conn_id)`` gives (login, password) for the portal."""
    kind = config.source.kind
    timeouts = {
        "connect_timeout": config.source.connect_timeout_seconds,
        "read_timeout": config.source.read_timeout_seconds,
    }
    if kind == "landing":
        return LandingSource(s3_client, config.data_bucket, config.source.landing_prefix)
    if kind == "urls":
        from loanlake.freddie_mac.download import UrlSource

        return UrlSource(config.source.urls, **timeouts)
    from loanlake.freddie_mac.portal import PortalSource

    username, password = credentials(config.source.portal_conn_id)
    return PortalSource(config.source.portal_login_url, username, password, **timeouts)


def describe_source(config: LoanlakeConfig) -> str:
    source = config.source
    if source.kind == "landing":
        return f"the landing prefix s3://{config.data_bucket}/{source.landing_prefix}"
    if source.kind == "urls":
        return f"the configured URL list ({len(source.urls)} URL(s))"
    return f"the portal {source.portal_login_url}"


def run_summary(fetched: list[LandedFile], landed: list[LandedFile], bucket: str) -> dict[str, Any]:
    """What a run produced: per file, where its members went; totals for the log and the demo."""

    def describe(entry: LandedFile, status: str) -> dict[str, Any]:
        return {
            "file": entry.source.name,
            "status": status,
            "period": entry.source.period,
            "dataset": entry.source.dataset,
            "zip_bytes": entry.zip_bytes,
            "zip_sha256": entry.zip_sha256,
            "seconds": entry.seconds,
            "members": [
                {
                    "uri": f"s3://{bucket}/{m.key}",
                    "bytes": m.bytes,
                    "lines": m.lines,
                    "sha256": m.sha256,
                    "layout": m.layout,
                }
                for m in entry.members
            ],
        }

    files = [describe(e, "fetched") for e in fetched] + [describe(e, "already landed") for e in landed]
    return {
        "files": files,
        "fetched_files": len(fetched),
        "skipped_files": len(landed),
        "fetched_zip_bytes": sum(e.zip_bytes for e in fetched),
        "fetched_raw_bytes": sum(e.raw_bytes for e in fetched),
        "fetched_lines": sum(e.lines for e in fetched),
        "seconds": round(sum(e.seconds for e in fetched), 3),
        "periods": sorted({e.source.period for e in fetched}),
    }
