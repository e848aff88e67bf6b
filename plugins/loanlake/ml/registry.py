"""The model registry: one JSON record in S3 per endpoint, naming the live model and the last training.

``s3://<data_bucket>/<ml.registry_prefix>/<endpoint>.json`` holds the live model (job, model, endpoint config,
validation AUC, where its training set and baseline are), when the last training ended (deployed or not: the
drift cooldown counts from it) and the recent decisions. It is written only after a deployment is verified,
or after a training the gate held back, so it never names a model the endpoint does not serve.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

HISTORY = 20  # decisions kept in the record


@dataclass(frozen=True)
class ModelRecord:
    """A trained model and where everything about it is."""

    job_name: str
    model_name: str
    endpoint_config: str
    validation_auc: float
    model_data: str  # s3:// URI of model.tar.gz
    training_root: str  # s3:// folder of the training set; the baseline is under baseline/
    trained_at: str  # ISO 8601, UTC
    run_id: str


@dataclass
class Registry:
    live: ModelRecord | None = None
    last_training_at: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, body: bytes) -> Registry:
        data = json.loads(body)
        live = ModelRecord(**data["live"]) if data.get("live") else None
        return cls(live, data.get("last_training_at"), data.get("history", []))

    def record(self, model: ModelRecord, decision: dict[str, Any], deployed: bool) -> None:
        """A training ended: note its decision (once, however often a retry records it); make it live if deployed."""
        if deployed:
            self.live = model
        self.last_training_at = model.trained_at
        entry = {"model": model.model_name, "deployed": deployed, **decision}
        if not self.history or self.history[0] != entry:
            self.history = [entry, *self.history][:HISTORY]


def registry_key(registry_prefix: str, endpoint: str) -> str:
    return f"{registry_prefix}/{endpoint}.json"


def read(s3: Any, bucket: str, key: str) -> Registry:
    """The record, or an empty one before the first training."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return Registry()
    return Registry.from_json(body)


def write(s3: Any, bucket: str, key: str, registry: Registry) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=registry.to_json(), ContentType="application/json")
