"""HTTP for the sources: a session with timeouts, pages and streamed downloads, failures classified.

5xx, 429, timeouts, refused or reset connections and bodies cut short raise ``TransientSourceError``;
other 4xx (and anything else that is not 2xx) raise ``SourceError``. Every message names the URL and
what came back. Nothing here retries (the caller retries a whole file transfer) and nothing here checks
zip magic bytes (the caller does that for every source alike; ``describe_body`` helps its message).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
import urllib3.exceptions
from bs4 import BeautifulSoup

from loanlake.freddie_mac.errors import SourceError, TransientSourceError
from loanlake.freddie_mac.sources import SourceFile, by_period, source_file

USER_AGENT = "loanlake/0.1 (Freddie Mac loan-level dataset ingest)"
DEFAULT_CHUNK_SIZE = 1024 * 1024
SNIPPET_CHARS = 200
_HEAD_BYTES = 4096
_TEXT_TYPES = ("application/json", "application/xml", "application/xhtml+xml")
_CUT_SHORT = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ConnectionError,  # requests wraps a read timeout mid-body as a ConnectionError
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.IncompleteRead,
    urllib3.exceptions.ReadTimeoutError,
)


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a connection, and for each read from it."""

    connect: float = 10.0
    read: float = 120.0

    def as_tuple(self) -> tuple[float, float]:
        return (self.connect, self.read)


DEFAULT_TIMEOUTS = Timeouts()


class TimeoutSession(requests.Session):
    """A ``requests.Session`` whose requests use ``timeouts`` unless they pass their own."""

    def __init__(self, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> None:
        super().__init__()
        self.timeouts = timeouts

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeouts.as_tuple())
        return super().request(method, url, *args, **kwargs)


SessionFactory = Callable[[Timeouts], requests.Session]


def new_session(timeouts: Timeouts = DEFAULT_TIMEOUTS, *, user_agent: str = USER_AGENT) -> requests.Session:
    """A session that names loanlake in its User-Agent and never waits without a timeout."""
    session = TimeoutSession(timeouts)
    session.headers["User-Agent"] = user_agent
    return session


def shorten(text: str, limit: int = SNIPPET_CHARS) -> str:
    """``text`` with whitespace collapsed, cut to at most ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def html_to_text(body: bytes | str, limit: int = SNIPPET_CHARS) -> str:
    """The visible text of an HTML (or plain text) body, whitespace collapsed, at most ``limit`` characters."""
    markup = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    return shorten(BeautifulSoup(markup, "html.parser").get_text(" "), limit)


def describe_body(head: bytes, content_type: str | None = None) -> str:
    """What a body is, from its first bytes: its text for HTML or text, else its first bytes in hex."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    markup = head.lstrip()[:1] == b"<"
    label = media_type or ("HTML" if markup else "untyped")
    if not head:
        return f"an empty {label} body"
    if media_type.startswith("text/") or media_type in _TEXT_TYPES or markup:
        return f"{label} body reading {html_to_text(head)!r}"
    return f"{label} body starting with bytes {head[:16].hex(' ')}"


def _body_head(response: requests.Response) -> bytes:
    try:
        return next(response.iter_content(_HEAD_BYTES), b"")
    except (requests.exceptions.RequestException, *_CUT_SHORT):
        return b""


def describe_response(response: requests.Response) -> str:
    """Status, reason and body of a response, for an error message (reads at most a few KB of the body)."""
    body = describe_body(_body_head(response), response.headers.get("Content-Type"))
    return f"HTTP {response.status_code} {response.reason or ''}".rstrip() + f", {body}"


def check_status(response: requests.Response, url: str) -> None:
    """Raise ``TransientSourceError`` on 5xx or 429 and ``SourceError`` on any other status outside 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    message = f"{url}: {describe_response(response)}"
    if status == 429 or status >= 500:
        raise TransientSourceError(message)
    raise SourceError(message)


def send(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
    """``session.request`` with network failures classified; the status is not checked."""
    try:
        return session.request(method, url, **kwargs)
    except requests.exceptions.Timeout as exc:
        raise TransientSourceError(f"{url}: timed out ({type(exc).__name__}): {exc}") from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        raise TransientSourceError(f"{url}: connection failed ({type(exc).__name__}): {exc}") from exc
    except requests.exceptions.RequestException as exc:
        raise SourceError(f"{url}: request failed ({type(exc).__name__}): {exc}") from exc


def fetch_page(session: requests.Session, url: str, *, data: dict[str, str] | None = None) -> requests.Response:
    """GET a page, or POST ``data`` to it, read whole; a status outside 2xx raises as ``check_status`` does."""
    response = send(session, "POST" if data is not None else "GET", url, data=data, stream=True)
    with response:
        check_status(response, url)
        try:
            response.content  # noqa: B018 - read the body now, inside the error handling
        except _CUT_SHORT as exc:
            raise TransientSourceError(f"{url}: page cut short ({type(exc).__name__}): {exc}") from exc
    return response


def _body_chunks(response: requests.Response, url: str, chunk_size: int) -> Iterator[bytes]:
    received = 0
    try:
        for chunk in response.iter_content(chunk_size):
            received += len(chunk)
            yield chunk
    except _CUT_SHORT as exc:
        expected = response.headers.get("Content-Length")
        of_total = f" of {expected}" if expected else ""
        raise TransientSourceError(
            f"{url}: body cut short after {received}{of_total} bytes ({type(exc).__name__}): {exc}"
        ) from exc


@contextmanager
def open_stream(
    session: requests.Session, url: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[Iterator[bytes]]:
    """GET ``url`` as a stream: yields an iterator of byte chunks; the response is closed on exit."""
    response = send(session, "GET", url, stream=True)
    try:
        check_status(response, url)
        yield _body_chunks(response, url, chunk_size)
    finally:
        response.close()


def url_file_name(url: str) -> str:
    """The last path segment of a URL, percent-decoded."""
    return PurePosixPath(unquote(urlsplit(url).path)).name


class UrlSource:
    """Loan-level zips at plain HTTP(S) URLs, e.g. public files or presigned links."""

    def __init__(
        self,
        urls: Sequence[str],
        session_factory: SessionFactory = new_session,
        *,
        connect_timeout: float = DEFAULT_TIMEOUTS.connect,
        read_timeout: float = DEFAULT_TIMEOUTS.read,
    ) -> None:
        self.urls = list(urls)
        self._session_factory = session_factory
        self._timeouts = Timeouts(connect_timeout, read_timeout)
        self._session: requests.Session | None = None

    def __repr__(self) -> str:
        return f"UrlSource({len(self.urls)} URLs)"

    def list_files(self) -> list[SourceFile]:
        """One ``SourceFile`` per URL; a URL whose file name is no loan-level zip raises ``SourceError``."""
        files: dict[str, SourceFile] = {}
        for url in self.urls:
            file = source_file(url_file_name(url), url)
            if file is None:
                raise SourceError(f"{url}: {url_file_name(url)!r} is not a Freddie Mac loan-level zip name")
            if file.name in files and files[file.name].location != url:
                raise SourceError(f"two URLs name the same file {file.name}: {files[file.name].location} and {url}")
            files[file.name] = file
        return by_period(files.values())

    def open(self, file: SourceFile) -> AbstractContextManager[Iterator[bytes]]:
        return open_stream(self._ensure_session(), file.location)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def _ensure_session(self) -> requests.Session:
        if self._session is None:
            self._session = self._session_factory(self._timeouts)
        return self._session
