"""What the sandbox portal publishes: a few quarters and sample years in both layouts and naming schemes."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from sandbox.generator import GeneratorSpec, write_quarter, write_sample


@dataclass(frozen=True)
class Release:
    """One zip on the portal."""

    dataset: str  # quarterly or sample
    period: str  # 2016Q3 or 2016
    layout: str  # legacy or r47
    old_naming: bool = False


RELEASES = (
    Release("quarterly", "2016Q3", "legacy", old_naming=True),
    Release("quarterly", "2016Q4", "legacy"),
    Release("quarterly", "2017Q1", "r47"),
    Release("quarterly", "2017Q2", "r47"),
    Release("sample", "2016", "legacy"),
    Release("sample", "2017", "r47"),
)
LOANS = 300
DEFECT_RATE = 0.005
SEED = 2026


def publish(folder: Path, releases: tuple[Release, ...] = RELEASES, loans: int = LOANS) -> Path:
    """Generate the portal's zips into ``folder`` unless the same catalog is already there."""
    stamp = folder / "catalog.json"
    wanted = json.dumps({"releases": [asdict(r) for r in releases], "loans": loans, "seed": SEED}, sort_keys=True)
    if stamp.exists() and stamp.read_text() == wanted:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.zip"):
        old.unlink()
    for release in releases:
        spec = GeneratorSpec(seed=SEED, loans=loans, layout=release.layout, defect_rate=DEFECT_RATE)
        if release.dataset == "sample":
            write_sample(folder, int(release.period), spec)
        else:
            write_quarter(folder, release.period, spec, old_naming=release.old_naming)
    stamp.write_text(wanted)
    return folder
