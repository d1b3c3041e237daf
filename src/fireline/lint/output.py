"""Findings as text (people), JSON (tools) and GitHub workflow commands (annotations on a PR)."""

from __future__ import annotations

import json

from fireline.lint.model import Finding, Severity

_GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def as_text(findings: list[Finding]) -> str:
    return "".join(f"{f.file}:{f.line}: {f.severity.value} {f.check}: {f.message}\n" for f in findings)


def as_json(findings: list[Finding]) -> str:
    return json.dumps([f.as_dict() for f in findings], indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def as_github(findings: list[Finding]) -> str:
    return "".join(
        f"::{_GITHUB_LEVEL[f.severity]} file={_escape_property(f.file)},line={f.line},"
        f"title={_escape_property(f.check)}::{_escape_data(f.message)}\n"
        for f in findings
    )


FORMATS = {"text": as_text, "json": as_json, "github": as_github}
