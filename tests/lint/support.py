"""Helpers shared by the lint tests: fixture folders and `# expect: ID` markers."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")
TOOL_CHECKS = {"rules/promtool": PROMTOOL, "am/amtool": AMTOOL}

_EXPECT_RE = re.compile(r"#\s*expect:\s*(.+?)\s*$")


def expected_findings(path: Path) -> set[tuple[int, str]]:
    """(line, check id) pairs marked in a fixture with a trailing `# expect: id, id` comment."""
    out: set[tuple[int, str]] = set()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        found = _EXPECT_RE.search(line)
        if found:
            out.update((number, check.strip()) for check in found.group(1).split(","))
    return out


def needs_tool(check_id: str) -> pytest.MarkDecorator:
    tool = check_id.split("/")[1]
    return pytest.mark.skipif(TOOL_CHECKS.get(check_id) is None, reason=f"{tool} is not installed")
