"""Sloth's AlertWindows (custom window pairs per SLO period) applied to the Sloth SLOs given with them."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from fireline.slo.durations import Duration
from fireline.slo.tiers import Severity
from fireline.spec.errors import SpecError
from fireline.spec.loader import load_services
from tests.conftest import EXAMPLES, SHARED

WINDOWS = SHARED / "corpus" / "sloth" / "examples" / "windows"
SLOTH = EXAMPLES / "sloth-myservice.yaml"


def _tiers(folder: Path) -> list[tuple[str, str, Decimal, Severity]]:
    slo = load_services([folder])[0].spec.spec.slos[0]
    return [(str(t.long_window), str(t.short_window), t.budget_percent, t.severity) for t in slo.tiers()]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    if not WINDOWS.exists():
        pytest.skip(f"no corpus at {WINDOWS}")
    shutil.copy(SLOTH, tmp_path / "sloth.yaml")
    return tmp_path


def test_custom_30d_windows_replace_the_defaults(folder: Path) -> None:
    shutil.copy(WINDOWS / "custom-30d.yaml", folder)
    slo = load_services([folder])[0].spec.spec.slos[0]
    assert slo.window == Duration.parse("30d")
    assert _tiers(folder) == [
        ("30m", "2m", Decimal(1), Severity.PAGE), ("3h", "15m", Decimal(2), Severity.PAGE),
        ("12h", "1h", Decimal(5), Severity.TICKET), ("1d12h", "3h", Decimal(5), Severity.TICKET)]
    # Sloth's own numbers: 1% of a 30d budget over 30m is a burn rate of 14.4; 5% over 36h, 1.
    rates = [t.burn_rate_threshold(slo.window) for t in slo.tiers()]
    assert rates == [Decimal("14.4"), Decimal("4.8"), Decimal("3"), Decimal("1")]


def test_a_lone_7d_file_sets_the_period(folder: Path) -> None:
    shutil.copy(WINDOWS / "7d.yaml", folder)
    slo = load_services([folder])[0].spec.spec.slos[0]
    assert slo.window == Duration.parse("7d")
    assert [t.budget_percent for t in slo.tiers()] == [Decimal(8), Decimal("12.5"), Decimal(20), Decimal(42)]
    assert [t.burn_rate_threshold(slo.window) for t in slo.tiers()] == [
        Decimal("13.44"), Decimal("3.5"), Decimal("1.4"), Decimal("0.98")]


def test_the_30d_file_wins_over_others_and_alone_a_windows_file_holds_no_slo(folder: Path) -> None:
    shutil.copy(WINDOWS / "7d.yaml", folder)
    shutil.copy(WINDOWS / "custom-30d.yaml", folder)
    assert load_services([folder])[0].spec.spec.slos[0].window == Duration.parse("30d")
    assert load_services([WINDOWS / "7d.yaml"]) == []


def test_ambiguous_repeated_and_bad_windows_are_refused(folder: Path) -> None:
    seven = (WINDOWS / "7d.yaml").read_text(encoding="utf-8")
    (folder / "a.yaml").write_text(seven, encoding="utf-8")
    (folder / "b.yaml").write_text(seven, encoding="utf-8")
    with pytest.raises(SpecError, match=r"AlertWindows for sloPeriod 7d are also given in .*a.yaml:1"):
        load_services([folder])
    (folder / "b.yaml").write_text(seven.replace("sloPeriod: 7d", "sloPeriod: 28d"), encoding="utf-8")
    with pytest.raises(SpecError, match="AlertWindows for 28d, 7d and none for Sloth's default period 30d"):
        load_services([folder])
    (folder / "b.yaml").unlink()
    (folder / "a.yaml").write_text(seven.replace("shortWindow: 5m", "shortWindow: 2h", 1), encoding="utf-8")
    with pytest.raises(SpecError) as refused:
        load_services([folder])
    text = str(refused.value)
    assert "a.yaml:" in text and "spec.page.quick" in text and "must be shorter than longWindow" in text
