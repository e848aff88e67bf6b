"""The warehouse specs: export steps, the rendered Redshift batches, the reconciliation table."""

from __future__ import annotations

import re

import pytest

from loanlake.config import parse_config
from loanlake.warehouse import exports, reconcile, redshift

MYSQL_DDL = (exports.MYSQL_SQL_DIR / "create_tables.sql").read_text()


@pytest.fixture
def config():
    return parse_config({})


def test_export_steps_pair_a_hive_export_with_a_sqoop_export_per_period(config):
    password = "s3://loanlake-data/secrets/sqoop/run/mysql.password"
    steps = exports.export_steps(
        config,
        "s3://loanlake-data/code/hql/abc",
        ["2017Q1", "2017"],
        "jdbc:mysql://db:3306/loanlake",
        "loader",
        password,
    )

    assert [s["Name"] for s in steps] == [
        "2017Q1 export_acquisition",
        "2017Q1 sqoop_export_acquisition",
        "2017 export_acquisition",
        "2017 sqoop_export_acquisition",
    ]
    hive_args = steps[0]["HadoopJarStep"]["Args"]
    assert "s3://loanlake-data/code/hql/abc/export_acquisition.hql" in hive_args
    assert "EXPORT_ROOT=s3://loanlake-data/export" in hive_args and "PERIOD=2017Q1" in hive_args
    sqoop_args = steps[1]["HadoopJarStep"]["Args"]
    assert sqoop_args[sqoop_args.index("--export-dir") + 1] == "s3://loanlake-data/export/acquisition/period=2017Q1"
    assert sqoop_args[sqoop_args.index("--table") + 1] == "acquisition_staging"
    assert sqoop_args[sqoop_args.index("--password-file") + 1] == password


def test_the_exported_columns_are_the_mysql_tables_columns_in_order():
    table = MYSQL_DDL.split("CREATE TABLE IF NOT EXISTS acquisition (")[1].split("PRIMARY KEY")[0]
    columns = re.findall(r"^\s{4}([a-z_0-9]+) ", table, re.MULTILINE)
    assert tuple(c for c in columns if c != "loaded_at") == exports.COLUMNS


def test_the_export_script_writes_the_columns_sqoop_is_told():
    script = (exports.MYSQL_SQL_DIR.parents[1] / "hql" / exports.EXPORT_SCRIPT).read_text()
    selected = script.split("SELECT\n")[1].split("FROM")[0]
    assert tuple(re.findall(r"a\.([a-z_0-9]+)", selected)) == exports.COLUMNS


def test_a_mysql_connection_without_host_or_schema_is_refused():
    assert exports.jdbc_url("db.example", None, "loanlake") == "jdbc:mysql://db.example:3306/loanlake"
    with pytest.raises(ValueError, match="host and a schema"):
        exports.jdbc_url("db.example", 3306, "")


def test_the_redshift_load_is_one_batch_for_the_period(config):
    batch = redshift.load_performance(config, "2017Q1")

    assert [s.split()[0] for s in batch] == ["DELETE", "COPY", "DELETE", "INSERT", "DELETE"]
    copy = batch[1]
    assert "FROM 's3://loanlake-data/processed/performance/source_period=2017Q1/'" in copy
    assert "IAM_ROLE 'arn:aws:iam::123456789012:role/loanlake-redshift-copy'" in copy
    assert "FORMAT AS PARQUET" in copy
    assert "WHERE source_period = '2017Q1'" in batch[2]
    assert not any("TRUNCATE" in s or "${" in s for s in batch), "TRUNCATE commits on Redshift"


def test_a_bad_period_never_reaches_the_sql(config):
    with pytest.raises(ValueError, match="cannot load period"):
        redshift.load_performance(config, "2017Q1'; DROP TABLE x; --")


def test_the_data_api_target_is_a_cluster_or_a_workgroup():
    assert redshift.data_api_target(parse_config({})) == {
        "cluster_identifier": "loanlake",
        "database": "loanlake",
        "db_user": "loanlake",
    }
    serverless = {"cluster_identifier": None, "db_user": None, "workgroup_name": "wg", "secret_arn": "arn:s"}
    target = redshift.data_api_target(parse_config({"warehouse": {"redshift": serverless}}))
    assert target == {"workgroup_name": "wg", "database": "loanlake", "secret_arn": "arn:s"}
    with pytest.raises(ValueError, match="exactly one of cluster_identifier and workgroup_name"):
        parse_config({"warehouse": {"redshift": {"workgroup_name": "wg"}}})


def test_reconciliation_lists_every_count_and_names_each_difference():
    hive = {("acquisition", "2017Q1"): 1_000, ("performance", "2017Q1"): 20_000}
    published = {("acquisition", "2017Q1"): 1_000, ("performance", "2017Q1"): 19_990}

    table, problems = reconcile.compare(["2017Q1"], hive, published)

    assert problems == ["2017Q1 performance: Hive kept 20,000 rows, Redshift has 19,990"]
    assert "2017Q1   acquisition         1,000  RDS MySQL        1,000  ok" in table
    assert "differs by -10" in table
