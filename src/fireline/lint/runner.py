"""Run the checks over files: load, build the shared context, collect, filter and sort findings.

Work outside Python (promtool, amtool, their --version) starts first in a small thread pool and
runs while the Python checks do; a run costs about the longer of the two. Only the checks of the
kinds of file read are imported (fireline.lint.registry).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from bisect import bisect_right
from collections import Counter
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fireline.lint import registry
from fireline.lint.config import LintConfig
from fireline.lint.files import AlertmanagerFile, RuleFile, UsageError, load
from fireline.lint.model import Check, Finding, LintContext, Severity
from fireline.lint.registry import CHECK_IDS
from fireline.lint.suppress import Suppressions, suppressions
from fireline.slo.durations import Duration

if TYPE_CHECKING:
    from fireline.lint.changed import ChangedLines

DEFAULT_SLO_PERIOD = Duration.parse("30d")
_VERSION_RE = re.compile(r"version (\S+)")
# Two cores is the common CI runner; more parallel promtools only queue for them.
TOOL_WORKERS = 2


@dataclass
class LintResult:
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)  # named files that were not lintable
    suppressed: Counter[str] = field(default_factory=Counter)  # by check id: comments and config
    unchanged: int = 0  # findings left out by --changed-from
    versions: dict[str, str] = field(default_factory=dict)  # promtool/amtool versions used
    suppressed_findings: list[Finding] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(f.severity.value == "error" for f in self.findings)

    def by_check(self) -> dict[str, int]:
        return dict(sorted(Counter(f.check for f in self.findings).items()))

    def summary(self) -> str:
        levels = Counter(f.severity.value for f in self.findings)
        named = {"error": "errors", "warning": "warnings", "info": "info"}  # plurals
        counts = [(levels[s.value], s.value if levels[s.value] == 1 else named[s.value]) for s in Severity]
        text = ", ".join(f"{count} {name}" for count, name in counts if count) or "no findings"
        if self.suppressed:
            text += f"; {sum(self.suppressed.values())} suppressed (" + ", ".join(
                f"{check} {count}" for check, count in sorted(self.suppressed.items())
            ) + ")"
        if self.unchanged:
            text += f"; {self.unchanged} on unchanged lines not shown"
        return text


def tool_version(binary: str) -> str:
    """The version a promtool/amtool binary reports (`promtool, version 2.42.0+ds (...)` -> 2.42.0+ds)."""
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    found = _VERSION_RE.search(done.stdout + done.stderr)
    return found.group(1) if found else "unknown"


def _which(given: str | None, name: str) -> str | None:
    return shutil.which(name) if given == "" else given


def lint(
    paths: list[Path],
    slo_period: Duration | None = None,
    disabled: Collection[str] = (),
    promtool: str | None = "",
    amtool: str | None = "",
    config: LintConfig | None = None,
    changed: ChangedLines | None = None,
    prometheus: str | None = None,
) -> LintResult:
    """Lint files and directories. promtool/amtool: "" finds them on PATH, None skips them.

    prometheus: a Prometheus base URL for the live checks (fireline.lint.live), None for none.
    """
    config = config or LintConfig()
    off = set(disabled) | config.disabled
    rule_files, am_files, notes = load(paths or config.paths, skip=config.excluded if config.exclude else None)
    ctx = LintContext(
        slo_period=slo_period or config.slo_period or DEFAULT_SLO_PERIOD,
        rule_files=rule_files,
        alertmanager_files=am_files,
        promtool=_which(promtool, "promtool") if "rules/promtool" not in off else None,
        amtool=_which(amtool, "amtool") if "am/amtool" not in off else None,
        config=config,
    )
    raw: list[tuple[Finding, RuleFile | AlertmanagerFile]] = []
    with ThreadPoolExecutor(max_workers=TOOL_WORKERS) as pool:
        # Only the tools that will judge a file: their versions go into the report.
        used = (("promtool", ctx.promtool if rule_files else None), ("amtool", ctx.amtool if am_files else None))
        versions = {name: pool.submit(tool_version, binary) for name, binary in used if binary is not None}
        # Only the checks of the kinds of file read are imported.
        rule_checks = [c for c in registry.rule_checks() if c.id not in off] if rule_files else []
        am_checks = [c for c in registry.alertmanager_checks() if c.id not in off] if am_files else []
        jobs: list[tuple[Check, list[RuleFile] | list[AlertmanagerFile]]] = [
            *((c, rule_files) for c in rule_checks),
            *((c, am_files) for c in am_checks),
        ]
        for check, files in jobs:
            for file in files:
                work = check.prepare(file, ctx)
                if work is not None:
                    ctx.prepared[(check.id, id(file))] = pool.submit(work)
        ctx.versions = {name: future.result() for name, future in versions.items()}
        for rule_file in rule_files:
            for rule_check in rule_checks:
                raw.extend((f, rule_file) for f in rule_check.check_file(rule_file, ctx))
        for am_file in am_files:
            for am_check in am_checks:
                raw.extend((f, am_file) for f in am_check.check_file(am_file, ctx))
        if prometheus is not None:
            raw.extend(_live(prometheus, ctx, off))
    return _report(raw, ctx, notes, changed, off)


def _live(url: str, ctx: LintContext, off: set[str]) -> list[tuple[Finding, RuleFile]]:
    from fireline.clients.prometheus import PrometheusError  # httpx only when live checks run
    from fireline.lint.checks.live import live_findings

    try:
        return live_findings(url, ctx, off)
    except PrometheusError as exc:
        raise UsageError(f"--prometheus: {exc}") from None


def _report(
    raw: list[tuple[Finding, RuleFile | AlertmanagerFile]],
    ctx: LintContext,
    notes: list[str],
    changed: ChangedLines | None,
    off: set[str],
) -> LintResult:
    """Apply severities from the config, suppression comments and --changed-from; sort."""
    config = ctx.config or LintConfig()
    result = LintResult(findings=[], notes=notes, versions=dict(ctx.versions))
    per_file: dict[int, Suppressions] = {}
    files: list[RuleFile | AlertmanagerFile] = [*ctx.rule_files, *ctx.alertmanager_files]
    for file in files:
        rules = file.rules if isinstance(file, RuleFile) else []
        per_file[id(file)] = found = suppressions(file.source, rules, CHECK_IDS)
        if registry.COMMENT_CHECK_ID in off:
            continue
        for directive in found.directives:
            if directive.unknown:
                comment = registry.comment_check()
                raw.append((comment.unknown(file.name, directive.line, directive.unknown), file))
    spans = {id(f): sorted((r.line, r.last_line) for r in f.rules) for f in ctx.rule_files}
    kept: set[Finding] = set()
    silenced: set[Finding] = set()
    for finding, file in raw:
        if finding.check in config.severity:
            finding = Finding(finding.file, finding.line, finding.check, config.severity[finding.check],
                              finding.message)
        if per_file[id(file)].silences(finding.check, finding.line):
            if finding not in silenced:
                silenced.add(finding)
                result.suppressed[finding.check] += 1
            continue
        if changed is not None and not _touched(changed, file, finding, spans.get(id(file), [])):
            result.unchanged += 1
            continue
        kept.add(finding)
    result.findings = sorted(kept)
    result.suppressed_findings = sorted(silenced)
    return result


def _touched(
    changed: ChangedLines, file: RuleFile | AlertmanagerFile, finding: Finding, spans: list[tuple[int, int]]
) -> bool:
    """On a changed line, or about a rule one of whose lines changed."""
    if changed.touches(file.path, finding.line):
        return True
    at = bisect_right(spans, (finding.line, float("inf"))) - 1  # the last rule starting at or above the line
    if at < 0:
        return False
    first, last = spans[at]
    return first <= finding.line <= last and changed.touches(file.path, first, last)
