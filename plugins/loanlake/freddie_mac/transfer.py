"""Stream a Freddie Mac zip from its source into S3 ``raw/``, one pass, flat memory, no local disk.

The source's chunks go through a check of the zip's magic bytes and a SHA-256, into ``stream_unzip``
(which verifies every member's CRC-32 and sizes), and each member streams into S3 by multipart upload
under ``raw/<layout>/<kind>/period=<period>/``. Memory is bounded by the upload part size times the
upload concurrency, whatever the file's size.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from boto3.s3.transfer import TransferConfig
from stream_unzip import TruncatedDataError, UnzipError, stream_unzip

from loanlake.freddie_mac.download import describe_body
from loanlake.freddie_mac.errors import CorruptZipError, NotAZipError, TransientSourceError
from loanlake.freddie_mac.layouts import ZIP_MAGIC, LayoutError, detect_layout, member_kind, raw_key
from loanlake.freddie_mac.sources import SourceFile

log = logging.getLogger("loanlake.freddie_mac")

LAYOUT_SNIFF_BYTES = 256 * 1024
EMPTY_ZIP_MAGIC = b"PK\x05\x06"  # a zip with no member starts with its end-of-central-directory record
MAX_CONCURRENCY = 4


@dataclass(frozen=True)
class LandedMember:
    """One extracted file in S3."""

    member: str
    key: str
    layout: str
    kind: str
    bytes: int
    sha256: str
    lines: int


@dataclass(frozen=True)
class LandedFile:
    """A source zip and what it became in S3: the manifest entry for that zip."""

    source: SourceFile
    zip_bytes: int
    zip_sha256: str
    members: list[LandedMember]
    seconds: float
    landed_at: float = field(default_factory=time.time)

    @property
    def raw_bytes(self) -> int:
        return sum(m.bytes for m in self.members)

    @property
    def lines(self) -> int:
        return sum(m.lines for m in self.members)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["source"] = self.source.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LandedFile:
        members = [LandedMember(**m) for m in data["members"]]
        return cls(**{**data, "source": SourceFile.from_dict(data["source"]), "members": members})


class _ZipChunks:
    """The source's chunks, checked to start like a zip, counted and hashed as they pass."""

    def __init__(self, chunks: Iterator[bytes], location: str) -> None:
        self._chunks = iter(chunks)
        self._location = location
        self.size = 0
        self.sha256 = hashlib.sha256()

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            if not chunk:
                continue
            if self.size == 0:
                chunk = self._checked_head(chunk)
            self.size += len(chunk)
            self.sha256.update(chunk)
            yield chunk
        if self.size < len(ZIP_MAGIC):
            raise NotAZipError(f"{self._location} returned {self.size} bytes, too few for a zip")

    def _checked_head(self, chunk: bytes) -> bytes:
        """The first bytes, at least as many as the magic; raise quoting them when they are no zip's."""
        head = chunk
        while len(head) < len(ZIP_MAGIC) or (not head.startswith(ZIP_MAGIC) and len(head) < 300):
            more = next(self._chunks, None)
            if more is None:
                break
            head += more
        if head.startswith(EMPTY_ZIP_MAGIC):
            raise CorruptZipError(f"{self._location}: an empty zip, it holds no files")
        if not head.startswith(ZIP_MAGIC):
            raise NotAZipError(f"{self._location} returned {describe_body(head)} instead of a zip")
        return head


class _MemberReader(io.RawIOBase):
    """A member's decompressed chunks as a readable file that hashes and counts lines as S3 reads it."""

    def __init__(self, head: bytes, rest: Iterator[bytes]) -> None:
        self._pending = head
        self._rest = rest
        self.size = 0
        self.lines = 0
        self.sha256 = hashlib.sha256()
        self._last = b"\n"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._rest)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        data, self._pending = self._pending[:n], self._pending[n:]
        buffer[:n] = data
        self.size += n
        self.lines += data.count(b"\n")
        self.sha256.update(data)
        self._last = data[-1:]
        return n

    @property
    def line_count(self) -> int:
        """Lines, counting a last line without a newline."""
        return self.lines + (0 if self._last == b"\n" or self.size == 0 else 1)


def land_zip(
    chunks: Iterator[bytes],
    file: SourceFile,
    s3_client: Any,
    bucket: str,
    raw_prefix: str,
    *,
    part_size: int = 16 * 1024 * 1024,
) -> LandedFile:
    """Stream one zip's members into S3 and return its manifest entry (not yet written)."""
    started = time.monotonic()
    source = _ZipChunks(chunks, file.location)
    transfer = TransferConfig(
        multipart_threshold=part_size, multipart_chunksize=part_size, max_concurrency=MAX_CONCURRENCY
    )
    members: list[LandedMember] = []
    source_chunks = iter(source)
    try:
        for raw_name, _size, member_chunks in stream_unzip(source_chunks):
            name = raw_name.decode("utf-8", errors="replace")
            if name.endswith("/"):
                for _ in member_chunks:
                    pass
                continue
            members.append(_land_member(name, member_chunks, file, s3_client, bucket, raw_prefix, transfer))
        for _ in source_chunks:  # whatever follows the last member: the central directory
            pass
    except TruncatedDataError as exc:
        raise TransientSourceError(f"{file.location}: the zip ended early ({exc.__class__.__name__})") from exc
    except UnzipError as exc:
        raise CorruptZipError(f"{file.location}: {file.name} is not a valid zip ({exc.__class__.__name__})") from exc
    if not members:
        raise CorruptZipError(f"{file.location}: {file.name} holds no files")
    if file.size is not None and source.size != file.size:
        raise TransientSourceError(f"{file.location}: got {source.size} bytes, the source said {file.size}")
    landed = LandedFile(file, source.size, source.sha256.hexdigest(), members, round(time.monotonic() - started, 3))
    log.info(
        "landed %s: %d bytes zipped, %d members, %d bytes raw, %d lines in %.1f s",
        file.name,
        landed.zip_bytes,
        len(members),
        landed.raw_bytes,
        landed.lines,
        landed.seconds,
    )
    return landed


def _land_member(
    name: str,
    chunks: Iterator[bytes],
    file: SourceFile,
    s3_client: Any,
    bucket: str,
    raw_prefix: str,
    transfer: TransferConfig,
) -> LandedMember:
    try:
        kind = member_kind(name)
    except LayoutError as exc:
        raise LayoutError(f"{file.location}: {exc}") from None
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= LAYOUT_SNIFF_BYTES:
            break
    layout = detect_layout(kind, head if b"\n" in head else head + b"\n", name=f"{file.name}:{name}")
    key = raw_key(raw_prefix, layout, kind, file.period, name)
    reader = _MemberReader(head, iter(chunks))
    s3_client.upload_fileobj(
        io.BufferedReader(reader, buffer_size=1024 * 1024),
        bucket,
        key,
        ExtraArgs={"ContentType": "text/plain", "Metadata": {"source-zip": file.name}},
        Config=transfer,
    )
    log.info("  %s -> s3://%s/%s (%s %s, %d bytes)", name, bucket, key, layout, kind, reader.size)
    return LandedMember(name, key, layout, kind, reader.size, reader.sha256.hexdigest(), reader.line_count)
