"""Helpers every task module shares: the config in force, a fail-fast error, AWS clients."""

from __future__ import annotations

from typing import Any

from loanlake.config import LoanlakeConfig, load_config
from loanlake.freddie_mac.runtime import permanent_errors_fail_fast


def config() -> LoanlakeConfig:
    """The config in force; an invalid one fails the task without retries."""
    with permanent_errors_fail_fast():
        return load_config()


def fail(message: str) -> Exception:
    """An error that fails the task at once: retrying cannot help."""
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(message)


def s3(settings: LoanlakeConfig) -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=settings.aws_conn_id, region_name=settings.region).get_conn()


def aws_client(settings: LoanlakeConfig, service: str) -> Any:
    """A boto3 client of ``service`` from the provider's base hook: the AWS connection and region of the config."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(aws_conn_id=settings.aws_conn_id, region_name=settings.region, client_type=service).get_conn()
