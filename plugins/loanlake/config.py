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
    upload_part_mb: int = Field(16, ge=5, le=512, description="multipart part size for streamed uploads")
    source: SourceConfig = Field(default_factory=SourceConfig)

    @field_validator("raw_prefix", "manifest_prefix")
    @classmethod
    def _strip_slashes(cls, value: str) -> str:
        if not value.strip("/"):
            raise ValueError("must not be empty")
        return value.strip("/")

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
