"""Generic webhook body: the notice as JSON with a version, for chat bridges and ticket systems."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fireline.notify.message import Notice

VERSION = "1"


def body(notice: Notice) -> dict[str, Any]:
    data = asdict(notice)
    data["event"] = notice.event.value
    data["sections"] = [{"title": title, "text": text} for title, text in notice.sections]
    data["dedup_key"] = notice.dedup_key
    return {"version": VERSION, "source": "fireline", **data}
