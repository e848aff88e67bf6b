"""Helpers every task module shares: the config in force, a fail-fast error, AWS clients."""

from __future__ import annotations

from collections.abc import Mapping
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


def check_params(params: Mapping[str, Any], dag: Any) -> None:
    """Fail at once when the run's conf names a Param the DAG does not declare.

    Airflow keeps such keys without a word, so a typo (``dryrun`` for ``dry_run``, ``period`` for ``periods``)
    would leave the declared Param at its default and the run would do what the default says.
    """
    unknown = sorted(set(params) - set(dag.params))
    if unknown:
        raise fail(
            f"the run's conf names {', '.join(map(repr, unknown))}, not a Param of {dag.dag_id}; "
            f"its Params are {', '.join(map(repr, sorted(dag.params)))}: trigger again with those"
        )


def s3(settings: LoanlakeConfig) -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=settings.aws_conn_id, region_name=settings.region).get_conn()


def aws_client(settings: LoanlakeConfig, service: str) -> Any:
    """A boto3 client of ``service`` from the provider's base hook: the AWS connection and region of the config."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(aws_conn_id=settings.aws_conn_id, region_name=settings.region, client_type=service).get_conn()
