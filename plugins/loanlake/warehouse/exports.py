"""The EMR steps that publish acquisitions to RDS MySQL: a Hive step writes the text files, Sqoop exports them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loanlake.config import LoanlakeConfig
from loanlake.emr.sqoop import SqoopExport
from loanlake.emr.steps import HiveStep, script_uri, step_name

MYSQL_SQL_DIR = Path(__file__).resolve().parents[3] / "include" / "sql" / "mysql"
EXPORT_SCRIPT = "export_acquisition.hql"
STAGING_TABLE = "acquisition_staging"
# The staging table's columns in the order export_acquisition.hql writes them (include/sql/mysql/).
COLUMNS = (
    "source_period",
    "loan_seq_no",
    "orig_year",
    "orig_quarter",
    "credit_score",
    "credit_score_code",
    "first_payment_date",
    "first_time_homebuyer_flag",
    "maturity_date",
    "msa",
    "mi_pct",
    "num_units",
    "occupancy_status",
    "orig_cltv",
    "orig_dti",
    "orig_upb",
    "orig_ltv",
    "orig_interest_rate",
    "channel",
    "ppm_flag",
    "amortization_type",
    "property_state",
    "property_type",
    "postal_code",
    "loan_purpose",
    "orig_loan_term",
    "num_borrowers",
    "seller_name",
    "servicer_name",
    "super_conforming_flag",
    "pre_harp_loan_seq_no",
    "program_indicator",
    "harp_indicator",
    "property_valuation_method",
    "interest_only_indicator",
    "mi_cancellation_indicator",
    "vantagescore_4",
    "vantagescore_4_code",
    "source_layout",
)


def export_dir(config: LoanlakeConfig, period: str) -> str:
    """Where export_acquisition.hql leaves a period's files: the partition folder, files only."""
    return f"{config.s3_root(config.warehouse.export_prefix)}/acquisition/period={period}"


def jdbc_url(host: str, port: int | None, database: str) -> str:
    if not host or not database:
        raise ValueError("the MySQL connection needs a host and a schema (the database to load)")
    return f"jdbc:mysql://{host}:{port or 3306}/{database}"


def export_steps(
    config: LoanlakeConfig,
    scripts_root: str,
    periods: Sequence[str],
    connect: str,
    username: str,
    password_file: str,
) -> list[dict[str, Any]]:
    """Per period: the Hive step that writes the text files, then the Sqoop step that loads them into staging."""
    variables = {"DB": config.emr.hive_database, "EXPORT_ROOT": config.s3_root(config.warehouse.export_prefix)}
    requests = []
    for period in periods:
        hive = HiveStep(
            step_name(period, EXPORT_SCRIPT),
            script_uri(scripts_root, EXPORT_SCRIPT),
            {**variables, "PERIOD": period},
        )
        sqoop = SqoopExport(
            name=f"{period} sqoop_export_acquisition",
            connect=connect,
            username=username,
            password_file=password_file,
            table=STAGING_TABLE,
            export_dir=export_dir(config, period),
            columns=COLUMNS,
            num_mappers=config.warehouse.sqoop_mappers,
        )
        requests += [hive.to_emr(), sqoop.to_emr()]
    return requests
