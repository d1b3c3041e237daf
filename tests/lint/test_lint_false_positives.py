"""The false positives found linting other projects' files (issue 18), each with its fixture."""

from __future__ import annotations

from pathlib import Path

from fireline.lint.runner import lint
from tests.lint.support import FIXTURES

FALSE_POSITIVES = FIXTURES / "false-positives"


def findings(name: str) -> list[tuple[int, str, str]]:
    result = lint([FALSE_POSITIVES / name], promtool=None, amtool=None)
    return [(f.line, f.check, f.severity.value) for f in result.findings]


def test_victorops_routing_key_is_not_a_secret() -> None:
    # Alertmanager has no routing_key_file for VictorOps: the old advice would not even load.
    assert [f for f in findings("victorops-routing-key.yml") if f[1] == "am/inline-secret"] == []


def test_victorops_placeholder_routing_key_is_still_reported(tmp_path: Path) -> None:
    config = tmp_path / "am.yml"
    text = (FALSE_POSITIVES / "victorops-routing-key.yml").read_text()
    config.write_text(text.replace("routing_key: team-payments", "routing_key: YOUR_ROUTING_KEY"))
    found = lint([config], promtool=None, amtool=None).findings
    assert [(f.line, f.check) for f in found if f.check == "am/inline-secret"] == [(8, "am/inline-secret")]


def test_null_source_match_re_is_an_invalid_config_not_the_regex_none() -> None:
    found = findings("null-source-match-re.yml")
    assert not [f for f in found if f[1] == "am/inhibit-self"]
    # Without amtool, fireline's own reading reports what Alertmanager would reject, on its line.
    errors = [f for f in found if f[1] == "am/amtool" and f[2] == "error"]
    assert errors == [(8, "am/amtool", "error")]


def test_a_count_of_tenants_in_memory_is_not_a_resource_metric() -> None:
    cause = [f for f in findings("tenants-in-memory.yml") if f[1] == "rules/cause-based-page"]
    assert cause == [(15, "rules/cause-based-page", "warning")]  # NodeMemoryFull still is, at its severity


def test_sloth_severity_page_is_a_page() -> None:
    found = findings("sloth-page.yml")
    # The page-only checks now see Sloth's page: no runbook on a page is a warning, not info.
    assert (5, "rules/missing-runbook", "warning") in found
