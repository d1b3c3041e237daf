"""Acceptance (issue 18): lint all of ../shared/corpus/lint, other projects' public files.

No crash, and the findings summed by check id and severity match corpus-expected.yml, which was
reviewed by hand (its comments say what each count is). A change in a count is either a fixed
false positive or a new one: update the file only after looking at the findings behind it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from fireline.lint.files import FileKind
from fireline.lint.runner import lint
from tests.conftest import SHARED
from tests.lint.support import AMTOOL, PROMTOOL

CORPUS = SHARED / "corpus" / "lint"
EXPECTED = Path(__file__).parent / "corpus-expected.yml"

pytestmark = [
    pytest.mark.promtool,
    pytest.mark.slow,
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"{CORPUS} is not here (private test data)"),
    pytest.mark.skipif(PROMTOOL is None or AMTOOL is None, reason="the expectation was taken with promtool and amtool"),
]


def summary(findings: list[tuple[str, str]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (check, severity), count in sorted(Counter(findings).items()):
        out.setdefault(check, {})[severity] = count
    return out


@pytest.fixture(scope="module")
def corpus_result():  # type: ignore[no-untyped-def]
    return lint([CORPUS], promtool=PROMTOOL, amtool=AMTOOL)


def test_the_summary_by_check_matches_the_reviewed_expectation(corpus_result) -> None:  # type: ignore[no-untyped-def]
    found = summary([(f.check, f.severity.value) for f in corpus_result.findings])
    expected = yaml.safe_load(EXPECTED.read_text())["findings"]
    assert found == expected


def test_every_rule_file_and_alertmanager_config_is_recognised() -> None:
    from fireline.lint.files import load

    rule_files, am_files, notes = load([CORPUS])
    kinds = Counter(f.kind for f in rule_files)
    expected = yaml.safe_load(EXPECTED.read_text())["files"]
    assert {"rules": kinds[FileKind.RULES], "prometheusrule": kinds[FileKind.PROMETHEUS_RULE],
            "alertmanager": len(am_files)} == expected
    assert notes == []


def test_the_false_positives_named_in_the_issue_are_gone(corpus_result) -> None:  # type: ignore[no-untyped-def]
    messages = [(f.check, f.file, f.message) for f in corpus_result.findings]
    assert not [m for m in messages if m[0] == "am/inline-secret" and "victorops" in m[1]
                and m[2].startswith("routing_key")]
    assert not [m for m in messages if m[0] == "am/inhibit-self" and "nil-source_match_re" in m[1]]
    assert not [m for m in messages if m[0] == "rules/cause-based-page" and "cortex_ingester_memory_users" in m[2]]
    assert not [m for m in messages if "None" in m[2] and m[0] == "am/inhibit-self"]
