"""Fixtures: capture server, database per test (SQLite and PostgreSQL), and a server with the on-call extension."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fireline.notify.capture import CaptureServer
from fireline.oncall.api import MIGRATIONS, extension
from fireline.server.db import register_migrations
from tests.oncall.support import oncall_config
from tests.server.fixtures import capture, database_url
from tests.server.harness import Harness

__all__ = ["capture", "database_url", "oncall"]

# Harness.start migrates before it builds the app: the on-call tables must be known by then.
register_migrations(MIGRATIONS)


@pytest.fixture
def oncall(database_url: str, capture: CaptureServer, tmp_path: Path) -> Iterator[Harness]:
    config = oncall_config(tmp_path, capture.url)
    with Harness.start(database_url, capture, tmp_path, config=config, extensions=[extension()]) as h:
        yield h
