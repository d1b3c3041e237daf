"""rules/template: label and annotation templates Prometheus cannot load.

Prometheus renders labels and annotations with Go's text/template and its own function map;
a template that does not parse, or calls a function outside that map (`mul`, any sprig
function), makes the whole rule file fail to load.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from fireline.lint.files import Rule, RuleFile
from fireline.lint.model import Finding, LintContext, RuleCheck, Severity

# Prometheus' template function map (template/template.go), 2.x and 3.x (now).
PROMETHEUS_FUNCTIONS = frozenset(
    {
        "humanize",
        "humanize1024",
        "humanizeDuration",
        "humanizePercentage",
        "humanizeTimestamp",
        "query",
        "first",
        "label",
        "value",
        "strvalue",
        "args",
        "reReplaceAll",
        "safeHtml",
        "match",
        "title",
        "toUpper",
        "toLower",
        "graphLink",
        "tableLink",
        "sortByLabel",
        "stripPort",
        "stripDomain",
        "parseDuration",
        "externalURL",
        "pathPrefix",
        "toTime",
        "now",
    }
)
# Go's text/template builtins.
GO_BUILTINS = frozenset(
    {
        "and",
        "or",
        "not",
        "len",
        "index",
        "print",
        "printf",
        "println",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "html",
        "js",
        "urlquery",
        "slice",
        "call",
    }
)
KEYWORDS = frozenset(
    {
        "if",
        "else",
        "end",
        "range",
        "with",
        "define",
        "template",
        "block",
        "break",
        "continue",
        "nil",
        "true",
        "false",
    }
)
# What people reach for from sprig/Helm, and what to write in Prometheus instead.
ALTERNATIVES = {
    "mul": "multiply in the alert expression, or use humanizePercentage for ratios",
    "div": "divide in the alert expression",
    "add": "add in the alert expression",
    "sub": "subtract in the alert expression",
    "round": 'use humanize, or printf "%.2f"',
    "default": "use {{ if }}...{{ else }}...{{ end }}",
    "upper": "use toUpper",
    "lower": "use toLower",
    "trim": "use reReplaceAll",
    "replace": "use reReplaceAll",
    "quote": 'use printf "%q"',
}

_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\\n]|\\.)+')
  | (?P<number>[+-]?(?:0[xX][0-9a-fA-F]+|[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+))
  | (?P<variable>\$[A-Za-z0-9_]*)
  | (?P<field>\.[A-Za-z_][A-Za-z0-9_]*|\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>:=|=|\(|\)|\||,)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class TemplateProblem:
    message: str


def actions(text: str) -> tuple[list[str], list[TemplateProblem]]:
    """The insides of {{ }} actions (trim markers and comments removed), and delimiter problems."""
    out: list[str] = []
    problems: list[TemplateProblem] = []
    position = 0
    while True:
        start = text.find("{{", position)
        if start < 0:
            break
        body = start + 2
        if text.startswith("- ", body):
            body += 2
        if text.startswith("/*", body):
            # A comment runs to */ and may contain braces; Go wants }} (or " -}}") right after it.
            close = text.find("*/", body + 2)
            if close < 0:
                problems.append(TemplateProblem("unclosed comment: {{/* must end with */}}"))
                break
            after = close + 2
            for ending in ("}}", " -}}"):
                if text.startswith(ending, after):
                    position = after + len(ending)
                    break
            else:
                problems.append(TemplateProblem("comment not followed by }}: write {{/* ... */}}"))
                position = after
            continue
        end = text.find("}}", body)
        if end < 0:
            snippet = text[start : start + 30]
            problems.append(TemplateProblem(f"unclosed action: {snippet!r} has no closing }}}}"))
            break
        # a string literal may contain "}}"; keep looking for the real end of the action
        while text[body:end].count('"') % 2 == 1 and text.find("}}", end + 2) >= 0:
            end = text.find("}}", end + 2)
        out.append(text[body:end].removesuffix(" -"))
        position = end + 2
    return out, problems


def check_template(text: str) -> list[TemplateProblem]:
    """Problems that make Go's text/template reject this template under Prometheus' functions."""
    found, problems = actions(text)
    blocks: list[str] = []
    for action in found:
        tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(action):
            match = _TOKEN_RE.match(action, position)
            if match is None:
                problems.append(TemplateProblem(f"unexpected {action[position]!r} in {{{{{action}}}}}"))
                break
            if match.lastgroup != "space":
                tokens.append((match.lastgroup or "", match.group()))
            position = match.end()
        depth = 0
        for _kind, token in tokens:
            if token == "(":
                depth += 1
            elif token == ")":
                depth -= 1
                if depth < 0:
                    problems.append(TemplateProblem(f"unexpected ) in {{{{{action}}}}}"))
                    break
        if depth > 0:
            problems.append(TemplateProblem(f"unclosed ( in {{{{{action}}}}}"))
        if not tokens:
            problems.append(TemplateProblem("empty action {{}}"))
            continue
        first = tokens[0][1]
        if first in ("if", "range", "with", "define", "block"):
            blocks.append(first)
        elif first == "end":
            if not blocks:
                problems.append(TemplateProblem("{{end}} without a matching {{if}}, {{range}} or {{with}}"))
            else:
                blocks.pop()
        elif first == "else" and not blocks:
            problems.append(TemplateProblem("{{else}} outside {{if}}, {{range}} or {{with}}"))
        for kind, token in tokens:
            if kind != "ident" or token in KEYWORDS:
                continue
            if token not in PROMETHEUS_FUNCTIONS and token not in GO_BUILTINS:
                hint = ALTERNATIVES.get(token, "see the Prometheus template reference for the available functions")
                problems.append(TemplateProblem(f'function "{token}" not defined in Prometheus templates ({hint})'))
    if blocks:
        problems.append(TemplateProblem(f"{{{{{blocks[-1]}}}}} has no {{{{end}}}}"))
    return problems


class Template(RuleCheck):
    id = "rules/template"
    severity = Severity.ERROR
    summary = "A label or annotation template does not parse or calls a function Prometheus does not have."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        for section, values in (("labels", rule.labels), ("annotations", rule.annotations)):
            for key, text in values.items():
                if "{{" not in text and "}}" not in text:
                    continue
                for problem in check_template(text):
                    yield self.finding(
                        file.name,
                        rule.line_of(f"{section}.{key}"),
                        f"{rule.name} {section[:-1]} {key}: {problem.message}; Prometheus refuses to load "
                        "a rule file with a broken template.",
                    )
