"""`fireline check OUT`: promtool check and test on a generated bundle."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from fireline.adapters import promtool
from fireline.rules.plan import group_name
from fireline.targets.layout import Target, TargetFileError, bundle_rule_files, plain_groups_by_service
from fireline.yamlout import dump_yaml


@dataclass(frozen=True)
class CheckResult:
    service: str
    step: str  # "check rules", "test rules" or "behaviour" (every SLO has behavioural tests)
    ok: bool
    output: str
    detail: str = ""  # e.g. "stand-in SLI" for the tests of stand-in rules


class BundleError(Exception):
    """The folder is not a fireline bundle."""


def _extract_groups(out: Path, dest: Path) -> list[Path]:
    """Plain rule files promtool can read, from a bundle of any other target (manifests, namespace files)."""
    found = {t: paths for t, paths in bundle_rule_files(out).items() if t is not Target.PROMETHEUS}
    if len(found) > 1:
        raise BundleError(f"{out}: rule files of several targets ({', '.join(sorted(found))}): "
                          "generate each target into its own folder")
    target, paths = next(iter(found.items()))
    try:
        by_service = plain_groups_by_service(target, paths)
    except TargetFileError as exc:
        raise BundleError(str(exc)) from None
    files = []
    for service in sorted(by_service):
        target_file = dest / f"{service}.rules.yml"
        target_file.write_text(dump_yaml({"groups": by_service[service]}), encoding="utf-8")
        files.append(target_file)
    return files


def check_bundle(out: Path) -> list[CheckResult]:
    prom = out / "prometheus"
    rule_files = sorted(prom.glob("*.rules.yml"))
    if not bundle_rule_files(out):
        raise BundleError(f"{out}: no rule files (prometheus/*.rules.yml, or another target's); "
                          "run `fireline generate` first")
    results: list[CheckResult] = []
    with tempfile.TemporaryDirectory(prefix="fireline-check-") as tmp:
        work = Path(tmp)
        if not rule_files:
            # promtool knows no manifests or ruler namespaces: lay out plain rule files with the tests beside them.
            (work / "tests").mkdir()
            rule_files = _extract_groups(out, work)
            # the tests, and the stand-in rule files some of them name
            for test in sorted((prom / "tests").glob("*.yml")):
                shutil.copy(test, work / "tests" / test.name)
            tests_dir = work / "tests"
        else:
            tests_dir = prom / "tests"
        for rules in rule_files:
            service = rules.name.removesuffix(".rules.yml")
            run = promtool.check_rules([rules])
            results.append(CheckResult(service, "check rules", run.ok, run.output))
            test = tests_dir / f"{service}.test.yml"
            standin = tests_dir / f"{service}.standin.test.yml"
            if test.exists():
                run = promtool.test_rules([test])
                results.append(CheckResult(service, "test rules", run.ok, run.output))
            else:
                results.append(CheckResult(service, "test rules", False, f"missing {test}"))
            if standin.exists():
                run = promtool.test_rules([standin])
                results.append(CheckResult(service, "test rules", run.ok, run.output, "stand-in SLI"))
            results.append(_coverage(service, rules, [t for t in (test, standin) if t.exists()]))
    return results


def _load(path: Path) -> dict[str, Any]:
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (YAMLError, OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: cannot be read as YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BundleError(f"{path}: expected a mapping at the top, got {type(data).__name__}")
    return data


def _slos_of(rules: Path, service: str) -> list[str]:
    """SLOs whose burn-rate group fireline generated in this rule file (hand-written groups are not SLOs)."""
    prefix = group_name(service, "")
    names = [g.get("name", "") for g in _load(rules).get("groups") or [] if isinstance(g, dict)]
    # SLO names have no ':' (spec.models.NAME_RE), so the budget group is the only other fireline group.
    return [n[len(prefix):] for n in names
            if isinstance(n, str) and n.startswith(prefix) and ":" not in n[len(prefix):]]


def _tested_slos(tests: list[Path]) -> set[str]:
    """SLO names that at least one generated test is about (test names read "service/slo: what")."""
    found: set[str] = set()
    for path in tests:
        for test in _load(path).get("tests") or []:
            name = test.get("name", "") if isinstance(test, dict) else ""
            if isinstance(name, str) and "/" in name and ": " in name:
                found.add(name.split(": ", 1)[0].split("/", 1)[1])
    return found


def _coverage(service: str, rules: Path, tests: list[Path]) -> CheckResult:
    """Every SLO needs behavioural tests: promtool passes a test file with none, which proves nothing."""
    slos = _slos_of(rules, service)
    missing = sorted(set(slos) - _tested_slos(tests))
    if missing:
        return CheckResult(service, "behaviour", False,
                           "no behavioural test for SLO " + ", ".join(f"{service}/{m}" for m in missing)
                           + ": promtool would pass without testing it; regenerate the bundle with "
                           "`fireline generate` (it writes tests for every SLO)")
    return CheckResult(service, "behaviour", True, f"{len(slos)} SLO(s), each with behavioural tests")
