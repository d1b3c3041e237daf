"""am/amtool: `amtool check-config` on each Alertmanager config, its error placed on a line.

Every message names the amtool version that judged it. When the project targets a newer
Alertmanager (alertmanager.version in .fireline-lint.yaml) than that amtool, unknown-field errors
are warnings that say so: a field 0.25 does not know (tracing, route labels) may be valid there.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from subprocess import CompletedProcess

from fireline.lint.config import parse_version
from fireline.lint.files import AlertmanagerFile
from fireline.lint.model import AlertmanagerCheck, Finding, LintContext, Severity

_LINE_RE = re.compile(r"\bline (\d+)\b")
_QUOTED_RE = re.compile(r'"([^"]+)"')
_UNKNOWN_FIELD_RE = re.compile(r"field \S+ not found in type")


def older_than_target(amtool_version: str, target: str | None) -> bool:
    if target is None:
        return False
    have, want = parse_version(amtool_version), parse_version(target)
    return have is not None and want is not None and have[:2] < want[:2]


def locate(text: str, source: list[str]) -> int:
    """The line an error message is about: 'line N' when given, else the first line naming a quoted word."""
    found = _LINE_RE.search(text)
    if found is not None:
        return int(found.group(1))
    for word in _QUOTED_RE.findall(text):
        for number, line in enumerate(source, start=1):
            if word in line and not line.lstrip().startswith("#"):
                return number
    return 0


class Amtool(AlertmanagerCheck):
    id = "am/amtool"
    severity = Severity.ERROR
    summary = "amtool check-config rejects the file: Alertmanager would not load it."

    def prepare(self, file: AlertmanagerFile, ctx: LintContext) -> Callable[[], CompletedProcess[str]] | None:
        amtool = ctx.amtool
        return None if amtool is None else lambda: self._run(amtool, file)

    def _run(self, amtool: str, file: AlertmanagerFile) -> CompletedProcess[str]:
        return subprocess.run(
            [amtool, "check-config", str(file.path)], capture_output=True, text=True, timeout=60, check=False
        )

    def check_file(self, file: AlertmanagerFile, ctx: LintContext) -> Iterator[Finding]:
        if ctx.amtool is None:
            yield self.finding(
                file.name,
                1,
                "amtool is not installed, so Alertmanager's own validation was skipped; install "
                "prometheus-alertmanager (it ships amtool) to run it.",
                Severity.INFO,
            )
            if file.config_error is not None:
                yield self.finding(file.name, file.config_error.line, f"{file.config_error.message}.")
            return
        done = ctx.result_of(self.id, file)
        if done is None:
            done = self._run(ctx.amtool, file)
        if done.returncode == 0:
            return
        output = done.stdout
        start = output.find("FAILED:")
        error = output[start + len("FAILED:") :] if start >= 0 else output + done.stderr
        source = file.path.read_text(encoding="utf-8").splitlines()
        lines = [line.strip() for line in error.splitlines() if line.strip()]
        head = lines[0] if lines else "check-config failed"
        details = lines[1:] or [head]
        version = ctx.versions.get("amtool", "")
        target = ctx.config.alertmanager_version if ctx.config is not None else None
        older = older_than_target(version, target)
        judge = f"amtool {version}" if version else "amtool"
        for detail in details:
            message = head if detail == head else f"{head.rstrip(':')}: {detail}"
            # fireline's own reading of the config may know the line when amtool does not say
            fallback = file.config_error.line if file.config_error is not None else 1
            line = locate(detail, source) or fallback
            if older and _UNKNOWN_FIELD_RE.search(detail):
                yield self.finding(
                    file.name,
                    line,
                    f"{judge} check-config: {message}. This amtool is older than alertmanager.version {target}, "
                    f"which may know this field: check with amtool {target} before relying on it; Alertmanager "
                    f"{version} would refuse it.",
                    Severity.WARNING,
                )
                continue
            refuses = f"Alertmanager {version}" if version else "Alertmanager"
            yield self.finding(
                file.name, line, f"{judge} check-config: {message}. {refuses} will refuse to load this config; fix it."
            )
