"""Old models and endpoint configs of this package: kept the newest N and whatever an endpoint serves; the rest goes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from loanlake.ml.training import NAME_PREFIX


def _in_use(sagemaker: Any, endpoints: Iterable[str]) -> tuple[set[str], set[str]]:
    """The endpoint configs the endpoints serve (those that exist), and the models those configs name."""
    configs = set()
    for endpoint in endpoints:
        try:
            configs.add(sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"])
        except ClientError as error:
            if "Could not find endpoint" not in str(error):
                raise
    models = {
        variant["ModelName"]
        for name in configs
        for variant in sagemaker.describe_endpoint_config(EndpointConfigName=name)["ProductionVariants"]
    }
    return configs, models


def _newest_first(sagemaker: Any, lister: str, field: str, name: str) -> list[str]:
    pages = sagemaker.get_paginator(lister).paginate(NameContains=NAME_PREFIX)
    items = sorted((item for page in pages for item in page[field]), key=lambda i: i["CreationTime"], reverse=True)
    return [item[name] for item in items if item[name].startswith(NAME_PREFIX)]


def remove_surplus(sagemaker: Any, endpoints: Iterable[str], keep: int, dry_run: bool = False) -> list[str]:
    """Delete the package's endpoint configs and models beyond the newest ``keep`` that the endpoints do not use."""
    configs_in_use, models_in_use = _in_use(sagemaker, endpoints)
    done = []
    configs = _newest_first(sagemaker, "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName")
    for name in [n for n in configs[keep:] if n not in configs_in_use]:
        if not dry_run:
            sagemaker.delete_endpoint_config(EndpointConfigName=name)
        done.append(f"endpoint config {name}")
    models = _newest_first(sagemaker, "list_models", "Models", "ModelName")
    for name in [n for n in models[keep:] if n not in models_in_use]:
        if not dry_run:
            sagemaker.delete_model(ModelName=name)
        done.append(f"model {name}")
    return done
