"""Fixtures for the stack tests: the example bundle, generated once per session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

CAPTURE = "http://127.0.0.1:19097"
FIRELINE = str(Path(sys.executable).parent / "fireline")


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "out"
    subprocess.run([FIRELINE, "generate", str(EXAMPLES), "-c", str(EXAMPLES / "fireline.yaml"), "-o", str(out)],
                   check=True, capture_output=True)
    return out
