"""Findings as text (people), JSON (tools), GitHub workflow commands and SARIF (code scanning)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fireline.lint.model import Check, Finding, Severity

_GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
DOCS_URL = "https://github.com/fireline/fireline/blob/main/docs/checks.md"


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


def _anchor(check_id: str) -> str:
    # GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes (`rules/x` -> rulesx).
    return "".join(c for c in check_id.lower() if c.isalnum() or c in "-_")


def _uri(file: str) -> str:
    path = Path(file)
    return path.as_posix() if not path.is_absolute() else path.as_uri()


def _result(finding: Finding, suppressed: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.check,
        "level": _SARIF_LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(finding.file)},
                    "region": {"startLine": finding.line},
                }
            }
        ],
    }
    if suppressed:
        result["suppressions"] = [{"kind": "inSource", "justification": "# fireline disable or .fireline-lint.yaml"}]
    return result


def as_sarif(
    findings: list[Finding],
    checks: Sequence[Check] = (),
    suppressed: Sequence[Finding] = (),
    version: str = "0.1.0",
    tools: dict[str, str] | None = None,
) -> str:
    """SARIF 2.1.0 for GitHub code scanning (github/codeql-action/upload-sarif); one run, one rule per check."""
    used = {f.check for f in [*findings, *suppressed]}
    rules = [
        {
            "id": check.id,
            "name": check.id,
            "shortDescription": {"text": check.summary},
            "helpUri": f"{DOCS_URL}#{_anchor(check.id)}",
            "defaultConfiguration": {"level": _SARIF_LEVEL[check.severity]},
        }
        for check in checks
        if check.id in used
    ]
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "fireline lint", "version": version, "informationUri": DOCS_URL, "rules": rules}},
        "results": [_result(f, False) for f in findings] + [_result(f, True) for f in suppressed],
    }
    if tools:
        run["properties"] = {"tools": dict(sorted(tools.items()))}
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"


FORMATS = ("text", "json", "github", "sarif")
WRITERS = {"text": as_text, "json": as_json, "github": as_github}
