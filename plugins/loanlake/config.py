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
ROLE_ARN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$"
NAME = r"^[A-Za-z0-9_.-]{1,64}$"  # of a stream, delivery stream or function


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
    step_timeout_minutes: int = Field(60, ge=1, description="how long one step may take")
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
        pattern=ROLE_ARN,
        description="the role Redshift assumes to read processed/ for COPY",
    )
    poll_seconds: int = Field(10, ge=1, le=300, description="how often a statement's status is polled")
    timeout_seconds: int = Field(
        3600, ge=1, description="how long one statement may run before it is cancelled and the task fails"
    )

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


class KinesisStreamSpec(_Section):
    """The Kinesis data stream the loan-application events go into."""

    name: str = Field("loanlake-applications", pattern=NAME)
    min_shards: int = Field(1, ge=1, le=500)
    max_shards: int = Field(8, ge=1, le=500, description="remediation never goes beyond this")
    retention_hours: int = Field(24, ge=24, le=8760)
    kms_key_id: str | None = Field("alias/aws/kinesis", description="server-side encryption key; None: unencrypted")
    max_iterator_age_seconds: int = Field(300, ge=1, description="how far the slowest consumer may lag")

    @model_validator(mode="after")
    def _bounds(self) -> KinesisStreamSpec:
        if self.min_shards > self.max_shards:
            raise ValueError(f"streaming.stream: min_shards {self.min_shards} > max_shards {self.max_shards}")
        return self


class DeliveryStreamSpec(_Section):
    """The Firehose delivery stream: the Kinesis stream as its source, S3 as its destination."""

    name: str = Field("loanlake-applications-to-s3", pattern=NAME)
    role_arn: str = Field("arn:aws:iam::123456789012:role/loanlake-firehose", pattern=ROLE_ARN)
    prefix: str = Field(
        "streaming/applications/!{timestamp:yyyy/MM/dd/HH}/", description="in data_bucket, time-partitioned"
    )
    error_prefix: str = Field("streaming/errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/")
    buffer_size_mb: int = Field(64, ge=1, le=128)
    buffer_interval_seconds: int = Field(300, ge=0, le=900)
    compression: Literal["UNCOMPRESSED", "GZIP"] = "GZIP"
    processor_buffer_size_mb: float = Field(1, gt=0, le=3, description="records per Lambda invocation, in MB")
    processor_buffer_interval_seconds: int = Field(
        60, ge=0, le=900, description="longest wait before the Lambda runs (AWS's minimum is 60)"
    )
    processor_retries: int = Field(3, ge=0, le=300)

    @model_validator(mode="after")
    def _time_partitioned(self) -> DeliveryStreamSpec:
        if "!{timestamp:" not in self.prefix:
            raise ValueError("streaming.delivery.prefix must be time-partitioned: add a !{timestamp:...} expression")
        if "!{firehose:error-output-type}" not in self.error_prefix:
            raise ValueError("streaming.delivery.error_prefix must hold !{firehose:error-output-type}")
        return self


class ProcessorSpec(_Section):
    """The Firehose transformation Lambda, built from include/lambda/<source>/."""

    function_name: str = Field("loanlake-firehose-transform", pattern=NAME)
    source: str = Field("firehose_transform", pattern=r"^[a-z_]+$", description="folder in include/lambda/")
    handler: str = Field("handler.handler")
    runtime: str = Field("python3.12", pattern=r"^python3\.[0-9]+$")
    supported_runtimes: list[str] = Field(default_factory=lambda: ["python3.11", "python3.12", "python3.13"])
    role_arn: str = Field("arn:aws:iam::123456789012:role/loanlake-firehose-transform", pattern=ROLE_ARN)
    timeout_seconds: int = Field(60, ge=1, le=900)
    memory_mb: int = Field(256, ge=128, le=10240)

    @model_validator(mode="after")
    def _runtime_supported(self) -> ProcessorSpec:
        if self.runtime not in self.supported_runtimes:
            raise ValueError(f"streaming.processor.runtime {self.runtime!r} is not in supported_runtimes")
        return self


class StreamingConfig(_Section):
    """The declared streaming resources: what stream_health checks, and what remediation makes true."""

    stream: KinesisStreamSpec = Field(default_factory=KinesisStreamSpec)
    delivery: DeliveryStreamSpec = Field(default_factory=DeliveryStreamSpec)
    processor: ProcessorSpec = Field(default_factory=ProcessorSpec)
    window_minutes: int = Field(15, ge=1, le=1440, description="the traffic and delivery window each check looks at")
    freshness_slack_minutes: int = Field(
        10, ge=0, description="newest delivered object may be buffer interval + this old while records arrive"
    )
    report_prefix: str = Field("reports/stream_health", description="prefix in data_bucket for the JSON reports")
    poll_seconds: int = Field(10, ge=1, le=60, description="how often remediation's waiters poll")

    @field_validator("report_prefix")
    @classmethod
    def _report_prefix(cls, value: str) -> str:
        return _prefix(value)


class DriftConfig(_Section):
    """When captured endpoint inputs have drifted from the training baseline enough to retrain."""

    moderate_psi: float = Field(0.1, gt=0, description="PSI from which a feature's drift is moderate")
    major_psi: float = Field(0.25, gt=0, description="PSI from which a feature's drift is major")
    material_level: Literal["moderate", "major"] = Field("major", description="the level that triggers retraining")
    min_records: int = Field(500, ge=1, description="fewer captured rows than this: no verdict")
    cooldown_days: float = Field(14, ge=0, description="no drift-triggered retraining sooner than this after one")
    report_prefix: str = Field("reports/drift", description="prefix in data_bucket for drift reports and charts")

    @field_validator("report_prefix")
    @classmethod
    def _report_prefix(cls, value: str) -> str:
        return _prefix(value)

    @model_validator(mode="after")
    def _ordered(self) -> DriftConfig:
        if self.moderate_psi >= self.major_psi:
            raise ValueError(f"ml.drift: moderate_psi {self.moderate_psi} must be below major_psi {self.major_psi}")
        return self


