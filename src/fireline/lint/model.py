"""What every check shares: severities, findings, the check interface and the linting context."""

from __future__ import annotations

from abc import ABC
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from fireline.slo.durations import Duration

if TYPE_CHECKING:
    from fireline.lint.config import LintConfig
    from fireline.lint.files import AlertmanagerFile, Rule, RuleFile


class Severity(StrEnum):
    ERROR = "error"  # the alerting setup fails: alerts cannot fire, load, or reach anyone
    WARNING = "warning"  # works, but late, noisy, or hard to act on
    INFO = "info"  # worth knowing; never fails a build

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    check: str
    severity: Severity
    message: str  # what is wrong, then how to fix it

    def as_dict(self) -> dict[str, str | int]:
        return {
            "check": self.check,
            "severity": self.severity.value,
            "file": self.file,
            "line": self.line,
            "message": self.message,
        }


@dataclass
class LintContext:
    """Everything a check may look at beyond its own file."""

    slo_period: Duration
    rule_files: list[RuleFile] = field(default_factory=list)
    alertmanager_files: list[AlertmanagerFile] = field(default_factory=list)
    promtool: str | None = None  # path of the binary, None when not installed
    amtool: str | None = None
    config: LintConfig | None = None
    versions: dict[str, str] = field(default_factory=dict)  # tool -> version it printed
    # Work a check started before the checks ran (promtool and amtool run beside Python's checks).
    prepared: dict[tuple[str, int], Future[Any]] = field(default_factory=dict)

    _recorded: dict[str, list[Rule]] | None = field(default=None, init=False, repr=False, compare=False)
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def memo(self, key: str, build: Callable[[], Any]) -> Any:
        """An index over the whole linted set, built once per run by the first check that asks."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def recorded(self) -> dict[str, list[Rule]]:
        """Recording rules of the whole linted set, by the series they record.

        Built once per run: checks ask for it for every rule, and rebuilding it each time made a
        run quadratic in the number of rules.
        """
        if self._recorded is None:
            out: dict[str, list[Rule]] = {}
            for rule_file in self.rule_files:
                for rule in rule_file.rules:
                    if rule.record:
                        out.setdefault(rule.record, []).append(rule)
            self._recorded = out
        return self._recorded


    def result_of(self, check: str, file: object) -> Any:
        """What a check's `prepare` started for a file (waits for it), or None when nothing was."""
        future = self.prepared.get((check, id(file)))
        return None if future is None else future.result()


class Check(ABC):
    """One check: a stable id (documented in docs/checks.md), a default severity and a summary."""

    id: ClassVar[str]
    severity: ClassVar[Severity]
    summary: ClassVar[str]

    def prepare(self, file: Any, ctx: LintContext) -> Callable[[], Any] | None:
        """Slow outside work for a file (a subprocess) to start before any check runs; see result_of."""
        return None

    def finding(self, file: str, line: int, message: str, severity: Severity | None = None) -> Finding:
        return Finding(file=file, line=max(line, 1), check=self.id, severity=severity or self.severity, message=message)


class RuleCheck(Check):
    """A check of Prometheus rule files (plain or inside PrometheusRule manifests)."""

    def check_file(self, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        for rule in file.rules:
            yield from self.check_rule(rule, file, ctx)

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        return iter(())


class AlertmanagerCheck(Check):
    """A check of Alertmanager configuration files."""

    def check_file(self, file: AlertmanagerFile, ctx: LintContext) -> Iterator[Finding]:
        return iter(())
