"""The sandbox site: moto server, its extensions, the Freddie Mac portal and the local databases.

``Sandbox`` starts everything in this process (threads), so tests can start and stop one of their
own on free ports; ``python -m sandbox up`` runs one in a background process for the demo.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox import catalog
from sandbox.extensions import SandboxContext, Undo, apply_all

log = logging.getLogger("sandbox")

ROOT = Path(__file__).resolve().parent.parent
SQL = Path(__file__).resolve().parent / "sql"
REGION = "us-east-1"
ACCOUNT_CREDENTIALS = {"login": "testing", "password": "testing"}  # moto accepts any; not a secret
PORTAL_USER = "loanlake"
DATA_BUCKET = "loanlake-data"
BUCKETS = (DATA_BUCKET, "loanlake-logs")
ALERTS_TOPIC = "loanlake-alerts"  # the default config's alerts.topic_arn
# The roles the default config names (loanlake.config), with the service that assumes each: on AWS they
# come from include/iam/; moto needs them to exist before a function or a delivery stream can use them.
ROLES = {
    "loanlake-firehose": "firehose.amazonaws.com",
    "loanlake-firehose-transform": "lambda.amazonaws.com",
    "loanlake-redshift-copy": "redshift.amazonaws.com",
    "loanlake-sagemaker": "sagemaker.amazonaws.com",
    "loanlake-endpoint-proxy": "lambda.amazonaws.com",
}
# What the sandbox's config sets beyond the defaults: short waits, so the demo and the tests do not idle; a
# drift verdict from a demo-sized day of traffic, and no cooldown, so the demo's drift retrains at once.
STREAMING = {
    "poll_seconds": 1,
    "delivery": {"buffer_size_mb": 1, "buffer_interval_seconds": 1, "processor_buffer_interval_seconds": 1},
}
ML = {"poll_seconds": 1, "drift": {"min_records": 200, "cooldown_days": 0}}
EMR = {"poll_seconds": 2}


class PrerequisiteError(RuntimeError):
    """Something the sandbox needs on this machine is missing; the message says how to get it."""


@dataclass
class SandboxSettings:
    """Where the sandbox listens and keeps its state. Port 0 picks a free port."""

    home: Path = field(default_factory=lambda: Path(os.environ.get("LOANLAKE_SANDBOX_HOME", ROOT / ".sandbox")))
    host: str = "127.0.0.1"
    moto_port: int = int(os.environ.get("LOANLAKE_SANDBOX_MOTO_PORT", "4566"))
    portal_port: int = int(os.environ.get("LOANLAKE_SANDBOX_PORTAL_PORT", "8765"))
    mysql: dict[str, Any] = field(
        default_factory=lambda: {
            "host": os.environ.get("LOANLAKE_SANDBOX_MYSQL_HOST", "127.0.0.1"),
            "port": 3306,
            "user": "root",
            "password": "",
        }
    )
    postgres: dict[str, Any] = field(
        default_factory=lambda: {
            "host": os.environ.get("LOANLAKE_SANDBOX_POSTGRES_HOST", "127.0.0.1"),
            "port": 5432,
            "user": "postgres",
        }
    )
    require_java: bool = True


class Sandbox:
    """Every stand-in service, started together and stopped together."""

    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or SandboxSettings()
        self._moto = None
        self._portal = None
        self._undos: list[Undo] = []
        self.endpoint_url = ""

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Sandbox:
        from moto.server import ThreadedMotoServer

        from sandbox.portal import PortalServer

        s = self.settings
        if not os.environ.get("LOANLAKE_SANDBOX_VERBOSE"):
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        check_prerequisites(s)
        s.home.mkdir(parents=True, exist_ok=True)
        ensure_databases(s)
        self._moto = ThreadedMotoServer(ip_address=s.host, port=s.moto_port, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self._undos = apply_all(self.context)
        self._create_buckets()
        self._create_roles()
        self.boto3_client("sns").create_topic(Name=ALERTS_TOPIC)
        files = catalog.publish(s.home / "portal")
        self._portal = PortalServer(files, PORTAL_USER, self.portal_password, host=s.host, port=s.portal_port)
        self._portal.start()
        self.write_env_file()
        log.info("sandbox up: moto %s, portal %s", self.endpoint_url, self.portal.login_url)
        return self

    def stop(self) -> None:
        if self._portal is not None:
            self._portal.stop()
            self._portal = None
        for undo in reversed(self._undos):
            undo()
        self._undos = []
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what clients need ---------------------------------------------------------------------
    @property
    def portal(self):
        if self._portal is None:
            raise RuntimeError("the sandbox is not started")
        return self._portal

    @property
    def portal_password(self) -> str:
        """``LOANLAKE_SANDBOX_PORTAL_PASSWORD``, else one made once per sandbox home: no secret in the repository."""
        if os.environ.get("LOANLAKE_SANDBOX_PORTAL_PASSWORD"):
            return os.environ["LOANLAKE_SANDBOX_PORTAL_PASSWORD"]
        path = self.settings.home / "portal-password"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(16))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def context(self) -> SandboxContext:
        s = self.settings
        return SandboxContext(
            home=s.home,
            endpoint_url=self.endpoint_url,
            region=REGION,
            mysql={**s.mysql, "database": "loanlake"},
            postgres={**s.postgres, "dbname": "loanlake"},
        )

    def boto3_client(self, service: str):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCOUNT_CREDENTIALS["login"],
            aws_secret_access_key=ACCOUNT_CREDENTIALS["password"],
        )

    def env(self) -> dict[str, str]:
        """Environment that points Airflow (connections, the config Variable) at this sandbox."""
        s = self.settings
        aws = {
            "conn_type": "aws",
            **ACCOUNT_CREDENTIALS,
            "extra": {"region_name": REGION, "endpoint_url": self.endpoint_url},
        }
        portal = {"conn_type": "http", "host": s.host, "login": PORTAL_USER, "password": self.portal_password}
        mysql = {"conn_type": "mysql", "host": s.mysql["host"], "port": s.mysql["port"], "login": s.mysql["user"]}
        mysql |= {"password": s.mysql["password"], "schema": "loanlake"}
        postgres = {"conn_type": "postgres", "host": s.postgres["host"], "port": s.postgres["port"]}
        postgres |= {"login": s.postgres["user"], "schema": "loanlake"}
        config = {
            "environment": "sandbox",
            "region": REGION,
            "data_bucket": DATA_BUCKET,
            "source": {"kind": "portal", "portal_login_url": self.portal.login_url, "backoff_seconds": 0.2},
            "emr": EMR,
            "streaming": STREAMING,
            "ml": ML,
        }
        return {
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws),
            "AIRFLOW_CONN_FREDDIE_MAC_PORTAL": json.dumps(portal),
            "AIRFLOW_CONN_LOANLAKE_MYSQL": json.dumps(mysql),
            "AIRFLOW_CONN_LOANLAKE_REDSHIFT": json.dumps(postgres),
            "AIRFLOW_VAR_LOANLAKE_CONFIG": json.dumps(config),
            "LOANLAKE__DATA_BUCKET": DATA_BUCKET,
        }

    def write_env_file(self) -> Path:
        """``<home>/env``: ``export`` lines any shell can source before running ``airflow``."""
        path = self.settings.home / "env"
        lines = [f"export {key}={shlex.quote(value)}" for key, value in self.env().items()]
        path.write_text(
            "# written by `python -m sandbox up`; source it before running airflow\n" + "\n".join(lines) + "\n"
        )
        path.chmod(0o600)
        return path

    def _create_roles(self) -> None:
        iam = self.boto3_client("iam")
        for name, service in ROLES.items():
            trust = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
            }
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))

    def _create_buckets(self) -> None:
        s3 = self.boto3_client("s3")
        for bucket in BUCKETS:
            s3.create_bucket(Bucket=bucket)
            s3.put_public_access_block(
                Bucket=bucket,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )
            s3.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )


def check_prerequisites(settings: SandboxSettings) -> None:
    """Java, MariaDB and PostgreSQL: one clear line for the first that is missing."""
    if settings.require_java and shutil.which("java") is None:
        raise PrerequisiteError(
            "Java is missing (Spark needs it): apt-get install -y openjdk-17-jre-headless, or put java on PATH"
        )
    connect_mysql(settings.mysql).close()
    connect_postgres(settings.postgres, "postgres").close()


def ensure_databases(settings: SandboxSettings) -> None:
    """A ``loanlake`` database in the local MariaDB (RDS MySQL) and PostgreSQL (Redshift)."""
    conn = connect_mysql(settings.mysql)
    try:
        conn.cursor().execute(sql_text("mysql/create_database.sql"))
    finally:
        conn.close()
    conn = connect_postgres(settings.postgres, "postgres")
    conn.autocommit = True
    try:
        cur = conn.cursor()
        cur.execute(sql_text("postgres/database_exists.sql"))
        if not cur.fetchone()[0]:
            cur.execute(sql_text("postgres/create_database.sql"))
    finally:
        conn.close()


def sql_text(name: str) -> str:
    return (SQL / name).read_text()


def connect_mysql(params: dict[str, Any]):
    import MySQLdb

    try:
        return MySQLdb.connect(
            connect_timeout=5, **{("passwd" if k == "password" else k): v for k, v in params.items()}
        )
    except MySQLdb.OperationalError as exc:
        raise PrerequisiteError(
            f"MariaDB does not answer on {params['host']}:{params['port']} ({exc.args[-1]}): start it with "
            "`start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd`"
        ) from None


def connect_postgres(params: dict[str, Any], dbname: str):
    import psycopg2

    try:
        return psycopg2.connect(dbname=dbname, connect_timeout=5, **params)
    except psycopg2.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0]
        raise PrerequisiteError(
            f"PostgreSQL does not answer on {params['host']}:{params['port']} ({reason}): start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
        ) from None
