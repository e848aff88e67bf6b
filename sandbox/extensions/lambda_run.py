"""Lambda whose Python functions really run: each invocation in a fresh ``python`` subprocess, no Docker.

moto 5.2.5 invokes functions in Docker. Here ``LambdaBackend.invoke`` extracts the function's deployed zip (from
``CreateFunction`` / ``UpdateFunctionCode``, ``ZipFile`` or S3) once into ``<home>/lambda/<sha256 of the zip>``
and runs its ``module.function`` handler with ``sandbox/lambda_runtime.py`` on the sandbox's interpreter
(``sys.executable -I``), in the code directory, with the function's ``Environment`` plus the variables Lambda
sets (``AWS_REGION``, ``AWS_LAMBDA_FUNCTION_NAME``, ...), dummy credentials and ``AWS_ENDPOINT_URL`` at the
sandbox, so boto3 in the function talks to the sandbox. The event goes in on stdin, the payload comes back on
stdout, what the function prints is its log.

As Lambda answers: a handler's exception is an ``Unhandled`` ``FunctionError`` whose payload is
``{errorMessage, errorType, requestId, stackTrace}``; after ``Timeout`` seconds the process group is killed and
the error is ``Sandbox.Timedout`` "Task timed out after N.00 seconds"; a process that dies is
``Runtime.ExitError``. ``LogType=Tail`` returns the last 4 KB of the log (``START``/``END``/``REPORT`` lines
included); every log also goes to CloudWatch Logs ``/aws/lambda/<name>``, and each invocation records
``Invocations``, ``Errors`` and ``Duration`` in ``AWS/Lambda`` (dimension ``FunctionName``).
``InvocationType=Event`` runs in the background (no retries); ``DryRun`` runs nothing.

Not as on Lambda: every ``python3.x`` runtime runs on the sandbox's own Python, its site-packages importable;
other runtimes and container images are refused (``InvalidRuntimeException``); ``MemorySize``, layers,
concurrency and payload limits are not enforced; every invocation is a cold start. Event source mappings and the
legacy ``InvokeAsync`` call ``LambdaFunction.invoke`` directly and stay moto's (Docker).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import io
import json
import logging
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.cloudwatch.models import cloudwatch_backends

import sandbox.lambda_runtime
from sandbox.extensions import SandboxContext, Undo, extension

log = logging.getLogger("sandbox.lambda")

RUNTIME = Path(sandbox.lambda_runtime.__file__)
JOIN_SECONDS = 30.0  # how long stop() waits for background (Event) invocations
LOG_TAIL_BYTES = 4096  # LogResult: the last 4 KB of the log, as Lambda returns it


def put_metrics(
    account: str, region: str, namespace: str, dimensions: dict[str, str], values: dict[str, tuple[float, str]]
) -> None:
    """Record datapoints (name -> value, unit) in moto's CloudWatch, as the AWS service itself would."""
    dims = [{"Name": name, "Value": value} for name, value in dimensions.items()]
    data = [{"MetricName": n, "Value": float(v), "Unit": u, "Dimensions": dims} for n, (v, u) in values.items()]
    cloudwatch_backends[account][region].put_metric_data(namespace=namespace, metric_data=data)


def _header(headers: Any, name: str) -> str | None:
    """A request header, whatever the case of its name (the server passes Werkzeug headers, the sandbox dicts)."""
    return next((value for key, value in headers.items() if key.lower() == name), None)


@dataclass(frozen=True)
class Invocation:
    """What one invocation gave: the payload, ``Unhandled`` when it failed, its log and duration."""

    payload: bytes
    function_error: str | None
    log: str
    duration_ms: float


