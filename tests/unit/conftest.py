"""Fixtures of the unit tests: a portal on a free port, and a guard against threads left running."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from portal_testdata import PASSWORD, USER, write_portal_files

from sandbox.portal import PortalServer


@pytest.fixture
def no_thread_left_behind() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not left, f"threads left behind: {left}"


@pytest.fixture
def files_dir(tmp_path: Path) -> Path:
    return write_portal_files(tmp_path / "portal")


@pytest.fixture
def portal(files_dir: Path) -> Iterator[PortalServer]:
    with PortalServer(files_dir, USER, PASSWORD) as server:
        yield server
