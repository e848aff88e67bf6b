"""The deployment gate and the registry record it reads and writes."""

from __future__ import annotations

import pytest

from loanlake.ml.gate import MetricMissingError, decide, validation_auc
from loanlake.ml.registry import ModelRecord, Registry


def test_the_first_model_deploys_when_above_the_floor():
    assert decide(0.71, None, floor=0.65, tolerance=0.005).deploy
    below = decide(0.60, None, floor=0.65, tolerance=0.005)
    assert not below.deploy and "below the floor 0.6500" in below.reason


def test_a_new_model_replaces_the_live_one_only_when_at_least_as_good():
    assert decide(0.780, 0.782, floor=0.65, tolerance=0.005).deploy, "within the tolerance"
    worse = decide(0.770, 0.782, floor=0.65, tolerance=0.005)
    assert not worse.deploy
    assert worse.reason == "new AUC 0.7700 < live 0.7820 - tolerance 0.0050: the live model stays"
    assert not decide(0.64, 0.60, floor=0.65, tolerance=0.005).deploy, "better than live but under the floor"


def test_validation_auc_comes_from_the_final_metrics():
    metrics = [{"MetricName": "train:auc", "Value": 0.9}, {"MetricName": "validation:auc", "Value": 0.77}]
    assert validation_auc(metrics, "job-1") == 0.77
    with pytest.raises(MetricMissingError, match=r"job-1 reported no validation:auc .*train:auc"):
        validation_auc(metrics[:1], "job-1")


def _model(name: str, auc: float, at: str) -> ModelRecord:
    return ModelRecord(name, name, name, auc, f"s3://b/{name}/model.tar.gz", f"s3://b/t/{name}", at, f"run-{name}")


def test_the_registry_keeps_the_live_model_and_every_training_time():
    registry = Registry()
    first = _model("m1", 0.77, "2026-01-01T00:00:00+00:00")
    registry.record(first, decide(0.77, None, 0.65, 0.005).to_dict(), deployed=True)
    second = _model("m2", 0.70, "2026-02-01T00:00:00+00:00")
    registry.record(second, decide(0.70, 0.77, 0.65, 0.005).to_dict(), deployed=False)

    again = Registry.from_json(registry.to_json())

    assert again.live == first, "a model the gate held back never becomes live"
    assert again.last_training_at == "2026-02-01T00:00:00+00:00", "the cooldown counts from every training"
    assert [(h["model"], h["deployed"]) for h in again.history] == [("m2", False), ("m1", True)]
