"""What test_airflow_ui.py starts: Airflow's API server and DAG processor on a free port, and headless Chromium.

Airflow runs as two processes, ``airflow api-server --apps core`` (the UI and the REST API; no execution API, as no
task runs) and ``airflow dag-processor`` (parses dags/ and writes the DAGs and import errors the UI lists), on a
SQLite database in an Airflow home of their own, with the sandbox fixture's connections and Variable, so the DAGs
parse with the same environment as in the demo. No scheduler or triggerer: the UI's listing does not need them.

Chromium and ChromeDriver are Debian's (``make system-deps``), driven by selenium; nothing is downloaded. Every
process started here is stopped by its PID (each Airflow command leads a process group of its own; the browser's
processes are the driver's descendants), and the teardown fails if one is still alive.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from sandbox.runner import ROOT, airflow_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# The probe's flags for Debian's Chromium on this kind of machine, and a window the DAG list fits in.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1440,900",
)
USERNAME = "admin"
HEALTH_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 20


@dataclass
class AirflowUI:
    """A running Airflow UI: where it answers, who may sign in, and the logs of its processes."""

    base_url: str
    home: Path
    username: str
    logs: dict[str, Path]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def password(self) -> str:
        """The password the simple auth manager generated for ``username`` when the API server started."""
        generated = json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())
        return generated[self.username]

    def token(self) -> str:
        """A JWT for the REST API, from the same credentials the login form takes."""
        answer = requests.post(
            f"{self.base_url}/auth/token", json={"username": self.username, "password": self.password}, timeout=10
        )
        answer.raise_for_status()
        return answer.json()["access_token"]

    def api(self, path: str, token: str, **params: Any) -> dict[str, Any]:
        answer = requests.get(
            f"{self.base_url}/api/v2/{path}", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        answer.raise_for_status()
        return answer.json()

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise AssertionError(f"airflow {name} exited with {process.returncode}\n{self.log_tails()}")

    def log_tails(self, lines: int = 40) -> str:
        """The last lines of each process's log, for failure messages."""
        parts = []
        for _name, path in self.logs.items():
            text = path.read_text(errors="replace").splitlines() if path.exists() else []
            parts.append(f"--- {path} (last {lines} lines) ---\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def descendants(pid: int) -> list[psutil.Process]:
    """``pid`` and every process below it, as they are now (none if it has gone)."""
    try:
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def stop_processes(processes: list[psutil.Process], timeout: float = STOP_TIMEOUT_SECONDS) -> list[psutil.Process]:
    """SIGTERM each of ``processes`` by PID, SIGKILL those still alive after ``timeout``; returns any survivor."""
    for process in processes:
        with suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        with suppress(psutil.NoSuchProcess):
            process.kill()
    _, alive = psutil.wait_procs(alive, timeout=5)
    return alive


def group_members(pgid: int) -> list[psutil.Process]:
    """The processes still in process group ``pgid`` (a leader's orphans keep its group)."""
    members = []
    for process in psutil.process_iter():
        with suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(process.pid) == pgid:
                members.append(process)
    return members


def stop_group(popen: subprocess.Popen, timeout: float = STOP_TIMEOUT_SECONDS) -> list[psutil.Process]:
    """Stop a process started with ``start_new_session=True`` and all below it or in its group; returns survivors."""
    family = descendants(popen.pid)
    # SIGTERM to its process group first (its pgid is its PID): the leader shuts its own workers down.
    with suppress(ProcessLookupError):
        os.killpg(popen.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        popen.wait(timeout=timeout)
    rest = {process.pid: process for process in [*family, *group_members(popen.pid)] if process.is_running()}
    survivors = stop_processes(list(rest.values()), timeout=5)
    popen.wait(timeout=5)  # reaped, so it leaves no zombie either
    return survivors


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 1.0) -> Any:
    """Poll ``condition`` until it returns something truthy; ``AssertionError`` naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if result := condition():
                return result
        except (requests.RequestException, OSError, ValueError, KeyError) as error:
            last_error = error
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout:.0f} s waiting for {what}" + (f": {last_error}" if last_error else "")
    )


@contextmanager
def airflow_ui(home: Path, env: dict[str, str], dags_folder: Path = ROOT / "dags") -> Iterator[AirflowUI]:
    """Migrate a metadata database in ``home``, start the API server and the DAG processor, wait for health."""
    port = free_port()
    airflow = Path(sys.executable).with_name("airflow")
    env = {
        **env,
        **airflow_env(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "PATH": os.pathsep.join([str(airflow.parent), env.get("PATH", os.defpath)]),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__PARALLELISM": "4",
        # The simple auth manager's one user, an admin; it writes a random password for it to the home's
        # simple_auth_manager_passwords.json.generated when the API server starts, as `make airflow` does.
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
    }
    env.pop("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", None)
    home.mkdir(parents=True, exist_ok=True)
    migrate = subprocess.run(
        [str(airflow), "db", "migrate"], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    if migrate.returncode != 0:
        raise AssertionError(f"airflow db migrate failed ({migrate.returncode}):\n{migrate.stdout}\n{migrate.stderr}")
    ui = AirflowUI(f"http://127.0.0.1:{port}", home, USERNAME, logs={})
    commands = {
        "api-server": [str(airflow), "api-server", "--apps", "core", "--host", "127.0.0.1", "--port", str(port)],
        "dag-processor": [str(airflow), "dag-processor"],
    }
    survivors: list[psutil.Process] = []
    try:
        for name, command in commands.items():
            ui.logs[name] = home / f"{name}.log"
            with ui.logs[name].open("wb") as log:
                ui.processes[name] = subprocess.Popen(
                    command, env=env, cwd=home, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip

        def healthy() -> bool:
            ui.check_alive()
            health = requests.get(f"{ui.base_url}/api/v2/monitor/health", timeout=5).json()
            return health["metadatabase"]["status"] == "healthy" and health["dag_processor"]["status"] == "healthy"

        try:
            wait_for(healthy, HEALTH_TIMEOUT_SECONDS, f"{ui.base_url}/api/v2/monitor/health")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{ui.log_tails()}") from None
        yield ui
    finally:
        for popen in reversed(list(ui.processes.values())):
            survivors += stop_group(popen)
    if survivors:
        raise AssertionError(f"processes still running after the UI test stopped them: {survivors}")


@contextmanager
def chromium(download_dir: Path | None = None) -> Iterator[Any]:
    """Headless Debian Chromium under selenium, with a new empty profile; quit, and its processes gone, after."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run `make system-deps` (Debian's chromium chromium-driver)")
    profile = Path(tempfile.mkdtemp(prefix="loanlake-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(profile.with_suffix(".chromedriver.log")))
    driver = None
    try:
        driver = webdriver.Chrome(service=service, options=options)
        driver.set_page_load_timeout(60)
        yield driver
    finally:
        # The driver's descendants now (browser, renderers, helpers), so none outlives a quit() that went wrong.
        family = descendants(service.process.pid) if service.process is not None else []
        if driver is not None:
            with suppress(Exception):
                driver.quit()
        with suppress(Exception):
            service.stop()
        survivors = stop_processes([p for p in family if p.is_running()], timeout=5)
        shutil.rmtree(profile, ignore_errors=True)
        profile.with_suffix(".chromedriver.log").unlink(missing_ok=True)
        if survivors:
            raise AssertionError(f"browser processes still running after quit: {survivors}")
