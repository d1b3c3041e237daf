"""Generic webhook body: the notice as JSON with a version, for chat bridges and ticket systems.

Text stays as the alert said it (receivers escape for their own markup); URLs a receiver might turn
into links are only http(s) ones: another runbook_url is sent as null.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fireline.notify.links import safe_url
from fireline.notify.message import Notice

VERSION = "1"


def body(notice: Notice) -> dict[str, Any]:
    data = asdict(notice)
    data["event"] = notice.event.value
    data["runbook_url"] = safe_url(notice.runbook_url)
    data["incident_url"] = safe_url(notice.incident_url)
    data["sections"] = [{"title": title, "text": text} for title, text in notice.sections]
    data["dedup_key"] = notice.dedup_key
    return {"version": VERSION, "source": "fireline", **data}
