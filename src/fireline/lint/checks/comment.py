"""lint/comment: a `# fireline disable` comment naming no check, or a check that does not exist."""

from __future__ import annotations

from fireline.lint.model import Check, Finding, Severity


class BadComment(Check):
    id = "lint/comment"
    severity = Severity.WARNING
    summary = "A `# fireline disable` comment names no check or an unknown one, so it silences nothing."

    def unknown(self, file: str, line: int, ids: tuple[str, ...]) -> Finding:
        return self.finding(
            file,
            line,
            f"fireline disable comment: {', '.join(ids)} is not a check id, so this comment silences nothing. "
            "Write `# fireline disable <check id>` with an id from docs/checks.md.",
        )
