"""The sandbox Freddie Mac portal: the classic login, terms and download flow on 127.0.0.1.

It serves every zip in a folder, behind the same HTML forms as freddiemac.embs.com, and fails the way
the real site does: wrong credentials or a missing session give an HTML page with status 200. Tests
switch faults on for the next file downloads, from Python (``PortalServer.set_fault``) or over HTTP
(``POST``/``DELETE /_sandbox/faults``, JSON ``{"kind": ..., "times": N, "delay_seconds": S}``).

``bytes_per_second`` paces every zip download to that rate, a stand-in for the internet link between a
worker and the real portal (benchmarks, and tests that need a slow link); ``None`` (the default) sends as
fast as the loopback interface takes the bytes.

``python -m sandbox.portal --files DIR`` runs one in the foreground until Ctrl-C.
"""

from __future__ import annotations

import argparse
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from html import escape
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import BaseWSGIServer, make_server

LOGIN_PATH = "/FLoan/secure/login.php"
AUTH_PATH = "/FLoan/secure/auth.php"
LOGOUT_PATH = "/FLoan/secure/logout.php"
DOWNLOAD_PATH = "/FLoan/Data/download.php"
FAULTS_PATH = "/_sandbox/faults"
SESSION_COOKIE = "PHPSESSID"
TERMS_FIELDS = {"accept": "Yes", "action": "acceptTandC", "acceptSubmit": "Continue"}
FAULT_KINDS = ("http_500", "slow", "truncated", "html_instead_of_zip")
CHUNK_SIZE = 64 * 1024
LINK_SLACK_SECONDS = 0.05  # how far a paced download may catch up after falling behind its link's schedule
DOC_LINKS = (
    ("User guide (PDF)", "https://www.freddiemac.com/fmac-resources/research/pdf/user_guide.pdf"),
    ("File layout (XLSX)", "https://www.freddiemac.com/fmac-resources/research/docs/file_layout.xlsx"),
)


@dataclass
class Fault:
    """A failure served to the next ``remaining`` file downloads."""

    kind: str
    remaining: int = 1
    delay_seconds: float = 0.0


