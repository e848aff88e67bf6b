"""Where a step's logs are, and a failure message that names the step, its failure details and its log."""

from __future__ import annotations

from typing import Any


def step_log_uri(log_uri: str | None, cluster_id: str, step_id: str) -> str | None:
    """``<LogUri><cluster>/steps/<step>/stderr.gz``; EMR copies it there within about five minutes."""
    if not log_uri:
        return None
    return f"{log_uri.rstrip('/')}/{cluster_id}/steps/{step_id}/stderr.gz"


def failure_message(cluster_id: str, step: dict[str, Any], log_uri: str | None) -> str:
    """One line for the on-call engineer, from a ``describe_step`` answer's ``Step`` and the cluster's LogUri."""
    status = step["Status"]
    state = status["State"]
    details = status.get("FailureDetails") or {}
    message = f"EMR step {step['Name']!r} ({step['Id']}) on cluster {cluster_id} is {state}"
    if details:
        message += f": {details.get('Reason') or 'no reason given'}"
        if details.get("Message"):
            message += f" - {details['Message']}"
    elif state == "CANCELLED":
        message += " (an earlier step failed and the later ones were cancelled: see the first failed step)"
    elif reason := (status.get("StateChangeReason") or {}).get("Message"):
        message += f": {reason}"
    location = step_log_uri(log_uri, cluster_id, step["Id"])
    message += f"; step log: {location}" if location else "; the cluster has no LogUri, so no step log was kept"
    if details.get("LogFile") and details["LogFile"] != location:
        message += f" (EMR points at {details['LogFile']})"
    return message
