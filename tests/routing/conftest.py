"""Golden-file comparison for generated routing output; FIRELINE_UPDATE_GOLDEN=1 rewrites the files."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    def check(name: str, actual: str) -> None:
        path = GOLDEN_DIR / name
        if os.environ.get("FIRELINE_UPDATE_GOLDEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
        assert path.exists(), f"{path} is missing: run the tests with FIRELINE_UPDATE_GOLDEN=1 and review it"
        assert actual == path.read_text(encoding="utf-8"), (
            f"{path} differs from the generated output: if the change is intended, rerun with "
            "FIRELINE_UPDATE_GOLDEN=1 and review the diff"
        )

    return check
