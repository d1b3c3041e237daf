"""Fixtures shared by tests/server, tests/incidents and tests/notify (re-exported by their conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fireline.notify.capture import CaptureServer
from tests.server.harness import Harness
from tests.server.support import database


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    with CaptureServer() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def harness(database_url: str, capture: CaptureServer, tmp_path: Path) -> Iterator[Harness]:
    with Harness.start(database_url, capture, tmp_path) as h:
        yield h