class FunctionRunner:
    """Runs invocations in subprocesses; ``stop`` kills the ones still running."""

    def __init__(self, cache: Path, endpoint_url: str) -> None:
        self._cache = cache
        self._endpoint_url = endpoint_url
        self._lock = threading.Lock()  # guards the code cache and the two collections below
        self._processes: set[subprocess.Popen] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = False

    def invoke(self, fn: LambdaFunction, event: Any) -> Invocation:
        """Run the handler on the event, within the function's Timeout."""
        request_id = str(uuid.uuid4())
        log_stream = f"{datetime.datetime.now(datetime.UTC):%Y/%m/%d}/[{fn.version}]{uuid.uuid4().hex}"
        code = self.code_dir(fn)
        started = time.time()
        argv = [sys.executable, "-I", str(RUNTIME), fn.handler or "", request_id, fn.function_arn]
        argv.append(str((started + float(fn.timeout)) * 1000))
        process = subprocess.Popen(
            argv,
            cwd=code,
            env=self._environment(fn, code, log_stream),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # the whole group is killed on timeout, children included
        )
        with self._lock:
            self._processes.add(process)
            if self._stopping:  # the sandbox stops: what started meanwhile does not outlive it
                _kill(process)
        try:
            out, err, timed_out = _communicate(process, json.dumps(event).encode(), float(fn.timeout))
        finally:
            with self._lock:
                self._processes.discard(process)
        duration_ms = (time.time() - started) * 1000
        payload, function_error, extra_log = _outcome(out, process.returncode, timed_out, fn.timeout, request_id)
        text = err.decode(errors="replace") + extra_log
        return Invocation(payload, function_error, _log(text, request_id, fn, duration_ms), duration_ms)

    def invoke_later(self, fn: LambdaFunction, event: Any, done: Callable[[Invocation], None]) -> None:
        """InvocationType=Event: run in a background thread, then ``done(invocation)``."""
        worker = threading.Thread(
            target=lambda: done(self.invoke(fn, event)), name=f"sandbox-lambda-{fn.function_name}"
        )
        worker.daemon = True
        with self._lock:
            self._threads = [thread for thread in self._threads if thread.is_alive()]
            self._threads.append(worker)
        worker.start()

    def stop(self) -> None:
        """Kill every running invocation and wait for the background ones."""
        with self._lock:
            self._stopping = True
            processes, threads = list(self._processes), list(self._threads)
        for process in processes:
            _kill(process)
        for thread in threads:
            thread.join(JOIN_SECONDS)
            if thread.is_alive():
                log.warning("Lambda invocation %s still runs after %.0f s", thread.name, JOIN_SECONDS)

    def code_dir(self, fn: LambdaFunction) -> Path:
        """The function's code, extracted once per code hash; functions Lambda cannot run here are refused."""
        if not str(fn.run_time or "").startswith("python3."):
            raise LambdaClientError(
                "InvalidRuntimeException",
                f"The sandbox runs Python functions only; {fn.function_name} has runtime {fn.run_time}.",
            )
        if fn.package_type != "Zip" or not getattr(fn, "code_bytes", b""):
            raise LambdaClientError(
                "InvalidParameterValueException", f"The sandbox runs .zip packages only; {fn.function_name} has none."
            )
        target = self._cache / fn.code_digest
        with self._lock:
            if not target.is_dir():
                self._cache.mkdir(parents=True, exist_ok=True)
                staging = Path(tempfile.mkdtemp(prefix=".unzip-", dir=self._cache))
                with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
                    archive.extractall(staging)  # zipfile drops absolute paths and '..' parts
                staging.rename(target)
        return target

    def _environment(self, fn: LambdaFunction, code: Path, log_stream: str) -> dict[str, str]:
        """The function's variables, then those Lambda reserves (which win, as on Lambda)."""
        from sandbox.site import ACCOUNT_CREDENTIALS

        sandbox_defaults = {"AWS_ENDPOINT_URL": self._endpoint_url, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        reserved = {
            "_HANDLER": fn.handler or "",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": fn.logs_group_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "AWS_ACCESS_KEY_ID": ACCOUNT_CREDENTIALS["login"],
            "AWS_SECRET_ACCESS_KEY": ACCOUNT_CREDENTIALS["password"],
            "AWS_SESSION_TOKEN": ACCOUNT_CREDENTIALS["password"],
            "AWS_CONFIG_FILE": os.devnull,  # no profile of this machine leaks into the function
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "LAMBDA_TASK_ROOT": str(code),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
        }
        return {**sandbox_defaults, **(fn.environment_vars or {}), **reserved}


def _communicate(process: subprocess.Popen, stdin: bytes, timeout: float) -> tuple[bytes, bytes, bool]:
    """stdout, stderr and whether the timeout killed the process."""
    try:
        out, err = process.communicate(stdin, timeout=timeout)
        return out, err, False
    except subprocess.TimeoutExpired:
        _kill(process)
        out, err = process.communicate()
        return out, err, True


def _kill(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
        os.killpg(process.pid, signal.SIGKILL)


def _outcome(
    out: bytes, returncode: int, timed_out: bool, timeout: float, request_id: str
) -> tuple[bytes, str | None, str]:
    """Payload, FunctionError and extra log lines, from what the runtime wrote and how its process ended."""
    status, _, payload = out.decode(errors="replace").partition("\n")
    if timed_out:
        stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        message = f"Task timed out after {float(timeout):.2f} seconds"
        error = {"errorType": "Sandbox.Timedout", "errorMessage": f"RequestId: {request_id} Error: {message}"}
        return json.dumps(error).encode(), "Unhandled", f"{stamp} {request_id} {message}\n"
    if status in ("ok", "error"):
        return payload.encode(), None if status == "ok" else "Unhandled", ""
    message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {returncode}"
    error = {"errorType": "Runtime.ExitError", "errorMessage": message}
    return json.dumps(error).encode(), "Unhandled", f"{message}\n"


def _log(text: str, request_id: str, fn: LambdaFunction, duration_ms: float) -> str:
    """The invocation's log between Lambda's START and END/REPORT lines."""
    body = text if not text or text.endswith("\n") else text + "\n"
    report = f"Duration: {duration_ms:.2f} ms\tBilled Duration: {math.ceil(duration_ms)} ms"
    report += f"\tMemory Size: {fn.memory_size} MB"
    return (
        f"START RequestId: {request_id} Version: {fn.version}\n{body}"
        f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\t{report}\n"
    )


def _event(body: Any) -> Any:
    """The request payload as JSON; Lambda refuses one that is not."""
    if not body:
        return {}
    try:
        return json.loads(body)
    except ValueError as error:
        raise LambdaClientError(
            "InvalidRequestContentException", f"Could not parse request body into json: {error}"
        ) from None


def _record(fn: LambdaFunction, invocation: Invocation) -> None:
    """The log to CloudWatch Logs, the invocation to the AWS/Lambda metrics."""
    fn.logs_backend.ensure_log_group(fn.logs_group_name)
    fn.save_logs(invocation.log)
    values = {
        "Invocations": (1, "Count"),
        "Errors": (int(invocation.function_error is not None), "Count"),
        "Duration": (invocation.duration_ms, "Milliseconds"),
    }
    put_metrics(fn.account_id, fn.region, "AWS/Lambda", {"FunctionName": fn.function_name}, values)


def _invoke_member(runner: FunctionRunner) -> Callable[..., bytes]:
    """The replacement of ``LambdaBackend.invoke`` (the server builds the response from what it sets)."""

    def invoke(
        backend: LambdaBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        fn = backend.get_function(function_name, qualifier)
        event = _event(body)
        invocation_type = _header(headers, "x-amz-invocation-type") or "RequestResponse"
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            runner.code_dir(fn)  # a function that cannot run here is refused now, as a bad request
            runner.invoke_later(fn, event, lambda invocation: _record(fn, invocation))
            return b""
        invocation = runner.invoke(fn, event)
        _record(fn, invocation)
        response_headers["x-amz-executed-version"] = str(fn.version)
        tail = invocation.log.encode()[-LOG_TAIL_BYTES:]
        response_headers["x-amz-log-result"] = base64.b64encode(tail).decode()  # dropped unless LogType=Tail
        if invocation.function_error:
            response_headers["x-amz-function-error"] = invocation.function_error
        response_headers["Content-Length"] = str(len(invocation.payload))
        return invocation.payload

    return invoke


@extension("lambda_run")
def lambda_runs_python(context: SandboxContext) -> Undo:
    """Patch moto's Lambda to run Python functions in subprocesses; the undo kills running ones, restores moto."""
    runner = FunctionRunner(context.home / "lambda", context.endpoint_url)
    original = LambdaBackend.__dict__["invoke"]
    LambdaBackend.invoke = _invoke_member(runner)

    def undo() -> None:
        runner.stop()
        LambdaBackend.invoke = original

    return undo
