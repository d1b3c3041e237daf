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


def _outcomes() -> tuple[list[Path], list[Path], dict[Path, SpecError]]:
    """Files with SLOs, files accepted that hold none (OpenSLO Service, SLI, ... documents), refusals."""
    with_slos, without, refused = [], [], {}
    for path in _spec_files():
        try:
            services = load_services([path])
        except SpecError as exc:
            refused[path] = exc
            continue
        (with_slos if services else without).append(path)
    return with_slos, without, refused


ACCEPTED, ACCEPTED_WITHOUT_SLOS, REFUSED = _outcomes()


def test_corpus_counts_per_folder(capsys: pytest.CaptureFixture[str]) -> None:
    if not CORPUS.exists():
        pytest.skip(f"no corpus at {CORPUS}")
    files = _spec_files()
    total = Counter(p.relative_to(CORPUS).parts[0] for p in files)
    accepted = Counter(p.relative_to(CORPUS).parts[0] for p in ACCEPTED)
    no_slos = Counter(p.relative_to(CORPUS).parts[0] for p in ACCEPTED_WITHOUT_SLOS)
    with capsys.disabled():
        for folder in FOLDERS:
            print(f"\ncorpus/{folder}: {accepted[folder] + no_slos[folder]} of {total[folder]} files accepted, "
                  f"{accepted[folder]} with SLOs bundle-tested, {no_slos[folder]} without SLOs")
    assert sum(accepted.values()) > 0


def test_every_refused_corpus_file_gets_a_located_message() -> None:
    """A refusal names the file, and the line when the file parsed: never a traceback, never 1:1 by default."""
    if not CORPUS.exists():
        pytest.skip(f"no corpus at {CORPUS}")
    for path, exc in REFUSED.items():
        assert exc.problems, path
        for problem in exc.problems:
            assert problem.message and "Traceback" not in problem.message, (path, problem)
            assert problem.file.endswith(path.name) or problem.line == 0, (path, problem)


# Files the issue names, with what must be said about them.
REFUSALS = {
    "openslo/readme/datasource-cloudwatch.yaml": ("7:9", "data source type 'CloudWatch' is not Prometheus-compatible"),
    "openslo/readme/slo-inline-sli-datadog.yaml": ("24:19", "data source type 'Datadog'"),
    "openslo/go-sdk/pkg/openslo/v1alpha/examples/slos.yaml": ("17:20", "calendar windows (isRolling: false)"),
    "openslo/oslo/test/inputs/validate/v1.yaml": ("37:22", "budgetingMethod Timeslices is not supported yet"),
    "pyrra/examples/pyrra-connect-errors.yaml": ("20:11", "grouping by 'service' is not supported"),
}


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_named_refusals_say_why_at_the_right_line(name: str) -> None:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"no corpus file {path}")
    where, message = REFUSALS[name]
    assert path in REFUSED
    text = str(REFUSED[path])
    assert f":{where}:" in text and message in text, text


def test_openslo_object_only_files_are_accepted() -> None:
    """A file of Service, SLI or alerting documents is an ordinary part of an OpenSLO bundle."""
    if not CORPUS.exists():
        pytest.skip(f"no corpus at {CORPUS}")
    names = {str(p.relative_to(CORPUS)) for p in ACCEPTED_WITHOUT_SLOS}
    assert {"openslo/oslo/internal/files/testdata/format/list-of-services.yaml",
            "openslo/oslo/internal/files/testdata/format/two-documents.yaml",
            "openslo/readme/alertpolicy-inline-condition.yaml",
            "openslo/go-sdk/pkg/openslo/v1/examples/alert_conditions.yaml"} <= names


def _first_copies(paths: list[Path]) -> tuple[list[Path], dict[Path, Path]]:
    """The files with distinct content, and each byte-identical copy with the file it copies.

    The corpus holds the same example in several places (Pyrra's manifests for Kubernetes, its webhook
    and OpenShift; Sloth's testdata next to its examples): the same bytes give the same bundle, so
    promtool runs once per content and each copy is checked to generate exactly the same rules.
    """
    seen: dict[bytes, Path] = {}
    copies: dict[Path, Path] = {}
    for path in paths:
        first = seen.setdefault(path.read_bytes(), path)
        if first != path:
            copies[path] = first
    return [p for p in paths if p not in copies], copies


DISTINCT, COPIES = _first_copies(ACCEPTED)


def test_copies_in_the_corpus_generate_the_same_rules_as_their_original() -> None:
    if not CORPUS.exists():
        pytest.skip(f"no corpus at {CORPUS}")
    from fireline.rules.generate import rule_groups

    for copy, original in COPIES.items():
        assert ([rule_groups(s.spec) for s in load_services([copy])]
                == [rule_groups(s.spec) for s in load_services([original])]), copy
    assert len(DISTINCT) + len(COPIES) == len(ACCEPTED)


@pytest.mark.promtool
@pytest.mark.parametrize("path", DISTINCT, ids=lambda p: str(p.relative_to(CORPUS)))
def test_accepted_spec_bundle_passes_check_with_every_slo_tested(tmp_path: Path, path: Path) -> None:
    services = load_services([path])
    generate_bundle(BundleContext(services=services, out=tmp_path))
    results = check_bundle(tmp_path)
    failed = [(r.service, r.step, r.output[-2000:]) for r in results if not r.ok]
    assert failed == []
    behaviour = [r for r in results if r.step == "behaviour"]
    assert len(behaviour) == len(services) and all(r.ok for r in behaviour)
