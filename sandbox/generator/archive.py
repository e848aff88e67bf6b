"""Zips laid out like Freddie Mac's, streamed chunk by chunk, with a JSON sidecar listing every defect."""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from loanlake.freddie_mac.layouts import FIELDS, KINDS, Dataset, Kind, archive_name, member_names
from sandbox.generator.defects import inject, plan_defects
from sandbox.generator.loans import (
    ORIGINATION_DEFECT_STREAM,
    PERFORMANCE_DEFECT_STREAM,
    loan_books,
    rng_for,
)
from sandbox.generator.records import origination_lines, performance_lines
from sandbox.generator.spec import (
    DEFECT_KINDS,
    GeneratedArchive,
    GeneratorSpec,
    MemberInfo,
    month_index,
    parse_period,
    parse_quarter,
)

COMPRESS_LEVEL = 1  # deflate level 1 is ~6x faster than the default 6 and only ~20% larger on these files
_EMPTY_LINE = DEFECT_KINDS.index("empty_line")
_BYTES_PER_PERFORMANCE_LINE = 260  # a generous upper bound, to decide on ZIP64 before writing


def write_quarter(out_dir: Path, period: str, spec: GeneratorSpec, *, old_naming: bool = False) -> GeneratedArchive:
    """Write ``historical_data_<period>.zip`` (or the old ``historical_data1_Qn<year>.zip``) into ``out_dir``."""
    parse_quarter(period)
    return _write_archive(Path(out_dir), "quarterly", period, spec, old_naming)


def write_sample(out_dir: Path, year: int, spec: GeneratorSpec) -> GeneratedArchive:
    """Write ``sample_<year>.zip``: ``spec.loans`` loans spread over the year's four quarters."""
    parse_period("sample", str(year))
    return _write_archive(Path(out_dir), "sample", str(year), spec, False)


class _MemberWriter:
    """Streams one text member into an open zip, counting lines and recording defect line numbers."""

    def __init__(self, archive: zipfile.ZipFile, name: str, kind: Kind, *, zip64: bool) -> None:
        self.name, self.kind = name, kind
        # Opened by name, the entry takes the archive's compression and level and ZipInfo's fixed
        # default date (1980-01-01), so reruns give identical bytes.
        self._stream = archive.open(name, "w", force_zip64=zip64)
        self._sha256 = hashlib.sha256()
        self.records = self.lines = self.bytes = 0
        self.defects: dict[str, list[int]] = {defect: [] for defect in DEFECT_KINDS}

    def write(self, lines: list[str], picks: np.ndarray) -> None:
        """Write records whose defects (DEFECT_KINDS indexes, -1 = none) are already injected."""
        empty_before = np.cumsum(picks == _EMPTY_LINE)
        line_numbers = self.lines + np.arange(1, len(lines) + 1) + empty_before
        for record in np.flatnonzero(picks >= 0).tolist():
            defect = DEFECT_KINDS[picks[record]]
            self.defects[defect].append(int(line_numbers[record]) - (defect == "empty_line"))
        data = ("\n".join(lines) + "\n").encode() if lines else b""
        self._stream.write(data)
        self._sha256.update(data)
        self.records += len(lines)
        self.lines += len(lines) + int(empty_before[-1] if len(lines) else 0)
        self.bytes += len(data)

    def close(self) -> MemberInfo:
        self._stream.close()
        return MemberInfo(self.name, self.kind, self.records, self.lines, self.bytes, self._sha256.hexdigest())


def _write_archive(
    out_dir: Path, dataset: Dataset, period: str, spec: GeneratorSpec, old_naming: bool
) -> GeneratedArchive:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / archive_name(dataset, period, old_naming=old_naming)
    names = member_names(dataset, period, spec.layout, old_naming=old_naming)
    partial = path.with_name(path.name + ".part")
    members: dict[Kind, MemberInfo] = {}
    defects: dict[str, dict[str, list[int]]] = {}
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as archive:
        for kind in KINDS:
            writer = _MemberWriter(archive, names[kind], kind, zip64=_may_exceed_zip32(dataset, period, spec, kind))
            _write_member(writer, dataset, period, spec)
            members[kind] = writer.close()
            defects[names[kind]] = writer.defects
    os.replace(partial, path)
    sidecar = path.with_name(path.name + ".defects.json")
    sidecar.write_text(_compact_lists(json.dumps(_sidecar(path, dataset, period, spec, members, defects), indent=2)))
    return GeneratedArchive(path, dataset, period, spec.layout, members, defects, sidecar)


def _write_member(writer: _MemberWriter, dataset: Dataset, period: str, spec: GeneratorSpec) -> None:
    """Render, damage and write the member's lines one chunk of loans at a time."""
    origination = writer.kind == "origination"
    stream = ORIGINATION_DEFECT_STREAM if origination else PERFORMANCE_DEFECT_STREAM
    names = FIELDS[(spec.layout, writer.kind)]
    for chunk, book in enumerate(loan_books(dataset, period, spec)):
        lines = (
            origination_lines(book, spec.layout) if origination else performance_lines(book, spec.layout, spec.as_of)
        )
        rng = rng_for(spec, dataset, period, chunk, stream)
        picks = plan_defects(rng, len(lines), spec.defects, spec.defect_rate, file_start=writer.records == 0)
        for record in np.flatnonzero(picks >= 0).tolist():
            lines[record] = inject(DEFECT_KINDS[picks[record]], lines[record], names, writer.kind, rng)
        writer.write(lines, picks)


def _compact_lists(document: str) -> str:
    """Indented JSON with each list of line numbers on one line."""
    return re.sub(r"\[\s+([\d,\s]+?)\s+\]", lambda match: "[" + " ".join(match[1].split()) + "]", document) + "\n"


def _may_exceed_zip32(dataset: Dataset, period: str, spec: GeneratorSpec, kind: Kind) -> bool:
    """Whether a member could pass the 2 GiB a zip entry without ZIP64 extensions can hold."""
    if kind == "origination":
        return spec.loans * 400 > zipfile.ZIP64_LIMIT
    year, _ = parse_period(dataset, period)
    months = max(month_index(spec.as_of) - year * 12 + 1, 0)
    return spec.loans * months * _BYTES_PER_PERFORMANCE_LINE > zipfile.ZIP64_LIMIT


def _sidecar(
    path: Path,
    dataset: Dataset,
    period: str,
    spec: GeneratorSpec,
    members: dict[Kind, MemberInfo],
    defects: dict[str, dict[str, list[int]]],
) -> dict:
    """The ``<zip>.defects.json`` document: per member, its counts and each defect kind's line numbers."""
    return {
        "archive": path.name,
        "dataset": dataset,
        "period": period,
        "layout": spec.layout,
        "spec": {**asdict(spec), "defects": list(spec.defects)},
        "members": {
            info.name: {
                "kind": info.kind,
                "records": info.records,
                "lines": info.lines,
                "bytes": info.bytes,
                "sha256": info.sha256,
                "defects": {kind: {"count": len(lines), "lines": lines} for kind, lines in defects[info.name].items()},
            }
            for info in members.values()
        },
    }
