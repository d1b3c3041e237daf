"""Revisions of the `policy` branch."""
