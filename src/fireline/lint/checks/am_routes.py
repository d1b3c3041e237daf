"""am/unreachable-route and am/shadowed-route: earlier siblings without continue take the alerts.

Alertmanager stops at the first matching child unless it has `continue: true`, so a later sibling
never sees the alerts an earlier one matches: all of them (unreachable) or some (shadowed).
"""

from __future__ import annotations

from collections.abc import Iterator

from fireline.lint.files import AlertmanagerFile
from fireline.lint.matchers import example_labels, implies, overlap, text
from fireline.lint.model import AlertmanagerCheck, Finding, LintContext, Severity


def _labels(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in labels.items()) or "any labels"


class UnreachableRoute(AlertmanagerCheck):
    id = "am/unreachable-route"
    severity = Severity.ERROR
    summary = "A route never receives an alert: an earlier sibling without continue matches all of its alerts."

    def check_file(self, file: AlertmanagerFile, ctx: LintContext) -> Iterator[Finding]:
        if file.config is None:
            return
        for parent in file.config.route.walk():
            for j, route in enumerate(parent.children):
                earlier = next(
                    (s for s in parent.children[:j] if not s.continue_ and implies(route.matchers, s.matchers)),
                    None,
                )
                if earlier is None:
                    continue
                yield self.finding(
                    file.name,
                    route.line,
                    f"route {text(route.matchers)} (receiver {route.receiver}) is unreachable: the route at "
                    f"line {earlier.line} {text(earlier.matchers)} has no continue and matches every alert "
                    "this one does. Move this route above it, or add continue: true to that route.",
                )


class ShadowedRoute(AlertmanagerCheck):
    id = "am/shadowed-route"
    severity = Severity.WARNING
    summary = "A route misses some of its alerts: an earlier sibling without continue takes those it also matches."

    def check_file(self, file: AlertmanagerFile, ctx: LintContext) -> Iterator[Finding]:
        if file.config is None:
            return
        for parent in file.config.route.walk():
            for j, route in enumerate(parent.children):
                earlier = parent.children[:j]
                if any(not s.continue_ and implies(route.matchers, s.matchers) for s in earlier):
                    continue  # am/unreachable-route reports it
                for sibling in earlier:
                    if sibling.continue_ or overlap(sibling.matchers, route.matchers) is not True:
                        continue
                    if implies(sibling.matchers, route.matchers):
                        continue  # specific before general (or a final catch-all): the intended order
                    example = example_labels(sibling.matchers, route.matchers)
                    yield self.finding(
                        file.name,
                        route.line,
                        f"route {text(route.matchers)} (receiver {route.receiver}) never receives alerts "
                        f"that also match the route at line {sibling.line} {text(sibling.matchers)}, which "
                        f"comes first and has no continue (e.g. {_labels(example)} goes only to "
                        f"{sibling.receiver}). Add continue: true to line {sibling.line}'s route, or put the "
                        "more specific route first.",
                    )
                    break
