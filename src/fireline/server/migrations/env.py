"""Alembic environment for fireline serve: runs on the connection `fireline.server.db.migrate` passes in."""

from __future__ import annotations

from alembic import context

import fireline.server.tables  # noqa: F401  (registers every table of fireline serve on Base.metadata)
from fireline.server.db import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
