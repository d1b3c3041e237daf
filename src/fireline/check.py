"""`fireline check OUT`: promtool check and test on a generated bundle."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

from fireline.adapters import promtool
from fireline.yamlout import dump_yaml


@dataclass(frozen=True)
class CheckResult:
    service: str
    step: str  # "check rules" or "test rules"
    ok: bool
    output: str


class BundleError(Exception):
    """The folder is not a fireline bundle."""


def _extract_manifest(manifest: Path, dest: Path) -> Path:
    """A PrometheusRule's spec.groups as a plain rule file promtool can read."""
    data = YAML(typ="safe").load(manifest.read_text(encoding="utf-8"))
    groups = (data or {}).get("spec", {}).get("groups")
    if not isinstance(groups, list):
        raise BundleError(f"{manifest}: not a PrometheusRule manifest with spec.groups")
    name = manifest.name.removesuffix(".prometheusrule.yml")
    target = dest / f"{name}.rules.yml"
    target.write_text(dump_yaml({"groups": groups}), encoding="utf-8")
    return target


def check_bundle(out: Path) -> list[CheckResult]:
    prom = out / "prometheus"
    rule_files = sorted(prom.glob("*.rules.yml"))
    manifests = sorted(prom.glob("*.prometheusrule.yml"))
    if not rule_files and not manifests:
        raise BundleError(f"{out}: no prometheus/*.rules.yml or *.prometheusrule.yml; run `fireline generate` first")
    results: list[CheckResult] = []
    with tempfile.TemporaryDirectory(prefix="fireline-check-") as tmp:
        work = Path(tmp)
        if manifests:
            # promtool knows no manifests: lay out plain rule files with the tests beside them.
            (work / "tests").mkdir()
            rule_files = [_extract_manifest(m, work) for m in manifests]
            for test in sorted((prom / "tests").glob("*.test.yml")):
                shutil.copy(test, work / "tests" / test.name)
            tests_dir = work / "tests"
        else:
            tests_dir = prom / "tests"
        for rules in rule_files:
            service = rules.name.removesuffix(".rules.yml")
            run = promtool.check_rules([rules])
            results.append(CheckResult(service, "check rules", run.ok, run.output))
            test = tests_dir / f"{service}.test.yml"
            if test.exists():
                run = promtool.test_rules([test])
                results.append(CheckResult(service, "test rules", run.ok, run.output))
            else:
                results.append(CheckResult(service, "test rules", False, f"missing {test}"))
    return results
