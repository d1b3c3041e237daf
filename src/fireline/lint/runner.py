"""Run the checks over files: load, build the shared context, collect and sort findings."""

from __future__ import annotations

import shutil
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from fireline.lint.files import load
from fireline.lint.model import Finding, LintContext
from fireline.lint.registry import ALERTMANAGER_CHECKS, RULE_CHECKS
from fireline.slo.durations import Duration

DEFAULT_SLO_PERIOD = Duration.parse("30d")


@dataclass
class LintResult:
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)  # named files that were not lintable

    @property
    def has_errors(self) -> bool:
        return any(f.severity.value == "error" for f in self.findings)


def lint(
    paths: list[Path],
    slo_period: Duration = DEFAULT_SLO_PERIOD,
    disabled: Collection[str] = (),
    promtool: str | None = "",
    amtool: str | None = "",
) -> LintResult:
    """Lint files and directories. promtool/amtool: "" finds them on PATH, None skips them."""
    rule_files, am_files, notes = load(paths)
    ctx = LintContext(
        slo_period=slo_period,
        rule_files=rule_files,
        alertmanager_files=am_files,
        promtool=shutil.which("promtool") if promtool == "" else promtool,
        amtool=shutil.which("amtool") if amtool == "" else amtool,
    )
    findings: list[Finding] = []
    for rule_file in rule_files:
        for rule_check in RULE_CHECKS:
            if rule_check.id not in disabled:
                findings.extend(rule_check.check_file(rule_file, ctx))
    for am_file in am_files:
        for am_check in ALERTMANAGER_CHECKS:
            if am_check.id not in disabled:
                findings.extend(am_check.check_file(am_file, ctx))
    return LintResult(sorted(set(findings)), notes)
