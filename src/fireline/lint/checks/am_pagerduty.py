"""am/pagerduty-key-version: an Events API v1 key with the v2 URL, or a v2 key with the v1 URL.

Alertmanager uses Events API v1 whenever service_key(_file) is set, posting to the fixed v1
endpoint, and v2 (routing_key) otherwise, posting to `url` (default the v2 enqueue endpoint).
"""

from __future__ import annotations

from collections.abc import Iterator

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from fireline.lint.files import AlertmanagerFile
from fireline.lint.model import AlertmanagerCheck, Finding, LintContext, Severity
from fireline.routing.tree import line_of

V2_MARK = "/v2/enqueue"
V1_MARKS = ("generic/2010-04-15", "create_event.json")


class PagerDutyKeyVersion(AlertmanagerCheck):
    id = "am/pagerduty-key-version"
    severity = Severity.ERROR
    summary = "A PagerDuty receiver mixes Events API versions (service_key with the v2 URL, or the reverse)."

    def check_file(self, file: AlertmanagerFile, ctx: LintContext) -> Iterator[Finding]:
        glob = file.data.get("global")
        global_url = str(glob.get("pagerduty_url", "")) if isinstance(glob, CommentedMap) else ""
        receivers = file.data.get("receivers")
        if not isinstance(receivers, CommentedSeq):
            return
        for receiver in receivers:
            items = receiver.get("pagerduty_configs") if isinstance(receiver, CommentedMap) else None
            if not isinstance(items, CommentedSeq):
                continue
            for i, item in enumerate(items):
                if isinstance(item, CommentedMap):
                    yield from self._config(file, str(receiver.get("name")), item, line_of(items, i), global_url)

    def _config(
        self, file: AlertmanagerFile, name: str, item: CommentedMap, line: int, global_url: str
    ) -> Iterator[Finding]:
        url = str(item.get("url", "")) or global_url
        v1_key = next((k for k in ("service_key", "service_key_file") if item.get(k)), None)
        v2_key = next((k for k in ("routing_key", "routing_key_file") if item.get(k)), None)
        if v1_key and V2_MARK in url:
            yield self.finding(
                file.name,
                line_of(item, v1_key),
                f"receiver {name!r}: {v1_key} is an Events API v1 key but the url is the v2 endpoint "
                f"({url}): Alertmanager sends v1 events to the v1 endpoint whatever url says, and a v2 "
                "integration key is rejected there, so pages never arrive. Use routing_key_file with an "
                "Events API v2 integration key.",
            )
        elif v1_key:
            yield self.finding(
                file.name,
                line_of(item, v1_key),
                f"receiver {name!r}: {v1_key} uses PagerDuty's legacy Events API v1. Create an Events API "
                "v2 integration and use routing_key_file.",
                Severity.WARNING,
            )
        if v2_key and any(mark in url for mark in V1_MARKS):
            yield self.finding(
                file.name,
                line_of(item, "url") if item.get("url") else line,
                f"receiver {name!r}: {v2_key} is an Events API v2 key but the url is the v1 endpoint "
                f"({url}): the v1 endpoint rejects v2 events. Remove url (the default is "
                "https://events.pagerduty.com/v2/enqueue).",
            )
