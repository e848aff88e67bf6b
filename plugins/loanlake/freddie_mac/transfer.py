"""Stream a Freddie Mac zip from its source into S3 ``raw/``, one pass, flat memory, no local disk.

The source's chunks go through a check of the zip's magic bytes and a SHA-256, into ``stream_unzip``
(which verifies every member's CRC-32 and sizes), and each member streams into S3 by multipart upload
under ``raw/<layout>/<kind>/period=<period>/``.

One thread reads the download, decompresses, hashes and counts, and copies the bytes into part buffers;
``parts_in_flight`` threads upload the full parts meanwhile, each body a buffer handed to botocore as is
(no further copy). The buffers come from a pool of ``parts_in_flight + 1``, so memory is bounded by
``(parts_in_flight + 1) x part_size`` whatever the file's size, and the reader waits for a free buffer
when S3 is slower than the source.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from stream_unzip import TruncatedDataError, UnzipError, stream_unzip

from loanlake.freddie_mac.download import describe_body
from loanlake.freddie_mac.errors import CorruptZipError, NotAZipError, TransientSourceError
from loanlake.freddie_mac.layouts import ZIP_MAGIC, LayoutError, detect_layout, member_kind, raw_key
from loanlake.freddie_mac.sources import SourceFile

log = logging.getLogger("loanlake.freddie_mac")

LAYOUT_SNIFF_BYTES = 256 * 1024
EMPTY_ZIP_MAGIC = b"PK\x05\x06"  # a zip with no member starts with its end-of-central-directory record
DEFAULT_PART_SIZE = 8 * 1024 * 1024  # boto3's own multipart chunk size; 8 in flight: about its concurrency (10)
DEFAULT_PARTS_IN_FLIGHT = 8
UNZIP_CHUNK_SIZE = 256 * 1024  # decompressed bytes per step: fewer Python steps, still cache-sized
CHECKSUM_ALGORITHM = "CRC32"  # what boto3's managed uploads ask S3 to verify per part, kept the same here


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


class _PartBuffers:
    """At most ``count`` part buffers of ``part_size`` bytes, reused; ``take`` waits while all are in use."""

    def __init__(self, part_size: int, count: int) -> None:
        self.part_size = part_size
        self._free: list[bytearray] = []
        self._room = count  # buffers that may still be allocated
        self._changed = threading.Condition()

    def take(self) -> bytearray:
        with self._changed:
            while not self._free and self._room == 0:
                self._changed.wait()
            if self._free:
                return self._free.pop()
            self._room -= 1
        return bytearray(self.part_size)

    def give_back(self, buffer: bytearray) -> None:
        with self._changed:
            if len(buffer) == self.part_size:
                self._free.append(buffer)
            else:  # a last part, trimmed: let it go and allow a new full one
                self._room += 1
            self._changed.notify()


class _MemberUpload:
    """One member written into S3: hashed and counted as it is written, sent in parts of the pool's size.

    A member that fits in one part is sent with one PutObject; a larger one by multipart upload, which
    ``abort`` cancels. Parts go to ``executor``; their buffers return to the pool once sent.
    """

    def __init__(
        self,
        s3_client: Any,
        bucket: str,
        key: str,
        extra_args: dict[str, Any],
        buffers: _PartBuffers,
        executor: ThreadPoolExecutor,
    ) -> None:
        self._s3 = s3_client
        self._bucket, self._key = bucket, key
        self._extra = extra_args
        self._checksum = extra_args.get("ChecksumAlgorithm")
        self._buffers = buffers
        self._executor = executor
        self._buffer: bytearray | None = None
        self._filled = 0
        self._upload_id: str | None = None
        self._parts: list[Future[dict[str, Any]]] = []
        self.size = 0
        self.lines = 0
        self.sha256 = hashlib.sha256()
        self._last = b"\n"

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.size += len(data)
        self.lines += data.count(b"\n")
        self.sha256.update(data)
        self._last = data[-1:]
        view = memoryview(data)
        part_size = self._buffers.part_size
        while view:
            if self._buffer is None:
                self._buffer = self._buffers.take()
            n = min(len(view), part_size - self._filled)
            self._buffer[self._filled : self._filled + n] = view[:n]
            self._filled += n
            view = view[n:]
            if self._filled == part_size:
                self._send_part()

    @property
    def line_count(self) -> int:
        """Lines, counting a last line without a newline."""
        return self.lines + (0 if self._last == b"\n" or self.size == 0 else 1)

    def close(self) -> None:
        """The member is complete: send what is left and finish the object."""
        if self._upload_id is None:  # it fits in one part
            pooled, self._buffer = self._buffer, None
            body = pooled if pooled is not None else bytearray()
            del body[self._filled :]  # trimmed in place, not copied
            self._filled = 0
            try:
                self._s3.put_object(Bucket=self._bucket, Key=self._key, Body=body, **self._extra)
            finally:
                if pooled is not None:
                    self._buffers.give_back(pooled)
            return
        if self._filled:
            self._send_part()
        parts = [part.result() for part in self._parts]
        self._s3.complete_multipart_upload(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": parts}
        )

    def abort(self) -> None:
        """Give up: wait for the parts in flight, return the buffer and abort the multipart upload, if any."""
        for part in self._parts:
            part.cancel()
        for part in self._parts:
            if not part.cancelled():
                part.exception()  # waits; the error that matters is the one being raised already
        self._release_buffer()
        if self._upload_id is not None:
            try:
                self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
            except Exception as exc:  # best effort: a lifecycle rule on the bucket cleans up the rest
                log.warning("could not abort the multipart upload of s3://%s/%s: %s", self._bucket, self._key, exc)

    def _release_buffer(self) -> None:
        if self._buffer is not None:
            self._buffers.give_back(self._buffer)
        self._buffer, self._filled = None, 0

    def _send_part(self) -> None:
        for part in self._parts:
            if part.done() and part.exception() is not None:
                raise part.exception()  # fail fast rather than read on
        if self._upload_id is None:
            created = self._s3.create_multipart_upload(Bucket=self._bucket, Key=self._key, **self._extra)
            self._upload_id = created["UploadId"]
        body, self._buffer = self._buffer, None
        assert body is not None
        if self._filled < len(body):
            del body[self._filled :]  # the last part: trimmed in place, not copied
        self._filled = 0
        self._parts.append(self._executor.submit(self._upload_part, len(self._parts) + 1, body))

    def _upload_part(self, number: int, body: bytearray) -> dict[str, Any]:
        try:
            extra = {"ChecksumAlgorithm": self._checksum} if self._checksum else {}
            response = self._s3.upload_part(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=body, **extra
            )
        finally:
            self._buffers.give_back(body)
        part = {"ETag": response["ETag"], "PartNumber": number}
        if self._checksum and f"Checksum{self._checksum}" in response:
            part[f"Checksum{self._checksum}"] = response[f"Checksum{self._checksum}"]
        return part


def _checksum_args(s3_client: Any) -> dict[str, str]:
    """The checksum boto3's managed uploads would ask for with this client (none when it only checks on demand)."""
    config = getattr(getattr(s3_client, "meta", None), "config", None)
    when = getattr(config, "request_checksum_calculation", None)
    return {"ChecksumAlgorithm": CHECKSUM_ALGORITHM} if when == "when_supported" else {}


