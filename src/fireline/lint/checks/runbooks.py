"""runbooks/missing-file and runbooks/missing-section: runbook_url pointing at local Markdown.

A runbook_url without a scheme (or file://) is a path, resolved against the rule file's directory
and then its parent (a bundle keeps prometheus/ and runbooks/ side by side). Remote URLs are not
fetched: lint runs offline.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

from fireline.lint.files import Rule, RuleFile
from fireline.lint.model import Finding, LintContext, RuleCheck, Severity

# Required headings (the generator's REQUIRED_SECTIONS) match case-insensitively by containment.
_HEADING_RE = re.compile(r"^##+\s+(.+?)\s*#*\s*$", re.MULTILINE)


def local_runbook(rule: Rule) -> str | None:
    """The path part of a local runbook_url, or None for remote or templated links."""
    url = rule.annotations.get("runbook_url", "").strip()
    if not url or "{{" in url:
        return None
    parts = urlsplit(url)
    if parts.scheme == "file":
        return unquote(parts.path)
    if parts.scheme or parts.netloc:
        return None
    return unquote(parts.path) or None


def candidates(path: str, file: RuleFile) -> list[Path]:
    target = Path(path)
    if target.is_absolute():
        return [target]
    base = file.path.parent
    return [base / target, base.parent / target]


def resolve(path: str, file: RuleFile) -> Path | None:
    return next((p for p in candidates(path, file) if p.is_file()), None)


def missing_sections(markdown: str) -> list[str]:
    # The generator's list, imported only when a local runbook exists: it pulls in the whole
    # generation chain (pydantic spec models, Jinja), which `fireline lint` must not pay at start.
    from fireline.runbooks.generate import REQUIRED_SECTIONS

    headings = [h.lower() for h in _HEADING_RE.findall(markdown)]
    return [s for s in REQUIRED_SECTIONS if not any(s.lower() in h for h in headings)]


class MissingRunbookFile(RuleCheck):
    id = "runbooks/missing-file"
    severity = Severity.ERROR
    summary = "An alert's runbook_url is a local path to a file that does not exist."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        path = local_runbook(rule) if rule.alert else None
        if path is None or resolve(path, file) is not None:
            return
        tried = " or ".join(str(p) for p in candidates(path, file))
        yield self.finding(
            file.name,
            rule.line_of("annotations.runbook_url"),
            f"{rule.alert}'s runbook {path} does not exist (looked for {tried}): the link is dead when "
            "someone needs it. Write the runbook (fireline generate writes one per alert) or fix the path.",
        )


class MissingRunbookSection(RuleCheck):
    id = "runbooks/missing-section"
    severity = Severity.WARNING
    summary = "A local runbook lacks one of the required sections (triage, investigation, mitigation, ...)."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        path = local_runbook(rule) if rule.alert else None
        found = resolve(path, file) if path else None
        if found is None:
            return
        try:
            text = found.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            yield self.finding(file.name, rule.line_of("annotations.runbook_url"), f"cannot read {found}: {exc}")
            return
        missing = missing_sections(text)
        if missing:
            yield self.finding(
                file.name,
                rule.line_of("annotations.runbook_url"),
                f"{rule.alert}'s runbook {path} has no section for: {', '.join(missing)}. Add a '## ' "
                "heading for each, so the responder finds triage, mitigation and follow-up steps in the "
                "same place in every runbook.",
            )
