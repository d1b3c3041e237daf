"""Reasoning about matcher sets: can two sets match the same alert, does one imply the other.

Labels are independent, so two sets overlap when every label can take a value that satisfies
both sides' matchers on it. Values are tried from the matchers themselves (equality values and
the alternatives of literal regexes like `critical|page`), plus "" (a missing label) and a value no
matcher mentions. When a label has a positive finite constraint the candidates are exhaustive and
the answer is proven; otherwise an unsatisfied label makes the answer unknown (None).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from fireline.routing.matchers import Matcher, MatchOp

_LITERAL_ALTERNATION = re.compile(r"^[A-Za-z0-9_\-:/ ]+(\|[A-Za-z0-9_\-:/ ]+)*$")
_OTHER = "fireline-lint-other-value"


def literal_values(matcher: Matcher) -> list[str] | None:
    """The exact values a = or =~ matcher accepts when it is a finite list, else None."""
    if matcher.op is MatchOp.EQUAL:
        return [matcher.value]
    if matcher.op is MatchOp.REGEX and _LITERAL_ALTERNATION.match(matcher.value):
        return matcher.value.split("|")
    return None


def _candidates(constraints: Sequence[Matcher]) -> set[str]:
    values = {"", _OTHER}
    for m in constraints:
        if m.op in (MatchOp.EQUAL, MatchOp.NOT_EQUAL):
            values.add(m.value)
        elif _LITERAL_ALTERNATION.match(m.value):
            values.update(m.value.split("|"))
    return values


def _satisfiable(name: str, constraints: Sequence[Matcher]) -> bool | None:
    if any(all(m.matches({name: v}) for m in constraints) for v in _candidates(constraints)):
        return True
    exhaustive = any(literal_values(m) is not None for m in constraints)
    return False if exhaustive else None


def overlap(a: Sequence[Matcher], b: Sequence[Matcher]) -> bool | None:
    """True when some alert matches both sets, False when none can, None when undecided."""
    names = {m.name for m in [*a, *b]}
    answers = [_satisfiable(n, [m for m in [*a, *b] if m.name == n]) for n in sorted(names)]
    if any(answer is False for answer in answers):
        return False
    if all(answer is True for answer in answers):
        return True
    return None


def example_labels(a: Sequence[Matcher], b: Sequence[Matcher]) -> dict[str, str]:
    """Labels of an alert matching both sets (call only when overlap() is True)."""
    out: dict[str, str] = {}
    for name in sorted({m.name for m in [*a, *b]}):
        constraints = [m for m in [*a, *b] if m.name == name]
        for value in sorted(_candidates(constraints), key=lambda v: (v == _OTHER, v == "", v)):
            if all(m.matches({name: value}) for m in constraints):
                if value:
                    out[name] = value
                break
    return out


def implies(specific: Sequence[Matcher], general: Sequence[Matcher]) -> bool:
    """True when every alert matching `specific` provably matches `general` too."""
    for wanted in general:
        constraints = [m for m in specific if m.name == wanted.name]
        if wanted in constraints:
            continue
        finite = [v for m in constraints if (v := literal_values(m)) is not None]
        if finite:
            allowed = set(finite[0]).intersection(*finite[1:])
            possible = [v for v in allowed if all(m.matches({wanted.name: v}) for m in constraints)]
            if all(wanted.matches({wanted.name: v}) for v in possible):
                continue
            return False
        if wanted.op is MatchOp.REGEX and wanted.value in (".*", "(.*)"):
            continue
        return False
    return True


def text(matchers: Sequence[Matcher]) -> str:
    return "{" + ", ".join(str(m) for m in matchers) + "}"
