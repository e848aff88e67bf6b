"""The Redshift SQL of include/sql/redshift/, rendered for the Data API.

The files use ``${NAME}`` variables, as the HQL does: ``SCHEMA``, and for a load ``PERIOD``, ``SOURCE`` (the
period's Parquet prefix) and ``IAM_ROLE``. Every value is validated by the config or here before it is
substituted; an undefined variable raises. A file becomes a list of statements, which the Data API runs as
one batch, in one transaction.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template
from typing import Any

from loanlake.config import LoanlakeConfig
from loanlake.processing.periods import PERIOD_PATTERN

SQL_DIR = Path(__file__).resolve().parents[3] / "include" / "sql" / "redshift"
S3_PREFIX = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[A-Za-z0-9_=./-]+/$")


def statements(name: str, **values: str) -> list[str]:
    """The statements of ``include/sql/redshift/<name>`` with the variables substituted."""
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    text = Template((SQL_DIR / name).read_text()).substitute(values)
    return DbApiHook.split_sql_string(text, strip_semicolon=True)


def create_tables(config: LoanlakeConfig) -> list[str]:
    return statements("create_tables.sql", SCHEMA=config.warehouse.redshift.schema_name)


def performance_source(config: LoanlakeConfig, period: str) -> str:
    return f"{config.s3_root(config.processed_prefix)}/performance/source_period={period}/"


def load_performance(config: LoanlakeConfig, period: str) -> list[str]:
    """COPY the period's Parquet into staging, replace the period's rows, empty staging: one batch."""
    source = performance_source(config, period)
    if not re.fullmatch(PERIOD_PATTERN, period) or not S3_PREFIX.match(source):
        raise ValueError(f"cannot load period {period!r} from {source!r}")
    return statements(
        "load_performance.sql",
        SCHEMA=config.warehouse.redshift.schema_name,
        PERIOD=period,
        SOURCE=source,
        IAM_ROLE=config.warehouse.redshift.copy_iam_role,
    )


def count_performance(config: LoanlakeConfig, period: str) -> str:
    if not re.fullmatch(PERIOD_PATTERN, period):
        raise ValueError(f"not a period: {period!r}")
    (statement,) = statements("count_performance.sql", SCHEMA=config.warehouse.redshift.schema_name, PERIOD=period)
    return statement


def data_api_target(config: LoanlakeConfig) -> dict[str, Any]:
    """The Data API arguments that name the cluster or workgroup, database and credentials."""
    redshift = config.warehouse.redshift
    target = {
        "cluster_identifier": redshift.cluster_identifier,
        "workgroup_name": redshift.workgroup_name,
        "database": redshift.database,
        "db_user": redshift.db_user,
        "secret_arn": redshift.secret_arn,
    }
    return {key: value for key, value in target.items() if value}
