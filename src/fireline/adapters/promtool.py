"""Running promtool: `check rules` and `test rules`, with the output kept for the report."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "install Debian's prometheus package (apt-get install prometheus), or run `make install`"


class ToolMissing(Exception):
    """The external binary is not on PATH."""


@dataclass(frozen=True)
class ToolRun:
    command: list[str]
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def promtool_path() -> str:
    path = shutil.which("promtool")
    if path is None:
        raise ToolMissing(f"promtool not found on PATH: {INSTALL_HINT}")
    return path


def _run(args: list[str], cwd: Path | None = None, timeout: float = 600, binary: str | None = None) -> ToolRun:
    command = [binary or promtool_path(), *args]
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return ToolRun(command, 124, f"promtool timed out after {timeout:.0f}s")
    return ToolRun(command, done.returncode, (done.stdout + done.stderr).strip())


def check_rules(files: list[Path], binary: str | None = None) -> ToolRun:
    """`promtool check rules`; binary overrides the promtool found on PATH (lint takes one)."""
    return _run(["check", "rules", *[str(f) for f in files]], binary=binary)


def test_rules(files: list[Path]) -> ToolRun:
    # Test files name their rule files relative to themselves; run from their folder.
    if not files:
        return ToolRun([], 0, "")
    return _run(["test", "rules", *[f.name for f in files]], cwd=files[0].parent)


def version() -> str:
    run = _run(["--version"])
    return run.output.splitlines()[0] if run.output else "unknown"
