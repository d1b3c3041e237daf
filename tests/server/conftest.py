"""Shared fixtures: capture server, database per test (SQLite and PostgreSQL), in-process server."""

from tests.server.fixtures import capture, database_url, harness

__all__ = ["capture", "database_url", "harness"]
