"""am/amtool: `amtool check-config` on each Alertmanager config, its error placed on a line."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

from fireline.lint.files import AlertmanagerFile
from fireline.lint.model import AlertmanagerCheck, Finding, LintContext, Severity

_LINE_RE = re.compile(r"\bline (\d+)\b")
_QUOTED_RE = re.compile(r'"([^"]+)"')


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
        done = subprocess.run(
            [ctx.amtool, "check-config", str(file.path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode == 0:
            return
        output = done.stdout
        start = output.find("FAILED:")
        error = output[start + len("FAILED:") :] if start >= 0 else output + done.stderr
        source = file.path.read_text(encoding="utf-8").splitlines()
        lines = [line.strip() for line in error.splitlines() if line.strip()]
        head = lines[0] if lines else "check-config failed"
        details = lines[1:] or [head]
        for detail in details:
            message = head if detail == head else f"{head.rstrip(':')}: {detail}"
            # fireline's own reading of the config may know the line when amtool does not say
            fallback = file.config_error.line if file.config_error is not None else 1
            yield self.finding(
                file.name,
                locate(detail, source) or fallback,
                f"amtool check-config: {message}. Alertmanager will refuse to load this config; fix it.",
            )