class MlConfig(_Section):
    """The credit-risk model: training set, SageMaker training, the deployment gate, the endpoint, drift."""

    training_prefix: str = Field("ml/training", description="prefix in data_bucket for each run's training set")
    model_prefix: str = Field("ml/models", description="prefix in data_bucket for training output (model.tar.gz)")
    registry_prefix: str = Field("ml/registry", description="prefix in data_bucket for the live-model record")
    capture_prefix: str = Field("ml/capture", description="prefix in data_bucket for the endpoint's data capture")
    checkpoint_prefix: str = Field("ml/checkpoints", description="prefix in data_bucket for spot checkpoints")
    role_arn: str = Field("arn:aws:iam::123456789012:role/loanlake-sagemaker", pattern=ROLE_ARN)
    xgboost_version: str = Field("1.7-1", description="the built-in XGBoost image version")
    instance_type: str = Field("ml.m5.xlarge", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    instance_count: int = Field(1, ge=1, le=20)
    volume_gb: int = Field(10, ge=1, le=1000)
    max_runtime_seconds: int = Field(3600, ge=60, le=432000)
    use_spot: bool = Field(False, description="managed spot training, checkpointed to checkpoint_prefix")
    max_wait_seconds: int = Field(7200, ge=60, le=432000, description="spot only: runtime plus waiting for capacity")
    hyperparameters: dict[str, str] = Field(
        default_factory=lambda: {
            "objective": "binary:logistic",
            "eval_metric": "auc",
            "num_round": "300",
            "early_stopping_rounds": "20",
            "max_depth": "4",
            "eta": "0.1",
            "subsample": "0.8",
            "min_child_weight": "5",
        }
    )
    min_training_rows: int = Field(500, ge=1, description="fewer labelled loans than this fail the run")
    auc_floor: float = Field(0.65, ge=0.5, le=1, description="no model below this validation AUC is deployed")
    auc_tolerance: float = Field(0.005, ge=0, le=0.2, description="how much worse than live a new model may be")
    endpoint_name: str = Field("loanlake-credit-risk", pattern=r"^[A-Za-z0-9](-*[A-Za-z0-9]){0,62}$")
    endpoint_instance_type: str = Field("ml.m5.large", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    endpoint_instance_count: int = Field(1, ge=1, le=20)
    capture_sampling_percent: int = Field(100, ge=0, le=100)
    rollback_alarms: list[str] = Field(default_factory=list, description="CloudWatch alarms that roll an update back")
    deploy_timeout_minutes: int = Field(60, ge=1, le=720)
    poll_seconds: int = Field(30, ge=1, le=600, description="how often training and endpoint states are polled")
    keep_models: int = Field(3, ge=1, le=50, description="models and endpoint configs kept besides the live one")
    proxy_function_name: str = Field("loanlake-endpoint-proxy", pattern=NAME)
    proxy_role_arn: str = Field("arn:aws:iam::123456789012:role/loanlake-endpoint-proxy", pattern=ROLE_ARN)
    drift: DriftConfig = Field(default_factory=DriftConfig)

    @field_validator(
        "training_prefix", "model_prefix", "registry_prefix", "capture_prefix", "checkpoint_prefix", mode="after"
    )
    @classmethod
    def _prefixes(cls, value: str) -> str:
        return _prefix(value)

    @model_validator(mode="after")
    def _spot_waits_longer(self) -> MlConfig:
        if self.use_spot and self.max_wait_seconds < self.max_runtime_seconds:
            raise ValueError("ml.max_wait_seconds must be at least ml.max_runtime_seconds with use_spot")
        return self


class AlertsConfig(_Section):
    """Where failure alerts go and what they link to."""

    topic_arn: str = Field(
        "arn:aws:sns:us-east-1:123456789012:loanlake-alerts",
        pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$",
        description="the SNS topic on-call subscribes to",
    )
    runbook_url: str = Field(
        "https://github.com/loanlake/loanlake/blob/main/docs/runbook.md",
        pattern=r"^https?://",
        description="docs/runbook.md as on-call reads it; alerts link to its section for the DAG",
    )


class SweeperConfig(_Section):
    """What the orphan sweeper counts as left behind."""

    cluster_max_age_hours: float = Field(1, ge=0, description="a cluster this old whose run is over is an orphan")
    training_grace_minutes: float = Field(30, ge=0, description="past a job's own limit before it is stopped")
    report_prefix: str = Field("reports/sweeper", description="prefix in data_bucket for the sweeper's reports")

    @field_validator("report_prefix")
    @classmethod
    def _report_prefix(cls, value: str) -> str:
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
    upload_part_mb: int = Field(8, ge=5, le=512, description="multipart part size for streamed uploads")
    source: SourceConfig = Field(default_factory=SourceConfig)
    emr: EmrConfig = Field(default_factory=EmrConfig)
    warehouse: WarehouseConfig = Field(default_factory=WarehouseConfig)
    streaming: StreamingConfig = Field(default_factory=StreamingConfig)
    ml: MlConfig = Field(default_factory=MlConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    sweeper: SweeperConfig = Field(default_factory=SweeperConfig)

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
