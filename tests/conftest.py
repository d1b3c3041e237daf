"""Shared fixtures: paths, the reference folder, and skips for missing external tools."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# ../shared holds reference data (Sloth/Pyrra goldens); CI has it beside the clone.
SHARED = Path(os.environ.get("FIRELINE_SHARED", ROOT.parent / "shared"))
UPDATE_GOLDEN = os.environ.get("FIRELINE_UPDATE_GOLDEN") == "1"

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("promtool") and shutil.which("promtool") is None:
            item.add_marker(pytest.mark.skip(reason="promtool not installed (make install adds it)"))


def assert_golden(path: Path, actual: str) -> None:
    """Compare with a golden file; FIRELINE_UPDATE_GOLDEN=1 rewrites it instead."""
    if UPDATE_GOLDEN or not path.exists():
        if not UPDATE_GOLDEN:
            pytest.fail(f"golden file {path} is missing: run with FIRELINE_UPDATE_GOLDEN=1 to create it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"output differs from {path}; rerun with FIRELINE_UPDATE_GOLDEN=1 if intended"
