"""The S3 landing source: zips that an operator drops by hand into a prefix of the data bucket.

Release 47's portal is a single-page app behind a browser sign-in that no script can drive; this is
how its files enter the lake.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from loanlake.freddie_mac.errors import SourceError, TransientSourceError
from loanlake.freddie_mac.sources import SourceFile, by_period, source_file

log = logging.getLogger("loanlake.freddie_mac")
CHUNK_BYTES = 1024 * 1024


class LandingSource:
    """Zips under ``s3://<bucket>/<prefix>``; other objects are listed in the log and left alone."""

    def __init__(self, s3_client: Any, bucket: str, prefix: str) -> None:
        self._s3 = s3_client
        self._bucket = bucket
        self._prefix = prefix.lstrip("/")

    def list_files(self) -> list[SourceFile]:
        files, ignored = [], []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=self._prefix):
            for obj in page.get("Contents", []):
                name = obj["Key"].rsplit("/", 1)[-1]
                file = source_file(name, f"s3://{self._bucket}/{obj['Key']}", obj["Size"])
                if file is None:
                    ignored.append(obj["Key"])
                else:
                    files.append(file)
        if ignored:
            log.warning("landing: ignored %d object(s) that are not loan-level zips: %s", len(ignored), ignored[:10])
        log.info("landing: %d zip(s) under s3://%s/%s", len(files), self._bucket, self._prefix)
        return by_period(files)

    @contextmanager
    def open(self, file: SourceFile) -> Iterator[Iterator[bytes]]:
        key = file.location.removeprefix(f"s3://{self._bucket}/")
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"]
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in ("NoSuchKey", "404", "AccessDenied", "403"):
                raise SourceError(f"{file.location}: {code}") from exc
            raise TransientSourceError(f"{file.location}: {code}") from exc
        except BotoCoreError as exc:
            raise TransientSourceError(f"{file.location}: {exc}") from exc
        try:
            yield body.iter_chunks(CHUNK_BYTES)
        finally:
            body.close()
