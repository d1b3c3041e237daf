"""Every bad spec gets one clear error naming file, line, column and field (golden messages)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fireline.spec.errors import SpecError
from fireline.spec.loader import load_services
from tests.conftest import ROOT, assert_golden

BAD = Path(__file__).parent / "bad"
CASES = sorted(BAD.glob("*.yaml"))


def test_there_are_at_least_ten_bad_specs() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_spec_error_message(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # messages name paths relative to the working directory
    with pytest.raises(SpecError) as caught:
        load_services([path.relative_to(ROOT)])
    message = str(caught.value) + "\n"
    assert str(path.relative_to(ROOT)) in message
    assert_golden(path.with_suffix(".err"), message)


def test_all_problems_across_files_are_reported_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    with pytest.raises(SpecError) as caught:
        load_services([(BAD / "bad-duration.yaml").relative_to(ROOT), (BAD / "missing-team.yaml").relative_to(ROOT)])
    assert len(caught.value.problems) == 2


def test_duplicate_service_across_files(tmp_path: Path) -> None:
    spec = (ROOT / "examples" / "checkout.yaml").read_text()
    (tmp_path / "a.yaml").write_text(spec)
    (tmp_path / "b.yaml").write_text(spec)
    with pytest.raises(SpecError, match="service 'checkout' is also defined in"):
        load_services([tmp_path])


def test_missing_file_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"no \.yaml or \.yml spec files found"):
        load_services([tmp_path])
    with pytest.raises(SpecError, match="no such file or directory"):
        load_services([tmp_path / "nope.yaml"])
