"""Static checks of docker-compose.yaml and the Dockerfiles it builds (no Docker engine needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from loanlake.config import parse_config

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
AIRFLOW_SERVICES = ("airflow-init", "api-server", "scheduler", "dag-processor", "triggerer", "worker")
REQUIRED_SERVICES = (*AIRFLOW_SERVICES, "postgres", "redis", "sandbox", "mysql", "warehouse")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


def _depends_on(service: dict) -> dict[str, str]:
    """``depends_on`` in either form, as {service: condition}."""
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):
        return dict.fromkeys(depends, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in depends.items()}


def _bind_sources(service: dict) -> list[str]:
    sources = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                sources.append(volume["source"])
        elif volume.split(":", 1)[0].startswith((".", "/", "~")):
            sources.append(volume.split(":", 1)[0])
    return sources


def test_required_services_exist(services):
    missing = sorted(set(REQUIRED_SERVICES) - set(services))
    assert not missing, f"docker-compose.yaml lacks services {missing}"


def test_every_service_has_an_image_or_a_build(services):
    lacking = sorted(name for name, service in services.items() if "image" not in service and "build" not in service)
    assert not lacking, f"services without image or build: {lacking}"


def test_build_contexts_and_dockerfiles_exist(services):
    builds = {name: service["build"] for name, service in services.items() if "build" in service}
    assert builds, "no service builds an image"
    for name, build in builds.items():
        spec = {"context": build} if isinstance(build, str) else build
        context = ROOT / spec.get("context", ".")
        assert context.is_dir(), f"{name}: build context {context} does not exist"
        dockerfile = context / spec.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"


def test_bind_mounts_exist_and_named_volumes_are_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for source in _bind_sources(service):
            assert (ROOT / source).exists(), f"{name}: bind-mounted {source} is not in the repository"
        for volume in service.get("volumes", []):
            if isinstance(volume, str) and not volume.startswith((".", "/", "~")):
                assert volume.split(":", 1)[0] in declared, f"{name}: volume {volume} is not declared"


def test_airflow_services_mount_the_project(services):
    for name in AIRFLOW_SERVICES:
        mounted = {(ROOT / source).resolve() for source in _bind_sources(services[name])}
        missing = [folder for folder in ("dags", "plugins", "include") if ROOT / folder not in mounted]
        assert not missing, f"{name} does not mount {missing}"


def test_airflow_services_share_the_common_environment(compose, services):
    common = compose["x-airflow-common"]["environment"]
    for name in AIRFLOW_SERVICES:
        environment = services[name].get("environment", {})
        differing = sorted(key for key, value in common.items() if environment.get(key) != value)
        assert not differing, f"{name} lacks or overrides common settings {differing}"
        assert services[name].get("build") == compose["x-airflow-common"]["build"], f"{name} builds another image"


def test_common_environment_configures_celery_and_the_metadata_database(compose):
    env = compose["x-airflow-common"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql"), "metadata DB must be PostgreSQL"
    assert urlparse(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).hostname == "postgres"
    assert urlparse(env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql")


def test_connections_and_config_point_at_the_sandbox(compose, services, monkeypatch):
    env = compose["x-airflow-common"]["environment"]
    aws = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
    assert aws["conn_type"] == "aws"
    endpoint = urlparse(aws["extra"]["endpoint_url"])
    assert endpoint.hostname in services, f"endpoint_url {endpoint.geturl()} names no compose service"
    portal = json.loads(env["AIRFLOW_CONN_FREDDIE_MAC_PORTAL"])
    assert portal["conn_type"] == "http" and portal["login"] and portal["password"]
    monkeypatch.setenv("LOANLAKE__DATA_BUCKET", env["LOANLAKE__DATA_BUCKET"])
    config = parse_config(env["AIRFLOW_VAR_LOANLAKE_CONFIG"])
    assert urlparse(config.source.portal_login_url).hostname in services


def test_depends_on_names_existing_services_with_health_checks(services):
    for name, service in services.items():
        for dependency, condition in _depends_on(service).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency}, which has no healthcheck"


def test_long_running_services_have_health_checks(services):
    lacking = sorted(
        name for name, service in services.items() if name != "airflow-init" and "healthcheck" not in service
    )
    assert not lacking, f"services without a healthcheck: {lacking}"


def test_airflow_image_matches_the_pinned_version():
    pin = re.search(r"^apache-airflow==(\S+)", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pin, "requirements.txt does not pin apache-airflow"
    base = re.search(r"^FROM\s+apache/airflow:(\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert base, "Dockerfile is not FROM apache/airflow"
    assert base.group(1).split("-python")[0] == pin.group(1), f"image {base.group(1)} vs apache-airflow=={pin.group(1)}"
