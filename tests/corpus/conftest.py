"""The bad-input corpus: its count in the terminal summary, and the servers and engine its cases run against.

Every test that takes a ``case`` parameter is one corpus case. At the end of the session the summary prints
``bad-input corpus: N cases, N passed`` (and known failures or failures, when there are any), then the cases
per area, through the terminal reporter, so that it shows without ``-s``.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

_CASES: dict[str, str] = {}  # node id -> area, of every corpus case collected
_OUTCOMES: dict[str, str] = {}  # node id -> passed | xfailed | failed | skipped


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("case") if callspec else None
        if case is not None and hasattr(case, "area"):
            _CASES[item.nodeid] = case.area


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.nodeid not in _CASES:
        return
    if hasattr(report, "wasxfail"):  # a known failure; one that passed under strict=True is reported failed
        _OUTCOMES[report.nodeid] = "xfailed" if report.skipped else "xpassed"
    elif report.failed:
        _OUTCOMES[report.nodeid] = "failed"
    elif report.skipped:
        _OUTCOMES.setdefault(report.nodeid, "skipped")
    elif report.when == "call":
        _OUTCOMES[report.nodeid] = "passed"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    if not _CASES:
        return
    counts = Counter(_OUTCOMES.get(nodeid, "not run") for nodeid in _CASES)
    line = f"bad-input corpus: {len(_CASES)} cases, {counts['passed']} passed"
    extras = {
        "xfailed": "known failure(s) (xfail)",
        "xpassed": "xpassed",
        "failed": "failed",
        "skipped": "skipped",
        "not run": "not run",
    }
    line += "".join(f", {counts[key]} {label}" for key, label in extras.items() if counts[key])
    terminalreporter.write_sep("-", "bad-input corpus")
    terminalreporter.write_line(line)
    per_area = Counter(_CASES.values())
    terminalreporter.write_line("  by area: " + ", ".join(f"{area} {n}" for area, n in per_area.items()))


# -- fixtures ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def hive_engine(sandbox) -> Iterator[object]:
    """The process's one Hive engine (Spark SQL), shared with tests/integration; stopped at the end if still up."""
    from sandbox.extensions.emr import hive_home
    from sandbox.hive import HiveEngine

    engine = HiveEngine.shared(hive_home(sandbox.context))
    try:
        yield engine
    finally:
        if HiveEngine.running() is engine:
            engine.stop()


Page = tuple[int, str, bytes]  # status, content type, body


class _PageHandler(BaseHTTPRequestHandler):
    """Fixed pages by path, for GET and POST alike (the form is read and ignored)."""

    def __init__(self, *args: object, pages: dict[str, Page], **kwargs: object) -> None:
        self.pages = pages
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        status, content_type, body = self.pages.get(self.path.split("?")[0], (404, "text/html", b"<p>Not found</p>"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def page_site() -> Iterator[Callable[[dict[str, Page]], str]]:
    """Start a site serving fixed pages (path -> page); returns its base URL. Stopped, threads joined, after."""
    started: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start(pages: dict[str, Page]) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_PageHandler, pages=pages))
        server.daemon_threads = False
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        started.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def sandbox_portal(tmp_path: Path) -> Iterator[Callable[[dict[str, bytes], str, str], object]]:
    """Start the sandbox Freddie Mac portal over the given zips (name -> bytes); stopped after the test."""
    from sandbox.portal import PortalServer

    started: list[PortalServer] = []

    def start(zips: dict[str, bytes], username: str, password: str) -> PortalServer:
        folder = tmp_path / f"portal-{len(started)}"
        folder.mkdir()
        for name, data in zips.items():
            (folder / name).write_bytes(data)
        started.append(PortalServer(folder, username, password).start())
        return started[-1]

    yield start
    for portal in started:
        portal.stop()
