"""`python -m sandbox up | status | down` as a newcomer runs it, and the prerequisite messages."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from sandbox.site import PrerequisiteError, SandboxSettings, check_prerequisites

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _sandbox(command: str, home: Path, ports: tuple[int, int]) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "LOANLAKE_SANDBOX_HOME": str(home),
        "LOANLAKE_SANDBOX_MOTO_PORT": str(ports[0]),
        "LOANLAKE_SANDBOX_PORTAL_PORT": str(ports[1]),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
    }
    return subprocess.run(
        [sys.executable, "-m", "sandbox", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )


def _pid_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_up_status_down_start_and_stop_exactly_one_process(tmp_path):
    ports = (_free_port(), _free_port())
    up = _sandbox("up", tmp_path, ports)
    pid = int((tmp_path / "sandbox.pid").read_text()) if (tmp_path / "sandbox.pid").exists() else None
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"127.0.0.1:{ports[0]}" in up.stdout
        env_file = (tmp_path / "env").read_text()
        for name in ("AIRFLOW_CONN_AWS_DEFAULT", "AIRFLOW_CONN_FREDDIE_MAC_PORTAL", "AIRFLOW_VAR_LOANLAKE_CONFIG"):
            assert f"export {name}=" in env_file
        assert f"http://127.0.0.1:{ports[1]}/FLoan/secure/login.php" in env_file

        status = _sandbox("status", tmp_path, ports)
        assert status.returncode == 0 and "is up" in status.stdout
        again = _sandbox("up", tmp_path, ports)
        assert "already up" in again.stdout
        assert int((tmp_path / "sandbox.pid").read_text()) == pid, "a second `up` starts nothing"
    finally:
        down = _sandbox("down", tmp_path, ports)
    assert down.returncode == 0 and f"pid {pid}" in down.stdout
    assert not _pid_alive(pid)
    assert not (tmp_path / "sandbox.pid").exists()
    assert _sandbox("status", tmp_path, ports).returncode == 3


def test_down_without_up_says_so(tmp_path):
    result = _sandbox("down", tmp_path, (0, 0))
    assert result.returncode == 0 and "not running" in result.stdout


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"mysql": {"host": "127.0.0.1", "port": 1, "user": "root", "password": ""}}, "MariaDB does not answer"),
        ({"postgres": {"host": "127.0.0.1", "port": 1, "user": "postgres"}}, "PostgreSQL does not answer"),
    ],
)
def test_a_missing_database_gives_one_line_saying_how_to_start_it(tmp_path, change, expected):
    settings = SandboxSettings(home=tmp_path, **change)
    with pytest.raises(PrerequisiteError) as error:
        check_prerequisites(settings)
    message = str(error.value)
    assert expected in message and "start" in message and "\n" not in message


def test_missing_java_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PrerequisiteError, match="Java is missing"):
        check_prerequisites(SandboxSettings(home=tmp_path))
