"""Alembic version folder of the web UI (branch `ui`)."""
