"""Alertmanager label matchers: `name="value"`, `name=~"re"` and the rest, read as Alertmanager 0.25 reads them.

Apart from the route tree (fireline.routing.tree, which re-exports these) so that the rule checks of
`fireline lint` use them without loading ruamel.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class MatchOp(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True)
class Matcher:
    """One label matcher; `deprecated_form` names the old key it came from (match, match_re, ...)."""

    name: str
    op: MatchOp
    value: str
    line: int = field(default=0, compare=False)
    deprecated_form: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.op in (MatchOp.REGEX, MatchOp.NOT_REGEX):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {self.value!r} in {self}: {exc}") from exc

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")  # a missing label is the empty string, as in Alertmanager
        if self.op is MatchOp.EQUAL:
            return actual == self.value
        if self.op is MatchOp.NOT_EQUAL:
            return actual != self.value
        found = re.fullmatch(f"(?:{self.value})", actual) is not None
        return found if self.op is MatchOp.REGEX else not found

    def matches_empty(self) -> bool:
        return self.matches({})

    def __str__(self) -> str:
        # Alertmanager prints name, op and a Go-quoted value (labels.Matcher.String).
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op.value}"{escaped}"'


# pkg/labels/parse.go in Alertmanager 0.25 (the classic parser; 0.27+ also accepts this form).
_MATCHER_RE = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s:.*?))\s*$")


def parse_matcher(text: str, line: int = 0) -> Matcher:
    """Parse `name="value"`, `name=~"re"`, `name!=v` (quotes optional) like Alertmanager 0.25."""
    found = _MATCHER_RE.match(text)
    if found is None:
        raise ValueError(f'bad matcher format: {text!r} (expected name="value", name!="value", name=~"re")')
    name, op, raw = found.group(1), found.group(2), found.group(3)
    expect_trailing_quote = raw.startswith('"')
    if expect_trailing_quote:
        raw = raw[1:]
    value: list[str] = []
    escaped = False
    for i, char in enumerate(raw):
        if escaped:
            escaped = False
            if char == "n":
                value.append("\n")
            elif char in '"\\':
                value.append(char)
            else:  # a spurious escape keeps its backslash
                value.append("\\" + char)
            continue
        if char == "\\":
            if i < len(raw) - 1:
                escaped = True
                continue
            value.append("\\")
        elif char == '"':
            if not expect_trailing_quote or i < len(raw) - 1:
                raise ValueError(f"matcher value contains an unescaped double quote: {text!r}")
            expect_trailing_quote = False
        else:
            value.append(char)
    if expect_trailing_quote:
        raise ValueError(f"matcher value is missing its closing double quote: {text!r}")
    return Matcher(name, MatchOp(op), "".join(value), line=line)


def parse_matchers(text: str, line: int = 0) -> list[Matcher]:
    """Parse one `matchers:` item, which may also be a `{a="b", c=~"d"}` list, split on unquoted commas."""
    body = text.strip()
    body = body.removeprefix("{").removesuffix("}")
    tokens: list[str] = []
    token: list[str] = []
    inside_quotes = escaped = False
    for char in body:
        if char == "," and not inside_quotes:
            tokens.append("".join(token))
            token = []
            continue
        if char == '"':
            if not escaped:
                inside_quotes = not inside_quotes
            else:
                escaped = False
        elif char == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(char)
    last = "".join(token).strip()
    if last:
        tokens.append(last)
    return [parse_matcher(t, line) for t in tokens]
