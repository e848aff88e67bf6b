"""PortalSource against a real sandbox portal, UrlSource against a plain HTTP server, and the HTTP helpers."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from portal_testdata import LOAN_ZIPS, PASSWORD, USER

from loanlake.freddie_mac.download import Timeouts, UrlSource, describe_body, new_session, open_stream
from loanlake.freddie_mac.errors import SourceError, SourceLoginError, TransientSourceError
from loanlake.freddie_mac.layouts import ZIP_MAGIC
from loanlake.freddie_mac.portal import PortalSource, _linked_file
from loanlake.freddie_mac.sources import SourceFile
from sandbox.portal import PortalServer

pytestmark = pytest.mark.usefixtures("no_thread_left_behind")


@pytest.fixture
def source(portal: PortalServer) -> Iterator[PortalSource]:
    portal_source = PortalSource(portal.login_url, USER, PASSWORD, connect_timeout=5, read_timeout=5)
    yield portal_source
    portal_source.close()


class _StaticHandler(SimpleHTTPRequestHandler):
    """Files from a folder; ``/status/<code>`` answers that status; the last User-Agent is kept."""

    user_agents: list[str] = []

    def do_GET(self) -> None:
        self.user_agents.append(self.headers.get("User-Agent", ""))
        if self.path.startswith("/status/"):
            status = int(self.path.rsplit("/", 1)[1])
            body = b"<html><body><h1>Slow   down</h1>\n<p>try later</p></body></html>"
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def static_base(files_dir: Path) -> Iterator[str]:
    """A plain HTTP server over ``files_dir``; its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_StaticHandler, directory=str(files_dir)))
    server.daemon_threads = False
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def read_all(source: PortalSource | UrlSource, file: SourceFile) -> bytes:
    with source.open(file) as chunks:
        return b"".join(chunks)


def first_file(source: PortalSource, name: str = "historical_data_2016Q1.zip") -> SourceFile:
    return next(f for f in source.list_files() if f.name == name)


# -- PortalSource ------------------------------------------------------------------------------------


def test_list_files_finds_exactly_the_loan_zips_in_period_order(source: PortalSource, portal: PortalServer) -> None:
    files = source.list_files()

    assert [(f.name, f.dataset, f.period) for f in files] == [
        ("historical_data1_Q42015.zip", "quarterly", "2015Q4"),
        ("sample_2016.zip", "sample", "2016"),
        ("historical_data_2016Q1.zip", "quarterly", "2016Q1"),
    ]
    assert all(f.location.startswith(portal.base_url + "/FLoan/Data/download.php?f=") for f in files)
    assert all(f.size is None for f in files)


@pytest.mark.parametrize(
    ("href", "name"),
    [
        ("https://portal/FLoan/Data/download.php?f=historical_data1_Q12000&s=213575455", "historical_data1_Q12000.zip"),
        ("https://portal/FLoan/Data/download.php?f=historical_data_2017Q1.zip", "historical_data_2017Q1.zip"),
        ("https://files.example.com/freddie/sample_2019.zip", "sample_2019.zip"),
        ("https://portal/FLoan/Data/download.php?f=historical_data1_1999", None),
        ("https://portal/FLoan/secure/logout.php", None),
        ("https://www.freddiemac.com/fmac-resources/research/pdf/user_guide.pdf", None),
    ],
)
def test_download_links_are_read_from_f_or_the_path(href: str, name: str | None) -> None:
    file = _linked_file(href)

    assert (file.name if file else None) == name
    assert file is None or file.location == href


def test_open_streams_identical_bytes(source: PortalSource, files_dir: Path) -> None:
    for file in source.list_files():
        assert read_all(source, file) == (files_dir / file.name).read_bytes()


def test_open_logs_in_lazily(portal: PortalServer, files_dir: Path) -> None:
    listed = PortalSource(portal.login_url, USER, PASSWORD).list_files()[0]
    fresh = PortalSource(portal.login_url, USER, PASSWORD)
    try:
        assert read_all(fresh, listed) == (files_dir / listed.name).read_bytes()
    finally:
        fresh.close()


