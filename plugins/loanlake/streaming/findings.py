"""What a stream-health check found: one line per check, and the fix remediation would apply."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

COMPONENTS = ("stream", "delivery_stream", "processor", "delivery", "buckets")  # what stream_health checks


@dataclass(frozen=True)
class Finding:
    """One check of one component. ``fix`` names the remediation action that makes it pass, if there is one."""

    component: str  # one of COMPONENTS
    check: str
    ok: bool
    detail: str
    fix: dict[str, Any] | None = field(default=None)

    @property
    def line(self) -> str:
        verdict = "PASS" if self.ok else "FAIL"
        hint = f" [fixable: {self.fix['action']}]" if self.fix and not self.ok else ""
        return f"{verdict} {self.component}/{self.check}: {self.detail}{hint}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(**data)


def passed(component: str, check: str, detail: str) -> Finding:
    return Finding(component, check, True, detail)


def failed(component: str, check: str, detail: str, fix: dict[str, Any] | None = None) -> Finding:
    return Finding(component, check, False, detail, fix)


def problems(findings: Iterable[Finding]) -> list[Finding]:
    return [finding for finding in findings if not finding.ok]


def table(findings: Sequence[Finding], fixed: Iterable[str] = ()) -> str:
    """A fixed-width table for the task log: component, check, result, detail."""
    fixed = set(fixed)
    rows = [("component", "check", "result", "detail")]
    for finding in findings:
        result = "PASS" if finding.ok else "FIXED" if key(finding) in fixed else "FAIL"
        rows.append((finding.component, finding.check, result, finding.detail))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in rows
    )


def key(finding: Finding) -> str:
    """``component/check``: how the report and remediation refer to a finding."""
    return f"{finding.component}/{finding.check}"
