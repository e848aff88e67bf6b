"""One typed settings object for every DAG.

Read from the Airflow Variable ``loanlake_config`` (JSON). Keys the Variable leaves out fall back to
environment variables ``LOANLAKE__<KEY>`` (nested keys joined by ``__``, e.g.
``LOANLAKE__SOURCE__KIND=landing``), then to the defaults below. Read it in tasks, never at parse time.
"""

from __future__ import annotations

import json
import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

VARIABLE_KEY = "loanlake_config"
ENV_PREFIX = "LOANLAKE__"
DEFAULT_DATA_BUCKET = "loanlake-data"


def asset_bucket() -> str:
    """The data bucket the Assets' URIs name: environment only, because Assets are built at parse time."""
    return os.environ.get(f"{ENV_PREFIX}DATA_BUCKET", DEFAULT_DATA_BUCKET)


class ConfigError(ValueError):
    """The loanlake configuration is missing a key or holds an invalid value; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Section):
    """Where the Freddie Mac files come from."""

    kind: Literal["portal", "urls", "landing"] = Field(
        "portal", description="portal: the classic login/terms/download flow; urls: plain HTTPS; landing: S3 prefix"
    )
    portal_login_url: str = Field(
        "https://freddiemac.embs.com/FLoan/secure/login.php", description="the portal's login page (kind=portal)"
    )
    portal_conn_id: str = Field("freddie_mac_portal", description="Airflow connection with the portal login")
    urls: list[str] = Field(default_factory=list, description="zip URLs (kind=urls)")
    landing_prefix: str = Field("landing/", description="S3 prefix in data_bucket that operators fill (kind=landing)")
    connect_timeout_seconds: float = Field(10, gt=0)
    read_timeout_seconds: float = Field(120, gt=0)
    attempts: int = Field(4, ge=1, le=10, description="tries per file on 5xx, timeouts and cut bodies")
    backoff_seconds: float = Field(2, ge=0, description="first wait between tries; doubles each time")

    @model_validator(mode="after")
    def _kind_has_its_keys(self) -> SourceConfig:
        if not self.portal_login_url.startswith(("https://", "http://")):
            raise ValueError(f"source.portal_login_url: {self.portal_login_url!r} is not an http(s) URL")
        if self.kind == "urls" and not self.urls:
            raise ValueError("source.urls must list at least one URL when source.kind is 'urls'")
        for url in self.urls:
            if not url.startswith(("https://", "http://")):
                raise ValueError(f"source.urls: {url!r} is not an http(s) URL")
        return self


class EmrConfig(_Section):
    """The transient EMR cluster that runs the Hive steps, and the quality gate on what they write."""

    release_label: str = Field(
        "emr-7.4.0", pattern=r"^emr-[0-9]+\.[0-9]+\.[0-9]+$", description="newest release with Hive and Sqoop"
    )
    applications: list[str] = Field(default_factory=lambda: ["Hive", "Sqoop", "HCatalog"], min_length=1)
    log_uri: str = Field("s3://loanlake-logs/emr/", description="where EMR writes cluster and step logs")
    primary_instance_type: str = Field("m5.xlarge")
    core_instance_type: str = Field("m5.xlarge")
    core_instance_count: int = Field(2, ge=1, le=100)
    service_role: str = Field("EMR_DefaultRole", description="the EMR service role")
    job_flow_role: str = Field("EMR_EC2_DefaultRole", description="the instance profile of the cluster's nodes")
    subnet_id: str | None = Field(None, description="private subnet for the cluster; None: the default VPC")
    idle_timeout_seconds: int = Field(3600, ge=60, le=604800, description="auto-termination when idle")
    step_timeout_minutes: int = Field(180, ge=1, description="how long one step may take")
    poll_seconds: int = Field(30, ge=1, le=600, description="how often steps are polled")
    hive_database: str = Field("loanlake", pattern=r"^[a-z_][a-z0-9_]*$")
    code_prefix: str = Field("code/hql", description="prefix in data_bucket for the published HQL scripts")
    max_quarantine_share: float = Field(0.02, ge=0, le=1, description="quality gate: most rows a table may reject")

    @field_validator("log_uri")
    @classmethod
    def _s3_folder(cls, value: str) -> str:
        if not value.startswith("s3://") or len(value) <= len("s3://"):
            raise ValueError(f"{value!r} is not an s3:// URI")
        return value.rstrip("/") + "/"

    @field_validator("code_prefix")
    @classmethod
    def _code_prefix(cls, value: str) -> str:
        return _prefix(value)


class RedshiftConfig(_Section):
    """The Redshift that performance is copied into, reached through the Data API (no network path needed)."""

    cluster_identifier: str | None = Field("loanlake", description="provisioned cluster; None with workgroup_name")
    workgroup_name: str | None = Field(None, description="Redshift Serverless workgroup instead of a cluster")
    database: str = Field("loanlake")
    db_user: str | None = Field("loanlake", description="temporary credentials for this user (provisioned only)")
    secret_arn: str | None = Field(None, description="Secrets Manager secret with the login, instead of db_user")
    schema_name: str = Field("loanlake", pattern=r"^[a-z_][a-z0-9_]*$", description="schema of the loanlake tables")
    copy_iam_role: str = Field(
        "arn:aws:iam::123456789012:role/loanlake-redshift-copy",
        pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$",
        description="the role Redshift assumes to read processed/ for COPY",
    )
    poll_seconds: int = Field(10, ge=1, le=300, description="how often a statement's status is polled")
    timeout_minutes: int = Field(60, ge=1, description="how long one load may take before the task fails")

    @model_validator(mode="after")
    def _one_target(self) -> RedshiftConfig:
        if bool(self.cluster_identifier) == bool(self.workgroup_name):
            raise ValueError("redshift: set exactly one of cluster_identifier and workgroup_name")
        if self.workgroup_name and self.db_user:
            raise ValueError("redshift.db_user is for provisioned clusters: use secret_arn with workgroup_name")
        return self


class WarehouseConfig(_Section):
    """Publishing processed data: Sqoop export to RDS MySQL and COPY into Redshift."""

    mysql_conn_id: str = Field("loanlake_mysql", description="Airflow connection of RDS MySQL (host, login, schema)")
    export_prefix: str = Field("export", description="prefix in data_bucket for the text files Sqoop exports")
    password_prefix: str = Field(
        "secrets/sqoop", description="prefix in data_bucket for the run's Sqoop password file (deleted by teardown)"
    )
    kms_key_id: str | None = Field(None, description="KMS key for the password file; None: SSE-S3")
    sqoop_mappers: int = Field(4, ge=1, le=64, description="parallel Sqoop map tasks (MySQL connections)")
    redshift: RedshiftConfig = Field(default_factory=RedshiftConfig)

    @field_validator("export_prefix", "password_prefix")
    @classmethod
    def _prefixes(cls, value: str) -> str:
        return _prefix(value)


def _prefix(value: str) -> str:
    if not value.strip("/"):
        raise ValueError("must not be empty")
    return value.strip("/")


class LoanlakeConfig(BaseSettings):
    """Every setting the DAGs read. See README.md, "Configuration", for each key."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True, case_sensitive=False
    )

    environment: str = Field("sandbox", description="a label for alerts and tags: sandbox, dev, prod")
    owner: str = Field("data-engineering", description="the DAGs' owner and the tag on every resource")
    region: str = Field("us-east-1")
    aws_conn_id: str = Field("aws_default")
    data_bucket: str = Field(DEFAULT_DATA_BUCKET, min_length=3, max_length=63)
    raw_prefix: str = Field("raw")
    manifest_prefix: str = Field("manifests/freddie_mac")
    processed_prefix: str = Field("processed", description="typed, partitioned Parquet written by Hive")
    quarantine_prefix: str = Field("quarantine", description="rejected rows, with the reason")
    quality_prefix: str = Field("quality", description="row counts and checks per table and period")
    upload_part_mb: int = Field(16, ge=5, le=512, description="multipart part size for streamed uploads")
    source: SourceConfig = Field(default_factory=SourceConfig)
    emr: EmrConfig = Field(default_factory=EmrConfig)
    warehouse: WarehouseConfig = Field(default_factory=WarehouseConfig)

    @field_validator("raw_prefix", "manifest_prefix", "processed_prefix", "quarantine_prefix", "quality_prefix")
    @classmethod
    def _strip_slashes(cls, value: str) -> str:
        return _prefix(value)

    def s3_root(self, prefix: str) -> str:
        """``s3://<data_bucket>/<prefix>``, as the HQL scripts receive their roots."""
        return f"s3://{self.data_bucket}/{prefix}"

    @model_validator(mode="after")
    def _bucket_matches_assets(self) -> LoanlakeConfig:
        if self.data_bucket != asset_bucket():
            raise ValueError(
                f"data_bucket is {self.data_bucket!r} but the Assets name {asset_bucket()!r}: set the environment "
                f"variable {ENV_PREFIX}DATA_BUCKET={self.data_bucket} where the DAGs are parsed"
            )
        return self


def parse_config(raw: str | dict[str, Any] | None) -> LoanlakeConfig:
    """Validate a configuration (the Variable's JSON text or dict); env fills what it leaves out."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise ConfigError(f"Variable {VARIABLE_KEY} is not valid JSON: {exc}") from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"Variable {VARIABLE_KEY} must be a JSON object, got {type(raw).__name__}")
    try:
        config = LoanlakeConfig(**(raw or {}))
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    return config


def load_config() -> LoanlakeConfig:
    """The configuration in force for a running task: the Variable, then the environment, then defaults."""
    from airflow.sdk import Variable

    return parse_config(Variable.get(VARIABLE_KEY, default=None))


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "missing"
        elif error["type"] == "extra_forbidden":
            message = "unknown key"
        problems.append(f"{key}: {message}" if key and key not in message else message)
    return f"invalid {VARIABLE_KEY} ({len(problems)} problem(s)): " + "; ".join(problems)
