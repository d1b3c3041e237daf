"""`# fireline disable <check>` comments: silence a check for one rule, one line, or a whole file.

    # fireline disable rules/missing-summary      on the line above a rule, or inside it: that rule
    # fireline file/disable rules/missing-runbook  anywhere: the whole file

Several ids may follow, separated by spaces or commas. In an Alertmanager config (no rules) a
`disable` comment applies to findings on its own line and on the line below it. A comment naming
a check that does not exist is itself reported (lint/comment), so a typo never silences nothing.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

from fireline.lint.files import Rule, SourceText

_COMMENT_RE = re.compile(r"#\s*fireline\s+(?P<scope>file/disable|disable)\b(?P<ids>[^#\n]*)")


@dataclass(frozen=True)
class Directive:
    line: int
    whole_file: bool
    checks: frozenset[str]
    unknown: tuple[str, ...]


@dataclass
class Suppressions:
    """One file's directives, and the rules they attach to."""

    file_checks: set[str] = field(default_factory=set)
    by_line: dict[int, set[str]] = field(default_factory=dict)  # comment line -> checks
    directives: list[Directive] = field(default_factory=list)
    rule_spans: list[tuple[int, int, set[str]]] = field(default_factory=list)  # first, last line, checks

    def silences(self, check: str, line: int) -> bool:
        if check in self.file_checks:
            return True
        if check in self.by_line.get(line, ()) or check in self.by_line.get(line - 1, ()):
            return True
        return any(first <= line <= last and check in checks for first, last, checks in self.rule_spans)


def directives(source: SourceText, known: Collection[str]) -> list[Directive]:
    out: list[Directive] = []
    if "fireline" not in source.text:
        return out  # the common case, without splitting the file into lines
    for number, text in enumerate(source.lines, start=1):
        if "fireline" not in text:
            continue
        found = _COMMENT_RE.search(text)
        if found is None:
            continue
        ids = [part for part in re.split(r"[\s,]+", found.group("ids").strip()) if part]
        out.append(
            Directive(
                line=number,
                whole_file=found.group("scope") == "file/disable",
                checks=frozenset(i for i in ids if i in known),
                unknown=tuple(i for i in ids if i not in known) or (() if ids else ("(no check id)",)),
            )
        )
    return out


def _comment_block_above(source: SourceText, line: int) -> range:
    """The lines of the comment block directly above `line` (1-based), nearest first."""
    first = line
    while first > 1 and source.lines[first - 2].lstrip().startswith("#"):
        first -= 1
    return range(first, line)


def suppressions(source: SourceText, rules: list[Rule], known: Collection[str]) -> Suppressions:
    out = Suppressions(directives=directives(source, known))
    if not out.directives:
        return out
    per_line: dict[int, Directive] = {}
    for directive in out.directives:
        if directive.whole_file:
            out.file_checks |= directive.checks
        else:
            per_line[directive.line] = directive
            out.by_line[directive.line] = set(directive.checks)
    for rule in rules:
        lines = [*_comment_block_above(source, rule.line), *range(rule.line, rule.last_line + 1)]
        checks: set[str] = set()
        for number in lines:
            if number in per_line:
                checks |= per_line[number].checks
        if checks:
            out.rule_spans.append((rule.line, rule.last_line, checks))
    return out
