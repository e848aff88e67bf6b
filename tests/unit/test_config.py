"""The typed config: Variable JSON first, LOANLAKE__ environment second, defaults last; errors name the key."""

from __future__ import annotations

import pytest

from loanlake.config import ConfigError, parse_config


def test_defaults_are_a_valid_production_config(monkeypatch):
    monkeypatch.delenv("LOANLAKE__SOURCE__KIND", raising=False)
    config = parse_config(None)
    assert config.source.kind == "portal"
    assert config.source.portal_login_url.startswith("https://")
    assert config.raw_prefix == "raw"
    assert (config.processed_prefix, config.quarantine_prefix, config.quality_prefix) == (
        "processed",
        "quarantine",
        "quality",
    )
    assert config.emr.release_label == "emr-7.4.0", "the newest release with both Hive and Sqoop"
    assert config.emr.applications == ["Hive", "Sqoop", "HCatalog"]
    assert config.emr.log_uri == "s3://loanlake-logs/emr/"
    assert config.emr.subnet_id is None
    assert config.s3_root(config.quality_prefix) == "s3://loanlake-data/quality"


def test_variable_overrides_environment_which_overrides_defaults(monkeypatch):
    monkeypatch.setenv("LOANLAKE__SOURCE__KIND", "landing")
    monkeypatch.setenv("LOANLAKE__REGION", "eu-west-1")
    config = parse_config('{"region": "us-west-2"}')
    assert config.source.kind == "landing", "the environment fills what the Variable leaves out"
    assert config.region == "us-west-2", "the Variable wins over the environment"


def test_prefixes_lose_their_slashes():
    assert parse_config({"raw_prefix": "/raw/"}).raw_prefix == "raw"
    assert parse_config({"emr": {"code_prefix": "/code/hql/"}}).emr.code_prefix == "code/hql"
    assert parse_config({"emr": {"log_uri": "s3://logs/emr"}}).emr.log_uri == "s3://logs/emr/", "a folder"


def test_emr_section_from_the_environment(monkeypatch):
    monkeypatch.setenv("LOANLAKE__EMR__CORE_INSTANCE_COUNT", "5")
    assert parse_config({"emr": {"release_label": "emr-7.3.0"}}).emr.release_label == "emr-7.3.0"
    assert parse_config(None).emr.core_instance_count == 5


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"source": {"kind": "ftp"}}', "source.kind"),
        ('{"regoin": "us-east-1"}', "regoin: unknown key"),
        ('{"upload_part_mb": 1}', "upload_part_mb"),
        ('{"source": {"kind": "urls"}}', "source.urls must list at least one URL"),
        ('{"source": {"kind": "urls", "urls": ["ftp://x/y.zip"]}}', "ftp://x/y.zip"),
        ('{"source": {"portal_login_url": "portal.example"}}', "source.portal_login_url"),
        ('{"raw_prefix": "/"}', "raw_prefix: must not be empty"),
        ('{"data_bucket": "another-bucket"}', "LOANLAKE__DATA_BUCKET=another-bucket"),
        ('{"quality_prefix": ""}', "quality_prefix: must not be empty"),
        ('{"emr": {"release_label": "7.4.0"}}', "emr.release_label"),
        ('{"emr": {"log_uri": "loanlake-logs/emr"}}', "emr.log_uri: 'loanlake-logs/emr' is not an s3:// URI"),
        ('{"emr": {"max_quarantine_share": 1.5}}', "emr.max_quarantine_share"),
        ('{"emr": {"hive_database": "loan-lake"}}', "emr.hive_database"),
        ('{"emr": {"applications": []}}', "emr.applications"),
        ('{"emr": {"ebs": true}}', "emr.ebs: unknown key"),
        ('{"emr": {"idle_timeout_seconds": 10}}', "emr.idle_timeout_seconds"),
        ('{"streaming": {"stream": {"min_shards": 5, "max_shards": 2}}}', "min_shards 5 > max_shards 2"),
        ('{"streaming": {"delivery": {"prefix": "apps/"}}}', "prefix must be time-partitioned"),
        ('{"streaming": {"delivery": {"error_prefix": "errors/"}}}', "!{firehose:error-output-type}"),
        ('{"streaming": {"processor": {"runtime": "python3.8"}}}', "is not in supported_runtimes"),
        ('{"streaming": {"delivery": {"role_arn": "loanlake-firehose"}}}', "streaming.delivery.role_arn"),
    ],
)
def test_invalid_config_names_the_key(raw, message):
    with pytest.raises(ConfigError, match="loanlake_config") as error:
        parse_config(raw)
    assert message in str(error.value)
