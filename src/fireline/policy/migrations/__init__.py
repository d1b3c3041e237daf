"""Alembic migrations of the policy engine (branch label `policy`)."""