class FaultQueue:
    """Faults waiting for file downloads, used first in, first out. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()

    def add(self, kind: str, times: int = 1, delay_seconds: float = 0.0) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if times < 1 or delay_seconds < 0:
            raise ValueError(f"fault {kind!r}: times must be >= 1 and delay_seconds >= 0")
        with self._lock:
            self._faults.append(Fault(kind, times, delay_seconds))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self) -> Fault | None:
        """The fault for this download, if any, counting one use of it."""
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining == 0:
                self._faults.popleft()
            return Fault(fault.kind, 1, fault.delay_seconds)

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(fault) for fault in self._faults]


class PortalState:
    """What the portal knows: its files, the one account, open sessions and pending faults."""

    def __init__(self, files_dir: Path, username: str, password: str, bytes_per_second: float | None = None) -> None:
        if bytes_per_second is not None and bytes_per_second <= 0:
            raise ValueError(f"bytes_per_second must be > 0 (or None for no limit), not {bytes_per_second!r}")
        self.files_dir = Path(files_dir)
        self.bytes_per_second = bytes_per_second
        self._username = username
        self._password = password
        self._sessions: dict[str, bool] = {}  # session id -> terms accepted
        self._lock = threading.Lock()
        self.faults = FaultQueue()
        self.stopping = threading.Event()

    def credentials_match(self, username: str, password: str) -> bool:
        username_ok = hmac.compare_digest(username.encode(), self._username.encode())
        password_ok = hmac.compare_digest(password.encode(), self._password.encode())
        return username_ok and password_ok

    def open_session(self) -> str:
        session_id = secrets.token_urlsafe(18)
        with self._lock:
            self._sessions[session_id] = False
        return session_id

    def close_session(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def is_logged_in(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._sessions

    def accepted_terms(self, session_id: str) -> bool:
        with self._lock:
            return self._sessions.get(session_id, False)

    def accept_terms(self, session_id: str) -> None:
        with self._lock:
            self._sessions[session_id] = True

    def zips(self) -> list[Path]:
        """The zips on offer: every ``*.zip`` directly in the files folder, by name."""
        return sorted(p for p in self.files_dir.iterdir() if p.is_file() and p.suffix.lower() == ".zip")


def _html(title: str, body: str, status: int = 200) -> Response:
    page = f"<!DOCTYPE html>\n<html><head><title>{escape(title)}</title></head>\n<body>\n{body}\n</body></html>\n"
    return Response(page, status=status, mimetype="text/html")


def login_page() -> Response:
    return _html(
        "Freddie Mac Loan-Level Dataset: Log in",
        '<h1>Log in</h1>\n<form name="loginform" method="post" action="auth.php">\n'
        '<label>Email <input type="text" name="username"></label>\n'
        '<label>Password <input type="password" name="password"></label>\n'
        '<input type="submit" value="Log in">\n</form>',
    )


def terms_page() -> Response:
    return _html(
        "Freddie Mac Loan-Level Dataset: Terms and Conditions",
        "<h1>Terms and Conditions</h1>\n<p>Use of the dataset is subject to these terms.</p>\n"
        '<form name="terms" method="post" action="../Data/download.php">\n'
        '<label><input type="radio" name="accept" value="Yes"> I accept</label>\n'
        '<label><input type="radio" name="accept" value="No"> I do not accept</label>\n'
        '<input type="hidden" name="action" value="acceptTandC">\n'
        '<input type="submit" name="acceptSubmit" value="Continue">\n</form>',
    )


def invalid_login_page() -> Response:
    return _html(
        "Freddie Mac Loan-Level Dataset: Log in",
        '<p class="error">Invalid username/password. Try again.</p>\n<p><a href="login.php">Log in</a></p>',
    )


def please_log_in_page() -> Response:
    return _html(
        "Freddie Mac Loan-Level Dataset",
        f'<p>Your session has expired. Please log in.</p>\n<p><a href="{LOGIN_PATH}">Log in</a></p>',
    )


def download_page(zips: list[Path]) -> Response:
    """The listing: one link per zip (``download.php?f=<stem>``, no extension, as the classic site), then docs."""
    rows = "\n".join(f'<li><a href="download.php?f={escape(z.stem)}">{escape(z.name)}</a></li>' for z in zips)
    docs = "\n".join(f'<li><a href="{url}">{escape(text)}</a></li>' for text, url in DOC_LINKS)
    return _html(
        "Freddie Mac Loan-Level Dataset: Download",
        f"<h1>Single-Family Loan-Level Dataset</h1>\n<ul>\n{rows}\n</ul>\n<h2>Documentation</h2>\n<ul>\n{docs}\n</ul>\n"
        '<p><a href="../secure/logout.php">Log out</a></p>',
    )


def _file_chunks(path: Path, limit: int) -> Iterator[bytes]:
    with path.open("rb") as stream:
        while limit > 0:
            chunk = stream.read(min(CHUNK_SIZE, limit))
            if not chunk:
                return
            limit -= len(chunk)
            yield chunk


def _paced(chunks: Iterator[bytes], bytes_per_second: float, stopping: threading.Event) -> Iterator[bytes]:
    """``chunks``, each released when a link of ``bytes_per_second`` would have delivered its last byte.

    Like a real link, it never sends faster than the rate: time the client spends not reading (its socket
    buffers full) is capacity lost, except for ``LINK_SLACK_SECONDS`` of catching up (a router's queue; it
    also absorbs this thread's oversleeping). A stop of the server ends the body at once.
    """
    due = time.monotonic()
    for chunk in chunks:
        due = max(due, time.monotonic() - LINK_SLACK_SECONDS) + len(chunk) / bytes_per_second
        delay = due - time.monotonic()
        if delay > 0 and stopping.wait(delay):
            return
        yield chunk


def zip_response(
    path: Path,
    *,
    truncated: bool = False,
    bytes_per_second: float | None = None,
    stopping: threading.Event | None = None,
) -> Response:
    """The zip, streamed from disk; ``truncated`` sends the full Content-Length but half the bytes;
    ``bytes_per_second`` paces the body to that rate."""
    size = path.stat().st_size
    headers = {"Content-Length": str(size), "Content-Disposition": f'attachment; filename="{path.name}"'}
    body = _file_chunks(path, size // 2 if truncated else size)
    if bytes_per_second is not None:
        body = _paced(body, bytes_per_second, stopping or threading.Event())
    return Response(body, mimetype="application/zip", headers=headers, direct_passthrough=True)


def faulty_response(fault: Fault, state: PortalState) -> Response | None:
    """The response a fault replaces the download with, or None when the download goes on (after it)."""
    if fault.kind == "http_500":
        return _html("Internal Server Error", "<p>The server could not complete the request. Try again later.</p>", 500)
    if fault.kind == "html_instead_of_zip":
        return please_log_in_page()
    if fault.kind == "slow":
        state.stopping.wait(fault.delay_seconds)
    return None


def create_app(state: PortalState) -> Flask:
    """The portal's Flask app over ``state``."""
    app = Flask(__name__)

    @app.get(LOGIN_PATH)
    def login() -> Response:
        return login_page()

    @app.post(AUTH_PATH)
    def auth() -> Response:
        if not state.credentials_match(request.form.get("username", ""), request.form.get("password", "")):
            return invalid_login_page()
        response = terms_page()
        response.set_cookie(SESSION_COOKIE, state.open_session(), httponly=True, samesite="Lax")
        return response

    @app.get(LOGOUT_PATH)
    def logout() -> Response:
        state.close_session(request.cookies.get(SESSION_COOKIE, ""))
        return please_log_in_page()

    @app.route(DOWNLOAD_PATH, methods=["GET", "POST"])
    def download() -> Response:
        session_id = request.cookies.get(SESSION_COOKIE, "")
        if request.method == "GET" and "f" in request.args:
            return serve_file(session_id, request.args["f"])
        if not state.is_logged_in(session_id):
            return please_log_in_page()
        if request.method == "POST" and all(request.form.get(k) == v for k, v in TERMS_FIELDS.items()):
            state.accept_terms(session_id)
        if not state.accepted_terms(session_id):
            return please_log_in_page()
        return download_page(state.zips())

    def serve_file(session_id: str, requested: str) -> Response:
        fault = state.faults.take()
        replacement = faulty_response(fault, state) if fault else None
        if replacement is not None:
            return replacement
        if not state.accepted_terms(session_id):
            return please_log_in_page()
        name = requested if requested.lower().endswith(".zip") else f"{requested}.zip"
        path = next((z for z in state.zips() if z.name == name), None)
        if path is None:
            return _html("Not Found", f"<p>No file {escape(name)} on this server.</p>", 404)
        return zip_response(
            path,
            truncated=fault is not None and fault.kind == "truncated",
            bytes_per_second=state.bytes_per_second,
            stopping=state.stopping,
        )

    @app.get(FAULTS_PATH)
    def list_faults() -> Response:
        return jsonify(pending=state.faults.pending())

    @app.post(FAULTS_PATH)
    def add_fault() -> Response | tuple[Response, int]:
        spec = request.get_json(silent=True) or {}
        try:
            state.faults.add(str(spec.get("kind")), int(spec.get("times", 1)), float(spec.get("delay_seconds", 0)))
        except (TypeError, ValueError) as exc:
            return jsonify(error=str(exc)), 400
        return jsonify(pending=state.faults.pending())

    @app.delete(FAULTS_PATH)
    def clear_faults() -> Response:
        state.faults.clear()
        return jsonify(pending=[])

    return app


class PortalServer:
    """The portal on a background thread: ``with PortalServer(folder, user, password) as portal: ...``.

    ``bytes_per_second`` paces each zip download to that rate (a modelled internet link); ``None``: no limit.
    """

    def __init__(
        self,
        files_dir: Path,
        username: str,
        password: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        bytes_per_second: float | None = None,
    ) -> None:
        self.state = PortalState(files_dir, username, password, bytes_per_second)
        self.username = username
        self.host = host
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"PortalServer(files_dir={str(self.state.files_dir)!r}, username={self.username!r}, port={self.port})"

    def start(self) -> PortalServer:
        if self._server is not None:
            return self
        self.state.stopping.clear()
        self._server = make_server(self.host, self.port, create_app(self.state), threaded=True)
        self._server.daemon_threads = False  # so that server_close() joins the request threads
        self.port = self._server.port
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sandbox-portal-{self.port}"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake any slowed download and wait for every request thread to end."""
        if self._server is None or self._thread is None:
            return
        self.state.stopping.set()
        self._server.shutdown()
        self._server.server_close()  # joins the request threads
        self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> PortalServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox portal is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def login_url(self) -> str:
        return self.base_url + LOGIN_PATH

    def set_fault(self, kind: str, times: int = 1, delay_seconds: float = 0.0) -> None:
        """Fail the next ``times`` file downloads with ``kind`` (one of ``FAULT_KINDS``)."""
        self.state.faults.add(kind, times, delay_seconds)

    def clear_faults(self) -> None:
        self.state.faults.clear()

    def pending_faults(self) -> list[dict[str, Any]]:
        return self.state.faults.pending()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.portal", description="Run the sandbox portal.")
    parser.add_argument("--files", type=Path, required=True, help="folder whose *.zip files the portal offers")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--username", default="loanlake")
    parser.add_argument("--password", default="sandbox")
    parser.add_argument(
        "--bytes-per-second", type=float, default=None, help="pace each zip download to this rate (default: no limit)"
    )
    args = parser.parse_args(argv)
    if not args.files.is_dir():
        parser.error(f"--files {args.files} is not a folder")
    if args.bytes_per_second is not None and args.bytes_per_second <= 0:
        parser.error("--bytes-per-second must be > 0")
    server = PortalServer(
        args.files, args.username, args.password, host=args.host, port=args.port, bytes_per_second=args.bytes_per_second
    )
    with server as portal:
        limit = f", zips paced to {args.bytes_per_second:,.0f} bytes/s" if args.bytes_per_second else ""
        print(f"sandbox portal at {portal.login_url} serving {args.files}{limit} (Ctrl-C stops it)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping the sandbox portal", flush=True)


if __name__ == "__main__":
    main()
