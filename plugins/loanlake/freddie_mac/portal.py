"""The Freddie Mac download portal's classic flow: log in, accept the terms, read the download page.

The portal answers a refused login or a lost session with an HTML page and status 200, so every page
is checked for the failure markers. The password is sent once, in the login form, and never appears in
a message, a log line or a repr.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from bs4 import BeautifulSoup, Tag

from loanlake.freddie_mac.download import (
    Timeouts,
    fetch_page,
    new_session,
    open_stream,
    shorten,
    url_file_name,
)
from loanlake.freddie_mac.errors import SourceError, SourceLoginError, TransientSourceError
from loanlake.freddie_mac.sources import SourceFile, by_period, source_file

log = logging.getLogger("loanlake.freddie_mac")

TERMS_FIELDS = {"accept": "Yes", "action": "acceptTandC", "acceptSubmit": "Continue"}
INVALID_LOGIN_MARKER = "invalid username/password"
LOGGED_OUT_MARKER = "please log in"


@dataclass(frozen=True)
class _Page:
    """An HTML page and the URL it finally came from (after redirects)."""

    url: str
    soup: BeautifulSoup

    @classmethod
    def of(cls, response: requests.Response) -> _Page:
        return cls(response.url, BeautifulSoup(response.text, "html.parser"))

    @property
    def text(self) -> str:
        return " ".join(self.soup.get_text(" ").split())

    def form_with(self, field: str) -> Tag | None:
        """The first form with an input named ``field``."""
        for form in self.soup.find_all("form"):
            if form.find("input", attrs={"name": field}):
                return form
        return None

    def submission(self, form: Tag, fields: dict[str, str]) -> tuple[str, dict[str, str]]:
        """Where ``form`` posts (resolved against this page) and its hidden inputs overlaid with ``fields``."""
        action = urljoin(self.url, str(form.get("action") or ""))
        hidden = {
            str(i["name"]): str(i.get("value", "")) for i in form.find_all("input", type="hidden") if i.get("name")
        }
        return action, hidden | fields


def _is_logged_out_page(head: bytes) -> bool:
    """Whether a download's first bytes are the portal's "Please log in" page instead of a file."""
    return head.lstrip()[:1] == b"<" and LOGGED_OUT_MARKER in head[:4096].decode("utf-8", errors="replace").lower()


def _linked_name(url: str) -> str:
    """The file name a download link names: its ``f`` parameter (``.zip`` added when it has no extension) or the
    last segment of its path."""
    query = parse_qs(urlsplit(url).query)
    name = query["f"][0] if query.get("f") else url_file_name(url)
    if "." not in name:
        name += ".zip"  # the classic portal's f parameter leaves out the extension
    return name


def _linked_file(url: str) -> SourceFile | None:
    """The loan-level zip a download link points to: ``download.php?f=<name>`` or a path ending in the name.

    The size stays unknown: the classic links carry an ``s`` parameter whose meaning is not documented.
    """
    return source_file(_linked_name(url), url)


@dataclass(frozen=True)
class _Login:
    """A logged-in session and the download page it reached."""

    session: requests.Session
    download_page: _Page


class PortalSource:
    """Loan-level zips behind the portal's login and terms pages (``freddiemac.embs.com`` or the sandbox)."""

    def __init__(
        self, login_url: str, username: str, password: str, *, connect_timeout: float = 10, read_timeout: float = 120
    ) -> None:
        self.login_url = login_url
        self.username = username
        self._password = password
        self._timeouts = Timeouts(connect_timeout, read_timeout)
        self._login: _Login | None = None

    def __repr__(self) -> str:
        return f"PortalSource(login_url={self.login_url!r}, username={self.username!r})"

    def login(self) -> None:
        """Log in, accept the terms and keep the download page; raises ``SourceLoginError`` when refused."""
        session = new_session(self._timeouts)
        try:
            with self._password_redacted():
                download_page = self._walk_to_download_page(session)
        except BaseException:
            session.close()
            raise
        self.close()
        self._login = _Login(session, download_page)
        log.info("logged in to %s as %s", self.login_url, self.username)

    def list_files(self) -> list[SourceFile]:
        """Every loan-level zip linked from the download page, both naming schemes, once each, by period."""
        page = self._logged_in().download_page
        links = [urljoin(page.url, str(a["href"])) for a in page.soup.find_all("a", href=True)]
        files: dict[str, SourceFile] = {}
        unknown_zips: list[str] = []
        for link in links:
            file = _linked_file(link)
            if file is not None:
                files.setdefault(file.name, file)
            elif (name := _linked_name(link)).lower().endswith(".zip") and len(name) > len(".zip"):
                unknown_zips.append(name)
        if unknown_zips:
            log.warning(
                "%s links %d zip(s) whose name matches no Freddie Mac naming scheme, ignored: %s",
                page.url,
                len(unknown_zips),
                ", ".join(sorted(set(unknown_zips))[:20]),
            )
        if not files:
            raise SourceError(
                f"{page.url}: the download page links no Freddie Mac loan-level zip ({len(links)} other link(s); "
                f"the page may have changed): {shorten(page.text)!r}"
            )
        log.info("%d files listed at %s (%d other links ignored)", len(files), page.url, len(links) - len(files))
        return by_period(files.values())

    @contextmanager
    def open(self, file: SourceFile) -> Iterator[Iterator[bytes]]:
        """The file streamed through the logged-in session (logs in first if needed).

        A download answered with the "Please log in" page means the session expired: log in again
        once and retry. A second such answer is passed on, for the caller to report as no zip.
        """
        for attempt in (1, 2):
            log.info("downloading %s from %s", file.name, file.location)
            with open_stream(self._logged_in().session, file.location) as chunks:
                first = next(chunks, b"")
                if attempt == 1 and _is_logged_out_page(first):
                    log.warning("the portal session expired before %s: logging in again", file.name)
                    self.close()
                    continue
                yield itertools.chain([first], chunks)
                return

    def close(self) -> None:
        """Drop the session; the next call logs in again."""
        if self._login is not None:
            self._login.session.close()
        self._login = None

    def _logged_in(self) -> _Login:
        if self._login is None:
            self.login()
        assert self._login is not None
        return self._login

    def _walk_to_download_page(self, session: requests.Session) -> _Page:
        login_page = _Page.of(fetch_page(session, self.login_url))
        auth_url, credentials = self._login_form(login_page)
        terms_page = _Page.of(fetch_page(session, auth_url, data=credentials))
        self._check_not_refused(terms_page, auth_url)
        terms_url, acceptance = self._terms_form(terms_page, auth_url)
        download_page = _Page.of(fetch_page(session, terms_url, data=acceptance))
        self._check_not_refused(download_page, terms_url)
        return download_page

    def _login_form(self, page: _Page) -> tuple[str, dict[str, str]]:
        form = page.form_with("password")
        if form is None:
            raise SourceLoginError(f"{page.url}: no login form with a password field ({shorten(page.text)!r})")
        return page.submission(form, {"username": self.username, "password": self._password})

    def _terms_form(self, page: _Page, auth_url: str) -> tuple[str, dict[str, str]]:
        form = page.form_with("accept")
        if form is None:
            raise SourceLoginError(
                f"{auth_url}: login as {self.username!r} led to no terms form ({shorten(page.text)!r})"
            )
        return page.submission(form, TERMS_FIELDS)

    def _check_not_refused(self, page: _Page, posted_to: str) -> None:
        text = page.text.lower()
        if INVALID_LOGIN_MARKER in text:
            raise SourceLoginError(f"{posted_to}: the portal refused user {self.username!r}: Invalid username/password")
        if LOGGED_OUT_MARKER in text:
            raise SourceLoginError(
                f"{posted_to}: the portal answered 'Please log in' for user {self.username!r} "
                f"(session or terms acceptance not kept)"
            )

    @contextmanager
    def _password_redacted(self) -> Iterator[None]:
        """Re-raise source errors with the password masked, should a page have echoed it."""
        try:
            yield
        except (SourceError, TransientSourceError) as exc:
            if not self._password or self._password not in str(exc):
                raise
            raise type(exc)(str(exc).replace(self._password, "***")) from None
