"""am/undefined-receiver, am/unused-receiver and am/no-send-resolved."""

from __future__ import annotations

from collections.abc import Iterator

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from fireline.lint.files import AlertmanagerFile
from fireline.lint.model import AlertmanagerCheck, Finding, LintContext, Severity
from fireline.routing.tree import line_of

# Integrations whose send_resolved defaults to false in Alertmanager; the others default to true.
RESOLVED_OFF_BY_DEFAULT = ("slack", "email", "wechat")


class UndefinedReceiver(AlertmanagerCheck):
    id = "am/undefined-receiver"
    severity = Severity.ERROR
    summary = "A route names a receiver that is not defined."

    def check_file(self, file: AlertmanagerFile, ctx: LintContext) -> Iterator[Finding]:
        if file.config is None:
            return
        names = {r.name for r in file.config.receivers}
        for route in file.config.route.walk():
            if route.declared_receiver is not None and route.declared_receiver not in names:
                known = ", ".join(sorted(names)) or "none"
                yield self.finding(
                    file.name,
                    route.receiver_line or route.line,
                    f"receiver {route.declared_receiver!r} is not defined (defined: {known}): Alertmanager "
                    "refuses the whole config. Define it under receivers: or fix the name.",
                )


class UnusedReceiver(AlertmanagerCheck):
    id = "am/unused-receiver"
    severity = Severity.WARNING
    summary = "A receiver is defined but no route sends to it."

    def check_file(self, file: AlertmanagerFile, ctx: LintContext) -> Iterator[Finding]:
        if file.config is None:
            return
        used = {route.receiver for route in file.config.route.walk()}
        for receiver in file.config.receivers:
            if receiver.name not in used:
                yield self.finding(
                    file.name,
                    receiver.line,
                    f"receiver {receiver.name!r} is defined but no route sends to it: whoever expects these "
                    "notifications gets none. Route alerts to it, or delete it.",
                )


class NoSendResolved(AlertmanagerCheck):
    id = "am/no-send-resolved"
    severity = Severity.WARNING
    summary = "A receiver does not send resolved notifications (Slack and email default to off)."

    def check_file(self, file: AlertmanagerFile, ctx: LintContext) -> Iterator[Finding]:
        receivers = file.data.get("receivers")
        if not isinstance(receivers, CommentedSeq):
            return
        for receiver in receivers:
            if not isinstance(receiver, CommentedMap):
                continue
            for key, items in receiver.items():
                kind = str(key).removesuffix("_configs")
                if not str(key).endswith("_configs") or not isinstance(items, CommentedSeq):
                    continue
                for i, item in enumerate(items):
                    if not isinstance(item, CommentedMap):
                        continue
                    value = item.get("send_resolved")
                    if value is False or (value is None and kind in RESOLVED_OFF_BY_DEFAULT):
                        why = "is set to false" if value is False else f"defaults to false for {kind}"
                        yield self.finding(
                            file.name,
                            line_of(item, "send_resolved") if value is False else line_of(items, i),
                            f"receiver {receiver.get('name')!r}: {kind} send_resolved {why}, so nobody hears "
                            "that the problem is over and people keep working a resolved alert. Set "
                            "send_resolved: true.",
                        )
