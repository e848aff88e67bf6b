"""Where Freddie Mac zips come from: the portal, plain HTTPS URLs, or an S3 landing prefix.

Every source lists ``SourceFile`` records and opens one as a stream of byte chunks, so the transfer
to S3 is the same whatever the source.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from loanlake.freddie_mac.layouts import Dataset, parse_archive_name


@dataclass(frozen=True)
class SourceFile:
    """One zip a source offers."""

    name: str  # the zip's file name, e.g. historical_data_2017Q1.zip
    location: str  # an http(s) URL or an s3:// URI
    dataset: Dataset
    period: str  # 2017Q1 for a quarter, 2017 for a sample year
    size: int | None = None  # bytes, when the source says

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceFile:
        return cls(**data)


class Source(Protocol):
    """What the ingest needs from a source."""

    def list_files(self) -> list[SourceFile]:
        """Every loan-level zip the source offers (other links are ignored)."""
        ...

    def open(self, file: SourceFile) -> AbstractContextManager[Iterator[bytes]]:
        """The file's bytes as chunks. Raises errors.SourceError or errors.TransientSourceError."""
        ...


def source_file(name: str, location: str, size: int | None = None) -> SourceFile | None:
    """The ``SourceFile`` for a loan-level zip name, or None for any other file."""
    archive = parse_archive_name(name)
    if archive is None:
        return None
    return SourceFile(name=name, location=location, dataset=archive.dataset, period=archive.period, size=size)


def by_period(files: Iterable[SourceFile]) -> list[SourceFile]:
    """Files in period order (a sample year before its quarters), then by name."""
    return sorted(files, key=lambda f: (f.period, f.dataset, f.name))
