"""Generated Freddie Mac files laid out as the ingest lands them, and the per-period HQL steps run over them."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from loanlake.emr.steps import HQL_SCRIPTS
from loanlake.freddie_mac.layouts import member_kind, raw_key
from sandbox.generator import GeneratedArchive
from sandbox.hive import HiveEngine

HQL = Path(__file__).resolve().parents[2] / "include" / "hql"


@dataclass
class Lake:
    engine: HiveEngine
    root: Path
    archives: dict[str, GeneratedArchive]
    variables: dict[str, dict[str, str]]
    log: list[str] = field(default_factory=list)
    before_p2: dict = field(default_factory=dict)  # 2017Q1 state after its first run
    after_p2: dict = field(default_factory=dict)  # 2017Q1 state after 2017Q2 ran
    after_rerun: dict = field(default_factory=dict)  # 2017Q1 state after 2017Q1 ran again

    def rows(self, query: str) -> list[tuple]:
        return self.engine.sql(query)


def extract(archive: GeneratedArchive, raw: Path) -> None:
    """Unzip like the ingest: raw/<layout>/<kind>/period=<P>/<member>."""
    with zipfile.ZipFile(archive.path) as source:
        for member in source.namelist():
            target = raw.parent / raw_key(raw.name, archive.layout, member_kind(member), archive.period, member)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read(member))


def run_period(lake: Lake, period: str) -> None:
    for script in HQL_SCRIPTS:
        lake.engine.run_script((HQL / script).read_text(), lake.variables[period], log=lake.log.append)


def data_files(folder: Path) -> dict[str, tuple[int, int]]:
    """Data files under a folder (no checksums, markers or hidden files): relative path -> (size, mtime_ns)."""
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.startswith((".", "_"))
    }
