"""The sandbox portal, driven with plain requests: the classic flow, the silent failures and the faults."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import urllib3
from bs4 import BeautifulSoup
from portal_testdata import LOAN_ZIPS, OTHER_ZIP, PASSWORD, USER

from sandbox.portal import DOWNLOAD_PATH, FAULTS_PATH, TERMS_FIELDS, PortalServer

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("no_thread_left_behind")


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def log_in(http: requests.Session, portal: PortalServer) -> requests.Response:
    """Log in and accept the terms; the download page."""
    terms = http.post(portal.base_url + "/FLoan/secure/auth.php", data={"username": USER, "password": PASSWORD})
    assert "Terms and Conditions" in terms.text
    return http.post(portal.base_url + DOWNLOAD_PATH, data=TERMS_FIELDS)


def file_url(portal: PortalServer, name: str) -> str:
    return f"{portal.base_url}{DOWNLOAD_PATH}?f={name.removesuffix('.zip')}"


def test_login_page_has_a_form_posting_credentials_to_auth(portal: PortalServer, http: requests.Session) -> None:
    page = http.get(portal.login_url)

    form = BeautifulSoup(page.text, "html.parser").find("form")
    assert page.status_code == 200
    assert form["action"] == "auth.php"
    assert {i["name"] for i in form.find_all("input") if i.get("name")} == {"username", "password"}


def test_wrong_password_answers_200_with_invalid_username_password(
    portal: PortalServer, http: requests.Session
) -> None:
    page = http.post(portal.base_url + "/FLoan/secure/auth.php", data={"username": USER, "password": "wrong"})

    assert page.status_code == 200
    assert "Invalid username/password" in page.text
    assert not http.cookies


def test_login_then_terms_then_download_page_lists_every_zip(portal: PortalServer, http: requests.Session) -> None:
    terms = http.post(portal.base_url + "/FLoan/secure/auth.php", data={"username": USER, "password": PASSWORD})
    form = BeautifulSoup(terms.text, "html.parser").find("form")
    page = http.post(portal.base_url + DOWNLOAD_PATH, data=TERMS_FIELDS)

    assert form["action"] == "../Data/download.php"
    assert {i["name"] for i in form.find_all("input")} == set(TERMS_FIELDS)
    links = [a["href"] for a in BeautifulSoup(page.text, "html.parser").find_all("a", href=True)]
    listed = {href.split("f=")[1].split("&")[0] for href in links if href.startswith("download.php?f=")}
    assert listed == {name.removesuffix(".zip") for name in (*LOAN_ZIPS, OTHER_ZIP)}
    assert any(href.endswith(".pdf") for href in links)
    assert any(href.endswith(".xlsx") for href in links)
    assert any("logout" in href for href in links)


@pytest.mark.parametrize("with_extension", [False, True])
def test_download_streams_the_exact_bytes(
    portal: PortalServer, http: requests.Session, files_dir: Path, with_extension: bool
) -> None:
    log_in(http, portal)
    name = "historical_data1_Q42015.zip"
    url = file_url(portal, name) + (".zip" if with_extension else "")

    response = http.get(url)

    expected = (files_dir / name).read_bytes()
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Length"] == str(len(expected))
    assert response.content == expected


def test_unknown_file_is_404(portal: PortalServer, http: requests.Session) -> None:
    log_in(http, portal)

    assert http.get(file_url(portal, "historical_data_1999Q1.zip")).status_code == 404


def test_without_a_session_everything_says_please_log_in(portal: PortalServer, http: requests.Session) -> None:
    listing = http.post(portal.base_url + DOWNLOAD_PATH, data=TERMS_FIELDS)
    download = http.get(file_url(portal, "sample_2016.zip"))

    for response in (listing, download):
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/html")
        assert "Please log in" in response.text


def test_without_accepting_the_terms_downloads_say_please_log_in(portal: PortalServer, http: requests.Session) -> None:
    http.post(portal.base_url + "/FLoan/secure/auth.php", data={"username": USER, "password": PASSWORD})

    declined = http.post(portal.base_url + DOWNLOAD_PATH, data={**TERMS_FIELDS, "accept": "No"})
    download = http.get(file_url(portal, "sample_2016.zip"))

    assert "Please log in" in declined.text
    assert download.status_code == 200
    assert "Please log in" in download.text


def test_logout_ends_the_session(portal: PortalServer, http: requests.Session) -> None:
    log_in(http, portal)
    http.get(portal.base_url + "/FLoan/secure/logout.php")

    assert "Please log in" in http.get(file_url(portal, "sample_2016.zip")).text


def _is_zip(http: requests.Session, url: str) -> bool:
    try:
        response = http.get(url, timeout=5)
    except requests.exceptions.ChunkedEncodingError:
        return False
    return response.status_code == 200 and response.content.startswith(b"PK\x03\x04")


@pytest.mark.parametrize("kind", ["http_500", "truncated", "html_instead_of_zip", "slow"])
def test_each_fault_hits_exactly_the_next_n_downloads(portal: PortalServer, http: requests.Session, kind: str) -> None:
    log_in(http, portal)
    url = file_url(portal, "historical_data_2016Q1.zip")
    portal.set_fault(kind, times=2, delay_seconds=0.3)

    started = time.monotonic()
    outcomes = [_is_zip(http, url) for _ in range(3)]

    if kind == "slow":
        assert outcomes == [True, True, True]
        assert time.monotonic() - started >= 0.6
    else:
        assert outcomes == [False, False, True]
    assert portal.pending_faults() == []


def test_faulty_responses_look_like_the_real_failures(
    portal: PortalServer, http: requests.Session, files_dir: Path
) -> None:
    log_in(http, portal)
    url = file_url(portal, "sample_2016.zip")
    size = (files_dir / "sample_2016.zip").stat().st_size
    portal.set_fault("http_500")
    portal.set_fault("html_instead_of_zip")
    portal.set_fault("truncated")

    assert http.get(url).status_code == 500
    html = http.get(url)
    assert (html.status_code, html.headers["Content-Type"].split(";")[0]) == (200, "text/html")
    assert "Please log in" in html.text
    with http.get(url, stream=True) as truncated:
        assert truncated.headers["Content-Length"] == str(size)
        assert len(truncated.raw.read(size // 2)) == size // 2
        with pytest.raises(urllib3.exceptions.ProtocolError, match="IncompleteRead"):
            truncated.raw.read(1)


def test_clear_faults_drops_pending_faults(portal: PortalServer, http: requests.Session) -> None:
    log_in(http, portal)
    portal.set_fault("http_500", times=5)

    portal.clear_faults()

    assert _is_zip(http, file_url(portal, "sample_2016.zip"))


def test_fault_control_endpoint_drives_the_faults(portal: PortalServer, http: requests.Session) -> None:
    log_in(http, portal)
    url = file_url(portal, "sample_2016.zip")
    faults_url = portal.base_url + FAULTS_PATH

    added = requests.post(faults_url, json={"kind": "http_500", "times": 2}, timeout=5)
    assert added.json()["pending"] == [{"kind": "http_500", "remaining": 2, "delay_seconds": 0.0}]
    assert http.get(url).status_code == 500
    assert requests.get(faults_url, timeout=5).json()["pending"][0]["remaining"] == 1
    assert requests.delete(faults_url, timeout=5).json() == {"pending": []}
    assert _is_zip(http, url)
    rejected = requests.post(faults_url, json={"kind": "meteor"}, timeout=5)
    assert rejected.status_code == 400
    assert "meteor" in rejected.json()["error"]


def test_set_fault_rejects_unknown_kinds_and_bad_counts(portal: PortalServer) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        portal.set_fault("meteor")
    with pytest.raises(ValueError, match="times"):
        portal.set_fault("http_500", times=0)


def test_stop_wakes_a_slowed_download_and_joins_every_thread(files_dir: Path) -> None:
    portal = PortalServer(files_dir, USER, PASSWORD).start()
    with requests.Session() as http:
        log_in(http, portal)
        portal.set_fault("slow", delay_seconds=60)
        with pytest.raises(requests.exceptions.ReadTimeout):
            http.get(file_url(portal, "sample_2016.zip"), timeout=(5, 0.2))

    started = time.monotonic()
    portal.stop()

    assert time.monotonic() - started < 5
    with pytest.raises(RuntimeError, match="not started"):
        _ = portal.base_url


def test_repr_leaves_the_password_out(portal: PortalServer) -> None:
    assert PASSWORD not in repr(portal)


def test_command_line_serves_until_interrupted(files_dir: Path) -> None:
    command = [sys.executable, "-m", "sandbox.portal", "--files", str(files_dir), "--port", "0"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)])}
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = process.stdout.readline()
        login_url = banner.split(" at ")[1].split()[0]
        assert requests.get(login_url, timeout=5).status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_bytes_per_second_paces_a_download_to_the_link_rate(files_dir: Path) -> None:
    name = "historical_data1_Q42015.zip"
    expected = (files_dir / name).read_bytes()
    rate = len(expected) / 0.5  # the whole zip in half a second
    with PortalServer(files_dir, USER, PASSWORD, bytes_per_second=rate) as portal, requests.Session() as http:
        log_in(http, portal)
        started = time.monotonic()
        response = http.get(file_url(portal, name))
        seconds = time.monotonic() - started

    assert response.status_code == 200
    assert response.content == expected
    assert 0.5 <= seconds < 5


def test_stop_ends_a_paced_download_at_once(files_dir: Path) -> None:
    name = "sample_2016.zip"
    rate = (files_dir / name).stat().st_size / 60  # a minute for the zip
    portal = PortalServer(files_dir, USER, PASSWORD, bytes_per_second=rate).start()
    with requests.Session() as http:
        log_in(http, portal)
        with pytest.raises(requests.exceptions.ReadTimeout):
            http.get(file_url(portal, name), timeout=(5, 0.2))

    started = time.monotonic()
    portal.stop()

    assert time.monotonic() - started < 5


def test_bytes_per_second_must_be_positive(files_dir: Path) -> None:
    with pytest.raises(ValueError, match="bytes_per_second"):
        PortalServer(files_dir, USER, PASSWORD, bytes_per_second=0)
