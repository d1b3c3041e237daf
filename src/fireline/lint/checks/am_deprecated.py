"""am/deprecated-matcher: match, match_re, source_match(_re), target_match(_re)."""

from __future__ import annotations

from collections.abc import Iterator

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from fireline.lint.files import AlertmanagerFile
from fireline.lint.model import AlertmanagerCheck, Finding, LintContext, Severity
from fireline.routing.tree import Matcher, MatchOp, line_of

# deprecated key -> (the key that replaces it, whether its values are regexes)
REPLACEMENTS = {
    "match": ("matchers", False),
    "match_re": ("matchers", True),
    "source_match": ("source_matchers", False),
    "source_match_re": ("source_matchers", True),
    "target_match": ("target_matchers", False),
    "target_match_re": ("target_matchers", True),
}


def _replacement(key: str, values: CommentedMap) -> str:
    new_key, regex = REPLACEMENTS[key]
    op = MatchOp.REGEX if regex else MatchOp.EQUAL
    items = ", ".join(f"'{Matcher(str(k), op, str(v))}'" for k, v in values.items())
    return f"{new_key}: [{items}]"


class DeprecatedMatcher(AlertmanagerCheck):
    id = "am/deprecated-matcher"
    severity = Severity.WARNING
    summary = "A route or inhibit rule uses match/match_re/source_match/target_match instead of matchers."

    def check_file(self, file: AlertmanagerFile, ctx: LintContext) -> Iterator[Finding]:
        route = file.data.get("route")
        if isinstance(route, CommentedMap):
            yield from self._route(file, route)
        rules = file.data.get("inhibit_rules")
        if isinstance(rules, CommentedSeq):
            for rule in rules:
                if isinstance(rule, CommentedMap):
                    yield from self._keys(file, rule, "inhibit rule")

    def _route(self, file: AlertmanagerFile, route: CommentedMap) -> Iterator[Finding]:
        yield from self._keys(file, route, "route")
        children = route.get("routes")
        if isinstance(children, CommentedSeq):
            for child in children:
                if isinstance(child, CommentedMap):
                    yield from self._route(file, child)

    def _keys(self, file: AlertmanagerFile, node: CommentedMap, what: str) -> Iterator[Finding]:
        for key in node:
            if str(key) not in REPLACEMENTS or not isinstance(node[key], CommentedMap):
                continue
            yield self.finding(
                file.name,
                line_of(node, key),
                f"{what} uses deprecated {key}: (to be removed in Alertmanager 1.0; newer matcher parsers "
                f"warn about it). Write {_replacement(str(key), node[key])} instead.",
            )
