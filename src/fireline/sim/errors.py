"""Errors in what the user asked the simulator to do; the CLI prints them on one line, exit code 2."""

from __future__ import annotations


class SimInputError(ValueError):
    """A bad scenario, policy file, CSV row, duration or option, worded for the person who wrote it."""
