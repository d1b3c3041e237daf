"""Every spec of the public corpus that fireline accepts generates a bundle whose every SLO is tested.

The corpus (../shared/corpus: Sloth's, OpenSLO's and Pyrra's own example specs) is other people's
writing, so it exercises query shapes our own examples do not. For each accepted file the bundle
must pass `fireline check`: promtool check and test, and a behavioural test for every SLO.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from fireline.bundle import BundleContext, generate_bundle
from fireline.check import check_bundle
from fireline.spec.errors import SpecError
from fireline.spec.loader import load_services
from tests.conftest import SHARED

CORPUS = SHARED / "corpus"
FOLDERS = ("sloth", "openslo", "pyrra")


def _spec_files() -> list[Path]:
    if not CORPUS.exists():
        return []
    return sorted(p for folder in FOLDERS for p in (CORPUS / folder).rglob("*")
                  if p.suffix in (".yaml", ".yml") and p.name != "README.md")


def _accepted() -> list[Path]:
    accepted = []
    for path in _spec_files():
        try:
            load_services([path])
        except SpecError:
            continue
        accepted.append(path)
    return accepted


ACCEPTED = _accepted()


def test_corpus_counts_per_folder(capsys: pytest.CaptureFixture[str]) -> None:
    if not CORPUS.exists():
        pytest.skip(f"no corpus at {CORPUS}")
    files = _spec_files()
    total = Counter(p.relative_to(CORPUS).parts[0] for p in files)
    accepted = Counter(p.relative_to(CORPUS).parts[0] for p in ACCEPTED)
    with capsys.disabled():
        for folder in FOLDERS:
            print(f"\ncorpus/{folder}: {accepted[folder]} of {total[folder]} files accepted and bundle-tested")
    assert sum(accepted.values()) > 0


@pytest.mark.promtool
@pytest.mark.parametrize("path", ACCEPTED, ids=lambda p: str(p.relative_to(CORPUS)))
def test_accepted_spec_bundle_passes_check_with_every_slo_tested(tmp_path: Path, path: Path) -> None:
    services = load_services([path])
    generate_bundle(BundleContext(services=services, out=tmp_path))
    results = check_bundle(tmp_path)
    failed = [(r.service, r.step, r.output[-2000:]) for r in results if not r.ok]
    assert failed == []
    behaviour = [r for r in results if r.step == "behaviour"]
    assert len(behaviour) == len(services) and all(r.ok for r in behaviour)
