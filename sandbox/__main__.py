"""``python -m sandbox up | down | status``: the local stand-in for AWS and the Freddie Mac portal.

``up`` starts the sandbox in a background process and returns once it answers; ``up --foreground``
runs it in this terminal until Ctrl-C. ``down`` stops exactly the process ``up`` started (PID file).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from sandbox.site import PrerequisiteError, Sandbox, SandboxSettings

START_TIMEOUT_SECONDS = 180


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the sandbox (in the background unless --foreground)")
    up.add_argument("--foreground", action="store_true", help="run in this terminal until Ctrl-C")
    up.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    commands.add_parser("down", help="stop the sandbox that `up` started")
    commands.add_parser("status", help="say whether the sandbox is up and where")
    args = parser.parse_args(argv)
    settings = SandboxSettings()
    if getattr(args, "host", None):
        settings.host = args.host
    if args.command == "up":
        return run_foreground(settings) if args.foreground else start_background(settings)
    if args.command == "down":
        return stop_background(settings)
    return status(settings)


def _pid_file(settings: SandboxSettings) -> Path:
    return settings.home / "sandbox.pid"


def _ready_file(settings: SandboxSettings) -> Path:
    return settings.home / "ready"


def _running_pid(settings: SandboxSettings) -> int | None:
    try:
        pid = int(_pid_file(settings).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    """A live process (an exited one that nobody reaped yet, a zombie, is not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def run_foreground(settings: SandboxSettings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    sandbox = Sandbox(settings)
    try:
        sandbox.start()
    except PrerequisiteError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1
    settings.home.mkdir(parents=True, exist_ok=True)
    _pid_file(settings).write_text(str(os.getpid()))
    _ready_file(settings).write_text(sandbox.endpoint_url)
    print(f"sandbox up: AWS APIs at {sandbox.endpoint_url}, portal at {sandbox.portal.login_url}")
    print(f"sandbox env: source {settings.home / 'env'} before running airflow")
    try:
        stop.wait()
    finally:
        sandbox.stop()
        _ready_file(settings).unlink(missing_ok=True)
        _pid_file(settings).unlink(missing_ok=True)
        print("sandbox down")
    return 0


def start_background(settings: SandboxSettings) -> int:
    pid = _running_pid(settings)
    if pid:
        print(f"sandbox already up (pid {pid}); env in {settings.home / 'env'}")
        return 0
    settings.home.mkdir(parents=True, exist_ok=True)
    _ready_file(settings).unlink(missing_ok=True)
    log_path = settings.home / "sandbox.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "up", "--foreground", "--host", settings.host],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if _ready_file(settings).exists():
            print(f"sandbox up (pid {process.pid}): AWS APIs at {_ready_file(settings).read_text()}")
            print(f"sandbox env: {settings.home / 'env'}; log: {log_path}")
            return 0
        if process.poll() is not None:
            print(log_path.read_text().strip().splitlines()[-1] if log_path.stat().st_size else "", file=sys.stderr)
            print(f"sandbox failed to start (exit {process.returncode}); log: {log_path}", file=sys.stderr)
            return 1
        time.sleep(0.5)
    process.terminate()
    print(f"sandbox did not answer within {START_TIMEOUT_SECONDS} s; log: {log_path}", file=sys.stderr)
    return 1


def stop_background(settings: SandboxSettings) -> int:
    pid = _running_pid(settings)
    if pid is None:
        _pid_file(settings).unlink(missing_ok=True)
        print("sandbox is not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    for _ in range(60):
        if not _alive(pid):
            break
        time.sleep(0.5)
    else:
        os.kill(pid, signal.SIGKILL)
    _pid_file(settings).unlink(missing_ok=True)
    print(f"sandbox down (pid {pid} stopped)")
    return 0


def status(settings: SandboxSettings) -> int:
    pid = _running_pid(settings)
    if pid is None or not _ready_file(settings).exists():
        print("sandbox is down")
        return 3
    print(f"sandbox is up (pid {pid}): AWS APIs at {_ready_file(settings).read_text()}; env {settings.home / 'env'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
