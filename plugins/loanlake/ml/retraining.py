"""Whether drift retrains the model: material drift does, unless the last retraining is younger than the cooldown."""

from __future__ import annotations

from datetime import datetime, timedelta

from loanlake.ml.drift import NO_VERDICT, DriftAssessment


def decide_retraining(
    assessment: DriftAssessment, last_retrained: datetime | None, now: datetime, cooldown: timedelta
) -> tuple[bool, str]:
    """(retrain, the reason in a sentence) for a day's assessment; ``last_retrained`` None: never retrained."""
    top = assessment.top
    if assessment.verdict == NO_VERDICT or top is None:
        return False, f"{assessment.summary}: not retraining"
    drift = f"{top.level} drift on {top.name} (PSI {top.psi:.2f})"
    if not assessment.material:
        if top.level == "none":
            return False, f"no significant drift (largest PSI {top.psi:.2f}, {top.name}): not retraining"
        return False, f"{drift}, below the retraining level ({assessment.material_level}): not retraining"
    if last_retrained is None:
        return True, f"{drift}, and no retraining on record: retraining"
    since = now - last_retrained
    if since < cooldown:
        return False, (
            f"{drift} but the last retraining was {_span(since)} ago, cooldown {_span(cooldown)}: holding back "
            f"until {last_retrained + cooldown:%Y-%m-%d %H:%M}"
        )
    return True, f"{drift}, last retraining {_span(since)} ago (cooldown {_span(cooldown)}): retraining"


def _span(span: timedelta) -> str:
    """A span in whole days, or hours under two days, rounded down (13.9 days is not yet 14)."""
    hours = span.total_seconds() // 3600
    count, unit = (int(hours), "hour") if abs(hours) < 48 else (int(hours // 24), "day")
    return f"{count} {unit}{'' if count == 1 else 's'}"