def test_login_logs_short_lines(source: PortalSource, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="loanlake.freddie_mac"):
        source.list_files()

    messages = [r.getMessage() for r in caplog.records if r.name == "loanlake.freddie_mac"]
    assert any(f"as {USER}" in m for m in messages)
    assert any(m.startswith("3 files listed") for m in messages)
    assert all(PASSWORD not in m for m in messages)


def test_wrong_password_raises_a_login_error_without_the_password(
    portal: PortalServer, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "not-the-Pa55word"
    source = PortalSource(portal.login_url, USER, wrong)

    with caplog.at_level(logging.DEBUG), pytest.raises(SourceLoginError) as refused:
        source.list_files()

    message = str(refused.value)
    assert portal.base_url + "/FLoan/secure/auth.php" in message
    assert "Invalid username/password" in message
    assert wrong not in message
    assert wrong not in caplog.text
    assert wrong not in repr(source)
    assert PASSWORD not in repr(PortalSource(portal.login_url, USER, PASSWORD))


def test_a_page_without_a_login_form_is_a_login_error(portal: PortalServer) -> None:
    source = PortalSource(portal.base_url + "/FLoan/Data/download.php", USER, PASSWORD)

    with pytest.raises(SourceLoginError, match="no login form"):
        source.list_files()


def test_password_echoed_by_a_page_is_masked(source: PortalSource) -> None:
    with pytest.raises(SourceError) as raised, source._password_redacted():
        raise SourceError(f"http://portal/auth.php: HTTP 403 with a body reading 'bad password {PASSWORD}'")

    assert PASSWORD not in str(raised.value)
    assert "***" in str(raised.value)


def test_http_500_is_transient_and_names_the_url(source: PortalSource, portal: PortalServer) -> None:
    file = first_file(source)
    portal.set_fault("http_500")

    with pytest.raises(TransientSourceError) as raised:
        read_all(source, file)

    assert file.location in str(raised.value)
    assert "HTTP 500" in str(raised.value)
    assert read_all(source, file).startswith(ZIP_MAGIC)


def test_truncated_body_is_transient(source: PortalSource, portal: PortalServer) -> None:
    file = first_file(source)
    portal.set_fault("truncated")

    with pytest.raises(TransientSourceError, match="cut short") as raised:
        read_all(source, file)

    assert file.location in str(raised.value)


def test_slow_portal_with_a_short_read_timeout_is_transient(portal: PortalServer) -> None:
    source = PortalSource(portal.login_url, USER, PASSWORD, read_timeout=0.3)
    file = first_file(source)
    portal.set_fault("slow", delay_seconds=30)

    with pytest.raises(TransientSourceError, match="timed out"):
        read_all(source, file)
    source.close()


def test_an_expired_session_logs_in_again_once(source: PortalSource, portal: PortalServer, files_dir: Path) -> None:
    file = first_file(source)
    portal.set_fault("html_instead_of_zip", times=1)

    assert read_all(source, file) == (files_dir / file.name).read_bytes()
    assert portal.pending_faults() == []


def test_html_instead_of_zip_twice_passes_through_for_the_caller_to_detect(
    source: PortalSource, portal: PortalServer
) -> None:
    file = first_file(source)
    portal.set_fault("html_instead_of_zip", times=2)

    body = read_all(source, file)

    assert body.lstrip().startswith(b"<")
    assert not body.startswith(ZIP_MAGIC)
    assert "Please log in" in describe_body(body[:300], "text/html")


def test_missing_file_is_a_permanent_source_error(source: PortalSource) -> None:
    file = first_file(source)
    gone = replace(file, name="historical_data_1999Q1.zip", location=file.location.replace("2016Q1", "1999Q1"))

    with pytest.raises(SourceError, match="HTTP 404") as raised:
        read_all(source, gone)

    assert gone.location in str(raised.value)


def test_portal_down_is_transient(files_dir: Path) -> None:
    with PortalServer(files_dir, USER, PASSWORD) as stopped:
        login_url = stopped.login_url

    with pytest.raises(TransientSourceError, match="connection failed"):
        PortalSource(login_url, USER, PASSWORD, connect_timeout=2).list_files()


# -- UrlSource and the HTTP helpers ------------------------------------------------------------------


def test_url_source_lists_files_from_url_names(static_base: str) -> None:
    urls = [f"{static_base}/{name}" for name in LOAN_ZIPS]

    files = UrlSource(urls).list_files()

    assert [(f.name, f.dataset, f.period, f.size) for f in files] == [
        ("historical_data1_Q42015.zip", "quarterly", "2015Q4", None),
        ("sample_2016.zip", "sample", "2016", None),
        ("historical_data_2016Q1.zip", "quarterly", "2016Q1", None),
    ]
    assert {f.location for f in files} == set(urls)


def test_url_source_rejects_a_url_that_names_no_loan_zip(static_base: str) -> None:
    url = f"{static_base}/user_guide.pdf"

    with pytest.raises(SourceError, match="not a Freddie Mac loan-level zip") as raised:
        UrlSource([f"{static_base}/sample_2016.zip", url]).list_files()

    assert url in str(raised.value)


def test_url_source_rejects_two_urls_for_one_file(static_base: str) -> None:
    with pytest.raises(SourceError, match=r"same file sample_2016\.zip"):
        UrlSource([f"{static_base}/a/sample_2016.zip", f"{static_base}/b/sample_2016.zip"]).list_files()


def test_url_source_streams_identical_bytes_with_its_user_agent(static_base: str, files_dir: Path) -> None:
    source = UrlSource([f"{static_base}/sample_2016.zip"], connect_timeout=2, read_timeout=2)
    [file] = source.list_files()

    assert read_all(source, file) == (files_dir / "sample_2016.zip").read_bytes()
    assert _StaticHandler.user_agents[-1].startswith("loanlake/")
    source.close()


def test_url_source_missing_file_is_a_source_error(static_base: str) -> None:
    source = UrlSource([f"{static_base}/historical_data_1999Q1.zip"])
    [file] = source.list_files()

    with pytest.raises(SourceError, match="HTTP 404"):
        read_all(source, file)
    source.close()


@pytest.mark.parametrize(
    ("status", "error"),
    [(429, TransientSourceError), (503, TransientSourceError), (403, SourceError), (410, SourceError)],
)
def test_status_codes_are_classified(static_base: str, status: int, error: type[Exception]) -> None:
    url = f"{static_base}/status/{status}"

    with new_session() as session, pytest.raises(error) as raised, open_stream(session, url):
        pass

    assert type(raised.value) is error
    assert f"{url}: HTTP {status}" in str(raised.value)
    assert "text/html body reading 'Slow down try later'" in str(raised.value)


def test_new_session_sets_timeouts_and_user_agent() -> None:
    with new_session(Timeouts(connect=1.5, read=7)) as session:
        assert session.timeouts == Timeouts(1.5, 7)
        assert session.headers["User-Agent"].startswith("loanlake/")


def test_describe_body_reads_html_and_shows_binary_as_hex() -> None:
    html = b"<html>\n<body><p>The site is   down\nfor maintenance.</p></body></html>" + b" " * 1000 + b"x" * 500

    assert describe_body(html, "text/html; charset=utf-8").startswith(
        "text/html body reading 'The site is down for maintenance. x"
    )
    assert len(describe_body(html)) < 300
    assert describe_body(b"\x1f\x8b\x08\x00rest", "application/gzip") == (
        "application/gzip body starting with bytes 1f 8b 08 00 72 65 73 74"
    )
    assert describe_body(b"") == "an empty untyped body"
