"""Revisions of the `ui` branch."""
