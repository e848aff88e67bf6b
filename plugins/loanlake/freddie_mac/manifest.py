"""The ingest manifest in S3: one entry per source zip, written last, and one summary per run.

An entry exists only once every member of its zip is in ``raw/``, so a half-finished run never looks
complete. A zip counts as landed when its entry exists and every member it lists is in S3 at the
recorded size.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import ClientError

from loanlake.freddie_mac.sources import SourceFile
from loanlake.freddie_mac.transfer import LandedFile
from loanlake.s3keys import run_part

log = logging.getLogger("loanlake.freddie_mac")


def entry_key(manifest_prefix: str, file_name: str) -> str:
    return f"{manifest_prefix}/files/{file_name}.json"


def run_key(manifest_prefix: str, run_id: str) -> str:
    return f"{manifest_prefix}/runs/{run_part(run_id)}.json"


def write_entry(s3_client: Any, bucket: str, manifest_prefix: str, landed: LandedFile) -> str:
    key = entry_key(manifest_prefix, landed.source.name)
    _put_json(s3_client, bucket, key, landed.to_dict())
    return key


def read_entry(s3_client: Any, bucket: str, manifest_prefix: str, file_name: str) -> LandedFile | None:
    try:
        body = s3_client.get_object(Bucket=bucket, Key=entry_key(manifest_prefix, file_name))["Body"].read()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise
    return LandedFile.from_dict(json.loads(body))


def landed_entry(s3_client: Any, bucket: str, manifest_prefix: str, file: SourceFile) -> LandedFile | None:
    """The manifest entry of ``file`` if it and every member it lists are in S3; else None (fetch it)."""
    entry = read_entry(s3_client, bucket, manifest_prefix, file.name)
    if entry is None:
        return None
    if file.size is not None and entry.zip_bytes != file.size:
        log.info(
            "%s changed at the source (%d bytes, manifest says %d): fetching again",
            file.name,
            file.size,
            entry.zip_bytes,
        )
        return None
    for member in entry.members:
        try:
            size = s3_client.head_object(Bucket=bucket, Key=member.key)["ContentLength"]
        except ClientError:
            size = None
        if size != member.bytes:
            log.info("%s: s3://%s/%s is missing or has another size: fetching again", file.name, bucket, member.key)
            return None
    return entry


def write_run(s3_client: Any, bucket: str, manifest_prefix: str, run_id: str, summary: dict[str, Any]) -> str:
    key = run_key(manifest_prefix, run_id)
    _put_json(s3_client, bucket, key, summary)
    return key


def _put_json(s3_client: Any, bucket: str, key: str, data: dict[str, Any]) -> None:
    body = json.dumps(data, indent=2, sort_keys=True).encode()
    s3_client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