def land_zip(
    chunks: Iterator[bytes],
    file: SourceFile,
    s3_client: Any,
    bucket: str,
    raw_prefix: str,
    *,
    part_size: int = DEFAULT_PART_SIZE,
    parts_in_flight: int = DEFAULT_PARTS_IN_FLIGHT,
) -> LandedFile:
    """Stream one zip's members into S3 and return its manifest entry (not yet written)."""
    started = time.monotonic()
    source = _ZipChunks(chunks, file.location)
    buffers = _PartBuffers(part_size, parts_in_flight + 1)
    members: list[LandedMember] = []
    source_chunks = iter(source)
    with ThreadPoolExecutor(parts_in_flight, thread_name_prefix="loanlake-upload") as executor:
        try:
            for raw_name, _size, member_chunks in stream_unzip(source_chunks, chunk_size=UNZIP_CHUNK_SIZE):
                name = raw_name.decode("utf-8", errors="replace")
                if name.endswith("/"):
                    for _ in member_chunks:
                        pass
                    continue
                members.append(
                    _land_member(name, member_chunks, file, s3_client, bucket, raw_prefix, buffers, executor)
                )
            for _ in source_chunks:  # whatever follows the last member: the central directory
                pass
        except TruncatedDataError as exc:
            raise TransientSourceError(f"{file.location}: the zip ended early ({exc.__class__.__name__})") from exc
        except UnzipError as exc:
            raise CorruptZipError(
                f"{file.location}: {file.name} is not a valid zip ({exc.__class__.__name__})"
            ) from exc
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
    buffers: _PartBuffers,
    executor: ThreadPoolExecutor,
) -> LandedMember:
    try:
        kind = member_kind(name)
    except LayoutError as exc:
        raise LayoutError(f"{file.location}: {exc}") from None
    sniffed: list[bytes] = []
    sniffed_bytes = 0
    for chunk in chunks:
        sniffed.append(chunk)
        sniffed_bytes += len(chunk)
        if sniffed_bytes >= LAYOUT_SNIFF_BYTES:
            break
    head = b"".join(sniffed)
    layout = detect_layout(kind, head if b"\n" in head else head + b"\n", name=f"{file.name}:{name}")
    key = raw_key(raw_prefix, layout, kind, file.period, name)
    extra = {"ContentType": "text/plain", "Metadata": {"source-zip": file.name}, **_checksum_args(s3_client)}
    upload = _MemberUpload(s3_client, bucket, key, extra, buffers, executor)
    try:
        for chunk in sniffed:
            upload.write(chunk)
        del sniffed, head
        for chunk in chunks:
            upload.write(chunk)
        upload.close()
    except BaseException:
        upload.abort()
        raise
    log.info("  %s -> s3://%s/%s (%s %s, %d bytes)", name, bucket, key, layout, kind, upload.size)
    return LandedMember(name, key, layout, kind, upload.size, upload.sha256.hexdigest(), upload.line_count)
